import { compareStrings } from '../internal/compare.js';
import type { FileChange, LayerReport } from '../analyze/index.js';
import { humanSize } from './format.js';
import { clip, escapeText } from './html-escape.js';
import { stepLabel } from '../analyze/index.js';

interface Dir {
  name: string;
  path: string;
  dirs: Map<string, Dir>;
  files: { name: string; change: FileChange }[];
  /** Bytes this layer puts below the directory (added and changed entries). */
  bytes: number;
  entries: number;
}

/** Layers with at most this many entries open their directories; bigger ones start folded. */
const OPEN_LIMIT = 200;

const CHANGE_TITLE = { A: 'added', M: 'changed (replaces a lower copy)', D: 'removed (a whiteout hides a lower copy)' } as const;

const byName = (a: { name: string }, b: { name: string }): number => compareStrings(a.name, b.name);

function treeOf(files: readonly FileChange[]): Dir {
  const root: Dir = { name: '/', path: '', dirs: new Map(), files: [], bytes: 0, entries: 0 };
  for (const f of files) {
    const parts = f.path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length === 0) continue;
    const name = parts.pop()!;
    let dir = root;
    const along = [root];
    for (const p of parts) {
      let next = dir.dirs.get(p);
      if (!next) dir.dirs.set(p, (next = { name: p, path: `${dir.path}/${p}`, dirs: new Map(), files: [], bytes: 0, entries: 0 }));
      dir = next;
      along.push(dir);
    }
    dir.files.push({ name, change: f });
    for (const d of along) {
      d.entries++;
      if (f.change !== 'D') d.bytes += f.size;
    }
  }
  return root;
}

/** A directory holding only one directory shows as one row, `usr/share/doc/`. */
function collapse(d: Dir): Dir {
  let cur = d;
  let name = d.name;
  while (cur.files.length === 0 && cur.dirs.size === 1) {
    cur = cur.dirs.values().next().value!;
    name = `${name}/${cur.name}`;
  }
  return cur === d ? d : { ...cur, name };
}

function fileRow(f: { name: string; change: FileChange }): string {
  const c = f.change;
  const type = c.type === 'file' ? '' : ` <span class="type">${escapeText(c.type)}</span>`;
  return (
    `<li class="file change-${c.change}" data-change="${c.change}" data-path="${escapeText(`/${c.path.replace(/^\/+/, '')}`)}">` +
    `<span class="mark mark-${c.change}" title="${CHANGE_TITLE[c.change]}">${c.change}</span> ` +
    `<span class="name">${escapeText(f.name)}</span>${type} <span class="size">${humanSize(c.size)}</span></li>`
  );
}

function dirRow(dir: Dir, open: boolean): string {
  const d = collapse(dir);
  const children = [...d.dirs.values()].sort(byName).map((c) => dirRow(c, open));
  const files = d.files.sort(byName).map(fileRow);
  return (
    `<li class="dir-row"><details class="dir" data-path="${escapeText(d.path)}"${open ? ' open' : ''}>` +
    `<summary><span class="name">${escapeText(d.name)}/</span> <span class="size">${humanSize(d.bytes)}</span> <span class="count">${d.entries} ${d.entries === 1 ? 'entry' : 'entries'}</span></summary>` +
    `<ul>${children.join('')}${files.join('')}</ul></details></li>`
  );
}

/** One layer's changes as nested `<details>`: directories folded, each entry with its size and A/M/D mark. */
export function layerTreeHtml(l: LayerReport): string {
  const files = l.files ?? [];
  const total = l.added + l.modified + l.removed;
  const root = treeOf(files);
  const open = files.length <= OPEN_LIMIT;
  const step = clip(stepLabel(l.createdBy).replace(/\s+/g, ' ').trim(), 160);
  const summary =
    `<span class="layer-no">Layer ${l.index}</span>${l.base ? ' <span class="badge">base</span>' : ''} ` +
    `<span class="size">${humanSize(l.sizeBytes)}</span> ` +
    `<span class="marks"><span class="mark mark-A">A</span> ${l.added} <span class="mark mark-M">M</span> ${l.modified} <span class="mark mark-D">D</span> ${l.removed}</span> ` +
    `<code class="step">${escapeText(step)}</code>`;
  const note =
    files.length < total ? `<p class="note">Showing the first ${files.length} of ${total} entries of this layer.</p>` : '';
  const body =
    files.length === 0
      ? '<p class="note">No files: this layer changes only directories or metadata.</p>'
      : `<ul class="tree">${[...root.dirs.values()].sort(byName).map((d) => dirRow(d, open)).join('')}${root.files.sort(byName).map(fileRow).join('')}</ul>`;
  return `<details class="layer" data-layer="${l.index}"${open && files.length > 0 ? ' open' : ''}><summary>${summary}</summary>${note}${body}</details>`;
}

/** The file tree of every layer, in stack order. */
export function fileTreeHtml(layers: readonly LayerReport[]): string {
  return layers.map(layerTreeHtml).join('\n');
}
