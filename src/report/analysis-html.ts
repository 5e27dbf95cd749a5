import type { Analysis, CiVerdict, WasteItem } from '../analyze/index.js';
import { fileTreeHtml } from './file-tree-html.js';
import { humanSize } from './format.js';
import { REPORT_JS } from './html-assets.js';
import { htmlPage } from './html-page.js';
import { clip, escapeHtml, escapeText, withCode } from './html-escape.js';
import { layerChartSvg } from './layer-chart.js';
import { stepLabel } from '../analyze/index.js';

/** Most hidden items the page lists (the rest are counted). */
const TOP_ITEMS = 100;

const percent = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(2)} %`);
const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** A step as a cell: the Dockerfile instruction (clipped, full text on hover) and its `Dockerfile:LINE`. */
function stepCell(layer: number | null, createdBy: string, line?: string): string {
  const label = oneLine(stepLabel(createdBy));
  const shown = clip(label, 140);
  return (
    (layer === null ? '' : `<span class="line">layer ${layer}</span> `) +
    `<code${shown === label ? '' : ` title="${escapeText(clip(label, 2000))}"`}>${escapeText(shown || '(no history)')}</code>` +
    (line ? ` <span class="line">${escapeText(line)}</span>` : '')
  );
}

function card(key: string, label: string, value: string, cls = ''): string {
  return `<div class="card${cls ? ` ${cls}` : ''}" data-metric="${key}"><div class="k">${escapeHtml(label)}</div><div class="v">${escapeHtml(value)}</div></div>`;
}

function header(a: Analysis): string {
  const user = a.layers.length - a.baseLayers;
  return (
    `<header id="summary"><h1>${escapeText(a.image)}</h1>` +
    `<p class="sub">Image ID <code id="image-id">${escapeText(a.id)}</code></p>` +
    `<div class="cards">` +
    card('size', 'Total size', humanSize(a.sizeBytes)) +
    card('layers', 'Layers', String(a.layers.length)) +
    card('base-layers', 'Base layers', a.baseLayers ? `${a.baseLayers} (${user} yours)` : 'none known') +
    `</div>` +
    `<div class="group-title">dive's metrics</div><div class="cards" id="dive">` +
    card('efficiency', 'Efficiency', percent(a.dive.efficiency)) +
    card('wasted-bytes', 'Wasted bytes', humanSize(a.dive.wastedBytes), a.dive.wastedBytes > 0 ? 'waste' : '') +
    card('user-wasted-percent', 'User wasted', percent(a.dive.userWastedPercent)) +
    `</div>` +
    `<div class="group-title">Hidden by later layers</div><div class="cards" id="hidden">` +
    card('hidden-bytes', 'Hidden bytes', humanSize(a.waste.hiddenBytes), a.waste.hiddenBytes > 0 ? 'waste' : '') +
    card('user-hidden-bytes', 'In your layers', humanSize(a.waste.userHiddenBytes), a.waste.userHiddenBytes > 0 ? 'waste' : '') +
    card('base-hidden-bytes', 'Inside the base', humanSize(a.waste.baseHiddenBytes)) +
    `</div></header>`
  );
}

function layersTable(a: Analysis): string {
  const rows = a.layers.map(
    (l) =>
      `<tr data-layer="${l.index}"${l.base ? ' class="base"' : ''}>` +
      `<td class="num">${l.index}</td>` +
      `<td class="num">${humanSize(l.sizeBytes)}</td>` +
      `<td class="num">${humanSize(l.compressedBytes)}</td>` +
      `<td class="num">${l.added}</td><td class="num">${l.modified}</td><td class="num">${l.removed}</td>` +
      `<td class="num${l.hiddenBytes > 0 ? ' waste' : ''}">${humanSize(l.hiddenBytes)}</td>` +
      `<td class="step">${stepCell(null, l.createdBy, l.line)}</td></tr>`,
  );
  return (
    `<section><h2>Layers</h2><div class="panel"><table id="layers"><thead><tr>` +
    `<th class="num">Layer</th><th class="num">Size</th><th class="num">Stored</th><th class="num">Added</th>` +
    `<th class="num">Changed</th><th class="num">Removed</th><th class="num">Hidden later</th><th>Created by</th>` +
    `</tr></thead><tbody>${rows.join('')}</tbody></table></div></section>`
  );
}

function itemRow(i: WasteItem): string {
  return (
    `<tr class="item" data-layer="${i.layer}" data-hidden-by="${i.hiddenByLayer}" data-kind="${i.kind}">` +
    `<td class="path"><code>${escapeText(i.path)}</code>${i.files > 1 ? ` <span class="line">(${i.files} files)</span>` : ''}</td>` +
    `<td class="num waste" data-bytes="${i.bytes}">${humanSize(i.bytes)}</td>` +
    `<td><span class="kind">${escapeText(i.kind)}</span></td>` +
    `<td class="step">${stepCell(i.layer, i.createdBy, i.createdLine)}</td>` +
    `<td class="step">${stepCell(i.hiddenByLayer, i.hiddenBy, i.hiddenLine)}</td>` +
    `<td class="fix">${withCode(i.fix)}</td></tr>`
  );
}

function hiddenItems(a: Analysis): string {
  const items = a.waste.items;
  const body =
    items.length === 0
      ? '<p class="note">Nothing is hidden: no layer carries bytes that a later layer deletes or replaces.</p>'
      : `<table id="hidden-items-table"><thead><tr><th>Path</th><th class="num">Bytes</th><th>Kind</th><th>Made by</th><th>Hidden by</th><th>Fix</th></tr></thead>` +
        `<tbody>${items.slice(0, TOP_ITEMS).map(itemRow).join('')}</tbody></table>` +
        (items.length > TOP_ITEMS ? `<p class="note">${items.length - TOP_ITEMS} smaller items not shown.</p>` : '');
  return `<section id="hidden-items"><h2>Top hidden items</h2><div class="panel">${body}</div></section>`;
}

/** A rule's measured value: bytes as sizes, ratios to four places. */
const ruleValue = (name: string, actual: number | null): string =>
  actual === null ? 'n/a' : /bytes/i.test(name) ? humanSize(actual) : String(Number(actual.toFixed(4)));

function ciSection(ci: CiVerdict): string {
  const rows = ci.rules.map(
    (r) =>
      `<tr data-rule="${escapeText(r.name)}" data-status="${r.status}"><td class="status-${r.status}"><b>${r.status}</b></td>` +
      `<td><code>${escapeText(r.name)}</code></td><td>${escapeText(r.limit)}</td>` +
      `<td class="num">${escapeText(ruleValue(r.name, r.actual))}</td><td>${escapeText(r.message)}</td></tr>`,
  );
  return (
    `<section id="ci" data-pass="${ci.pass}"><h2>CI verdict: <span class="verdict ${ci.pass ? 'pass' : 'fail'}">${ci.pass ? 'PASS' : 'FAIL'}</span></h2>` +
    `<div class="panel"><table><thead><tr><th>Status</th><th>Rule</th><th>Limit</th><th class="num">Actual</th><th>Message</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table></div></section>`
  );
}

function fileTree(a: Analysis): string {
  const controls =
    `<div class="tree-controls" id="tree-controls" hidden>` +
    `<input type="search" id="tree-filter" placeholder="Filter by path" aria-label="Filter by path">` +
    ['A', 'M', 'D'].map((c) => `<label><input type="checkbox" data-change="${c}" checked> <span class="mark mark-${c}">${c}</span></label>`).join('') +
    `<button type="button" id="tree-expand">Expand all</button><button type="button" id="tree-collapse">Collapse all</button>` +
    `<span class="note" id="tree-status"></span></div>`;
  return `<section><h2>Files by layer</h2>${controls}<div id="file-tree">${fileTreeHtml(a.layers)}</div></section>`;
}

/**
 * The analysis as one self-contained page: inline style, SVG and script only (a Content-Security-Policy
 * forbids anything else, down to the hashes of the page's own style and script), every string from the
 * image escaped. The page is complete without the script, which only adds the file tree's filter.
 */
export function renderAnalysisHtml(a: Analysis): string {
  const body = [
    header(a),
    `<section id="chart"><h2>Layer sizes</h2><div class="panel">${layerChartSvg(a.layers)}</div></section>`,
    layersTable(a),
    hiddenItems(a),
    a.ci ? ciSection(a.ci) : '',
    fileTree(a),
    '<footer>Made by <b>shale analyze</b>. Sizes are content bytes (regular files and symlink targets) in powers of 1000; stored sizes are the blobs as kept.</footer>',
  ].join('\n');
  return htmlPage({ title: `${a.image}: shale analyze`, body, script: REPORT_JS });
}
