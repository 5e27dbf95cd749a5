import type { LayerReport } from '../analyze/index.js';
import { humanSize } from './format.js';
import { clip, escapeText } from './html-escape.js';
import { stepLabel } from '../analyze/index.js';

const WIDTH = 960;
const LABEL = 190;
const BARS = 560;
const ROW = 24;
const BAR = 16;
const TOP = 28;

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/**
 * The layers as horizontal stacked bars, one `<g class="bar" data-layer="N">` a layer: the bytes still
 * visible in the image and the bytes a later layer hides, on one linear scale, labelled with the layer's
 * step and sizes.
 */
export function layerChartSvg(layers: readonly LayerReport[]): string {
  const max = Math.max(1, ...layers.map((l) => l.sizeBytes));
  const height = TOP + layers.length * ROW + 8;
  const scale = (bytes: number): number => (bytes <= 0 ? 0 : Math.max(1, (bytes / max) * BARS));
  const rows = layers.map((l, i) => {
    const hidden = Math.min(l.hiddenBytes, l.sizeBytes);
    const keptW = scale(l.sizeBytes - hidden);
    const hiddenW = hidden > 0 ? scale(hidden) : 0;
    const y = TOP + i * ROW;
    const step = oneLine(stepLabel(l.createdBy));
    const label = `${l.index}${l.base ? ' base' : ''}  ${clip(step, 22)}`;
    const value = `${humanSize(l.sizeBytes)}${hidden > 0 ? ` · ${humanSize(hidden)} hidden later` : ''}`;
    const title = [
      `Layer ${l.index}${l.base ? ' (base)' : ''}: ${humanSize(l.sizeBytes)}, ${humanSize(hidden)} hidden later`,
      `${clip(step, 300)}${l.line ? ` (${l.line})` : ''}`,
    ];
    return (
      `<g class="bar${l.base ? ' base' : ''}" data-layer="${l.index}" transform="translate(0 ${y})">` +
      `<title>${title.map(escapeText).join('\n')}</title>` +
      `<text class="label" x="${LABEL - 8}" y="${BAR - 4}" text-anchor="end">${escapeText(label)}</text>` +
      `<rect class="track" x="${LABEL}" y="0" width="${BARS}" height="${BAR}" rx="2"/>` +
      `<rect class="kept" x="${LABEL}" y="0" width="${keptW.toFixed(1)}" height="${BAR}" data-bytes="${l.sizeBytes - hidden}"/>` +
      `<rect class="hidden" x="${(LABEL + keptW).toFixed(1)}" y="0" width="${hiddenW.toFixed(1)}" height="${BAR}" data-bytes="${hidden}"/>` +
      `<text class="value" x="${LABEL + BARS + 8}" y="${BAR - 4}">${escapeText(value)}</text>` +
      `</g>`
    );
  });
  const legend =
    `<g class="legend" transform="translate(${LABEL} 4)">` +
    `<rect class="kept" x="0" y="0" width="12" height="12"/><text x="18" y="10">in the final image</text>` +
    `<rect class="hidden" x="140" y="0" width="12" height="12"/><text x="158" y="10">hidden by a later layer (wasted)</text>` +
    `</g>`;
  return (
    `<svg id="chart-svg" class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="Layer sizes, with the bytes later layers hide">` +
    legend +
    rows.join('') +
    `</svg>`
  );
}
