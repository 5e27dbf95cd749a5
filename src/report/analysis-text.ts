import type { Analysis, CiVerdict } from '../analyze/index.js';
import { humanSize, renderTable, shortId } from './format.js';
import { stepLabel } from '../analyze/index.js';

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const percent = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(2)} %`);
const step = (layer: number, createdBy: string, line?: string): string =>
  `layer ${layer}: ${clip(stepLabel(createdBy).replace(/\s+/g, ' '), 90)}${line ? ` (${line})` : ''}`;

/** The terminal view: layers, dive's numbers, shale's hidden-bytes accounting, top items, CI verdict. */
export function renderAnalysisText(a: Analysis, top = 10): string {
  const out: string[] = [];
  out.push(`Image ${a.image} (${shortId(a.id)}): ${humanSize(a.sizeBytes)} in ${a.layers.length} layers${a.baseLayers ? `, the first ${a.baseLayers} from the base image` : ''}`);
  out.push('');
  out.push(
    renderTable(
      ['LAYER', 'SIZE', 'STORED', 'ADDED', 'CHANGED', 'REMOVED', 'HIDDEN LATER', 'CREATED BY'],
      a.layers.map((l) => [
        `${l.index}${l.base ? ' (base)' : ''}`,
        humanSize(l.sizeBytes),
        humanSize(l.compressedBytes),
        String(l.added),
        String(l.modified),
        String(l.removed),
        humanSize(l.hiddenBytes),
        clip(stepLabel(l.createdBy).replace(/\s+/g, ' '), 60) + (l.line ? ` (${l.line})` : ''),
      ]),
    ).trimEnd(),
  );
  out.push('');
  out.push(`dive:  efficiency ${percent(a.dive.efficiency)}, wasted ${humanSize(a.dive.wastedBytes)}, user wasted ${percent(a.dive.userWastedPercent)}`);
  out.push(
    `waste: ${humanSize(a.waste.hiddenBytes)} hidden by later layers (${humanSize(a.waste.userHiddenBytes)} in your layers, ${humanSize(a.waste.baseHiddenBytes)} inside the base)`,
  );
  if (a.waste.items.length > 0) {
    out.push('');
    out.push(`Top hidden items${a.waste.items.length > top ? ` (${top} of ${a.waste.items.length})` : ''}:`);
    for (const i of a.waste.items.slice(0, top)) {
      out.push(`  ${humanSize(i.bytes).padStart(8)}  ${i.kind.padEnd(11)} ${i.path}${i.files > 1 ? ` (${i.files} files)` : ''}`);
      out.push(`            made by   ${step(i.layer, i.createdBy, i.createdLine)}`);
      out.push(`            hidden by ${step(i.hiddenByLayer, i.hiddenBy, i.hiddenLine)}`);
      out.push(`            fix: ${i.fix}`);
    }
  }
  if (a.ci) out.push('', renderCiVerdict(a.ci));
  return out.join('\n');
}

/** One line per rule, as dive prints them, then the tally. */
export function renderCiVerdict(ci: CiVerdict): string {
  const lines = ['CI rules:'];
  for (const r of ci.rules) lines.push(`  ${r.status}: ${r.name}${r.message ? `: ${r.message}` : ''}`);
  const count = (s: string) => ci.rules.filter((r) => r.status === s).length;
  lines.push(
    `Result:${ci.pass ? 'PASS' : 'FAIL'} [Total:${ci.rules.length}] [Passed:${count('PASS')}] [Failed:${count('FAIL')}] [Warn:0] [Skipped:${count('SKIP')}]`,
  );
  return lines.join('\n');
}
