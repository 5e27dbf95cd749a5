import { compareStrings } from '../internal/compare.js';
import { availableParallelism } from 'node:os';
import type { Image } from '../image/index.js';
import { mapLimit } from '../internal/map-limit.js';
import { hashEntryContents } from './content-hashes.js';
import { contentBytes, type ScanEntry } from './layer-scan.js';
import { LayerScanner } from './scan-pool.js';
import { accountStack } from './waste-accounting.js';

export interface PathSize {
  path: string;
  type: string;
  size: number;
}

export interface ChangedPath {
  path: string;
  type: string;
  before: number;
  after: number;
  /** What differs: type, content, mode, owner, link. */
  what: string[];
}

export interface ImageComparison {
  a: string;
  b: string;
  added: PathSize[];
  removed: PathSize[];
  changed: ChangedPath[];
  /** Content bytes of B minus those of A. */
  deltaBytes: number;
}

interface Final {
  layer: number;
  entry: ScanEntry;
}

async function finalTree(image: Image): Promise<Map<string, Final>> {
  const scanner = new LayerScanner(image.layers);
  try {
    const scans = await Promise.all(scanner.scans);
    await scanner.verified;
    return accountStack(scans).final();
  } finally {
    await scanner.close();
  }
}

/** The differences of header facts, content left to the caller. */
function headerDiffs(x: ScanEntry, y: ScanEntry): string[] {
  if (x.type !== y.type) return ['type'];
  const what: string[] = [];
  if (x.mode !== y.mode) what.push('mode');
  if (x.uid !== y.uid || x.gid !== y.gid) what.push('owner');
  if ((x.type === 'symlink' || x.type === 'hardlink') && x.linkname !== y.linkname) what.push('link');
  if (x.type === 'file' && x.size !== y.size) what.push('content');
  return what;
}

/** A file-level diff of two images' final trees: added, removed and changed paths with their sizes. */
export async function compareImages(a: { name: string; image: Image }, b: { name: string; image: Image }): Promise<ImageComparison> {
  const [ta, tb] = await Promise.all([finalTree(a.image), finalTree(b.image)]);
  const row = (path: string, e: ScanEntry): PathSize => ({ path: `/${path}`, type: e.type, size: contentBytes(e) });
  const added: PathSize[] = [];
  const removed: PathSize[] = [];
  const changed: ChangedPath[] = [];
  const sameSizeFiles: [string, Final, Final][] = [];
  for (const [path, x] of ta) {
    const y = tb.get(path);
    if (!y) {
      removed.push(row(path, x.entry));
      continue;
    }
    const what = headerDiffs(x.entry, y.entry);
    if (x.entry.type === 'file' && y.entry.type === 'file' && x.entry.size === y.entry.size && x.entry.size > 0) sameSizeFiles.push([path, x, y]);
    if (what.length > 0) changed.push({ path: `/${path}`, type: y.entry.type, before: contentBytes(x.entry), after: contentBytes(y.entry), what });
  }
  for (const [path, y] of tb) if (!ta.has(path)) added.push(row(path, y.entry));

  // equal sizes: compare the bytes
  const hashesOf = async (image: Image, side: 1 | 2) => {
    const wanted = image.layers.map(() => new Map<number, ScanEntry>());
    for (const t of sameSizeFiles) wanted[t[side].layer]!.set(t[side].entry.index, t[side].entry);
    return mapLimit(image.layers, availableParallelism(), (l, i) => hashEntryContents(l, [...wanted[i]!.values()]));
  };
  const [ha, hb] = await Promise.all([hashesOf(a.image, 1), hashesOf(b.image, 2)]);
  const changedAt = new Map(changed.map((c) => [c.path, c]));
  for (const [path, x, y] of sameSizeFiles) {
    if (ha[x.layer]!.get(x.entry.index) === hb[y.layer]!.get(y.entry.index)) continue;
    const existing = changedAt.get(`/${path}`);
    if (existing) existing.what.push('content');
    else changed.push({ path: `/${path}`, type: 'file', before: x.entry.size, after: y.entry.size, what: ['content'] });
  }
  const byPath = (p: { path: string }, q: { path: string }) => compareStrings(p.path, q.path);
  const total = (t: Map<string, Final>) => [...t.values()].reduce((n, f) => n + contentBytes(f.entry), 0);
  return {
    a: a.name,
    b: b.name,
    added: added.sort(byPath),
    removed: removed.sort(byPath),
    changed: changed.sort(byPath),
    deltaBytes: total(tb) - total(ta),
  };
}
