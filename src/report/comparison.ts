import type { ImageComparison } from '../analyze/index.js';
import { humanSize } from './format.js';
import { escapeHtml, escapeText } from './html-escape.js';
import { htmlPage } from './html-page.js';

const signed = (bytes: number): string => `${bytes >= 0 ? '+' : '-'}${humanSize(Math.abs(bytes))}`;
const summary = (c: ImageComparison): string =>
  `${c.a} -> ${c.b}: ${c.added.length} added, ${c.removed.length} removed, ${c.changed.length} changed, ${signed(c.deltaBytes)}`;

/** `analyze --compare` for a terminal: a summary line, then `A`/`D`/`C` lines as `docker diff` marks them. */
export function renderComparisonText(c: ImageComparison): string {
  const lines = [summary(c)];
  for (const a of c.added) lines.push(`A ${a.path} (${humanSize(a.size)})`);
  for (const r of c.removed) lines.push(`D ${r.path} (${humanSize(r.size)})`);
  for (const ch of c.changed) lines.push(`C ${ch.path} (${humanSize(ch.before)} -> ${humanSize(ch.after)}; ${ch.what.join(', ')})`);
  return lines.join('\n');
}

function card(key: string, label: string, value: string): string {
  return `<div class="card" data-metric="${key}"><div class="k">${escapeHtml(label)}</div><div class="v">${escapeHtml(value)}</div></div>`;
}

/** One table of paths; `mark` is the change letter the file tree uses (A, M, D). */
function pathTable(id: string, title: string, mark: 'A' | 'M' | 'D', head: string[], rows: string[][]): string {
  const body =
    rows.length === 0
      ? `<p class="note">None.</p>`
      : `<table id="${id}"><thead><tr>${head.map((h, i) => `<th${i > 0 ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>` +
        rows.map((r) => `<tr><td class="path"><span class="mark mark-${mark}">${mark}</span> <code>${r[0]}</code></td>${r.slice(1).map((v) => `<td class="num">${v}</td>`).join('')}</tr>`).join('') +
        `</tbody></table>`;
  return `<section><h2>${escapeHtml(title)} (${rows.length})</h2><div class="panel">${body}</div></section>`;
}

/** `analyze --compare --format html`: the same comparison as one self-contained page (no script). */
export function renderComparisonHtml(c: ImageComparison): string {
  const body = [
    `<header id="summary"><h1>${escapeText(c.a)} → ${escapeText(c.b)}</h1>`,
    `<p class="sub">${escapeText(summary(c))}</p><div class="cards">`,
    card('added', 'Added', String(c.added.length)),
    card('removed', 'Removed', String(c.removed.length)),
    card('changed', 'Changed', String(c.changed.length)),
    card('delta-bytes', 'Size change', signed(c.deltaBytes)),
    `</div></header>`,
    pathTable('added', 'Added', 'A', ['Path', 'Size'], c.added.map((a) => [escapeText(a.path), humanSize(a.size)])),
    pathTable('removed', 'Removed', 'D', ['Path', 'Size'], c.removed.map((r) => [escapeText(r.path), humanSize(r.size)])),
    pathTable(
      'changed',
      'Changed',
      'M',
      ['Path', 'Before', 'After', 'What'],
      c.changed.map((ch) => [escapeText(ch.path), humanSize(ch.before), humanSize(ch.after), escapeText(ch.what.join(', '))]),
    ),
    '<footer>Made by <b>shale analyze --compare</b>. Sizes are content bytes in powers of 1000.</footer>',
  ].join('\n');
  return htmlPage({ title: `${c.a} -> ${c.b}: shale analyze --compare`, body });
}
