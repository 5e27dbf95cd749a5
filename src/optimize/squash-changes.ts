import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ShaleError } from '../internal/errors.js';
import {
  listLayer,
  makeHeader,
  MergedTree,
  opaquePath,
  readTar,
  sortInTarOrder,
  whiteoutPath,
  writeTar,
  type EntrySource,
  type LayerListing,
  type TarEntry,
  type TarHeader,
  type TarSource,
  type TarWriteEntry,
  type TreeNode,
} from '../layer/index.js';

/**
 * One change of the squashed layer against the kept base: an entry of the final tree (its header and,
 * for a file, its content taken from the layer entry named by `src`), a directory no layer names (written
 * with default metadata, as export writes it), a base path deleted, a base directory made opaque.
 */
export type SquashChange =
  | { kind: 'entry'; path: string; node: TreeNode }
  | { kind: 'dir'; path: string }
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; path: string };

const key = (s: EntrySource | undefined): string => (s ? `${s.layer}:${s.index}` : '');
const joinPath = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);

/** True when two nodes are the same entry of the same layer (or both directories no layer names). */
const sameEntry = (a: TreeNode, b: TreeNode): boolean => key(a.src) === key(b.src);

/**
 * The changes that turn `base` (the merged tree of the kept layers) into `full` (the merged tree of all
 * layers), as one layer would hold them: every path of `full` that is new or comes from a squashed layer,
 * a whiteout for every base path that is gone, and an opaque marker instead of whiteouts where a base
 * directory was replaced (its entry is new) and nothing of the base survives below it. Paths are in
 * tree order; `sortSquashChanges` puts them in tar order.
 */
export function squashChanges(base: MergedTree, full: MergedTree, keptLayers: number): SquashChange[] {
  const out: SquashChange[] = [];
  // Whether a node has a descendant whose entry comes from a kept layer (memoised: asked once per directory).
  const baseBelow = new Map<TreeNode, boolean>();
  const hasBaseBelow = (node: TreeNode): boolean => {
    const hit = baseBelow.get(node);
    if (hit !== undefined) return hit;
    let found = false;
    for (const child of node.children?.values() ?? []) {
      if ((child.src && child.src.layer < keptLayers) || (child.children && hasBaseBelow(child))) {
        found = true;
        break;
      }
    }
    baseBelow.set(node, found);
    return found;
  };
  const emit = (path: string, node: TreeNode): void => {
    out.push(node.src ? { kind: 'entry', path, node } : { kind: 'dir', path });
  };
  const emitAll = (path: string, node: TreeNode): void => {
    for (const [name, child] of node.children ?? []) {
      const p = joinPath(path, name);
      emit(p, child);
      emitAll(p, child);
    }
  };
  /**
   * `f` is a directory of the full tree; `b` the base's directory at the same path, if it is one;
   * `dirEmitted` whether `f`'s own entry is written (it differs from the base's).
   */
  const diffDir = (path: string, f: TreeNode, b: TreeNode | undefined, dirEmitted: boolean): void => {
    const fc = f.children!;
    const bc = b?.children ?? new Map<string, TreeNode>();
    const lost = [...bc.keys()].some((n) => !fc.has(n));
    if (dirEmitted && path !== '' && lost && !hasBaseBelow(f)) {
      out.push({ kind: 'opaque', path });
      emitAll(path, f);
      return;
    }
    for (const name of bc.keys()) if (!fc.has(name)) out.push({ kind: 'whiteout', path: joinPath(path, name) });
    for (const [name, fn] of fc) {
      const p = joinPath(path, name);
      const bn = bc.get(name);
      if (bn && sameEntry(fn, bn)) {
        if (fn.children) diffDir(p, fn, bn, false);
        continue;
      }
      emit(p, fn);
      if (fn.children) diffDir(p, fn, bn?.children ? bn : undefined, true);
    }
  };
  diffDir('', full.root, base.root, true);
  return out;
}

/** Tar order: component by component in byte order, so parents come before their children. */
export function sortSquashChanges(changes: SquashChange[]): SquashChange[] {
  return sortInTarOrder(changes);
}

/** What to write for one change: a header, and for a file the layer entry its content comes from. */
export interface SquashTarEntry {
  header: TarHeader;
  content?: EntrySource;
}

/**
 * The changes as tar entries. Paths that share an inode in the final tree (hard links) stay one inode: when some of them are kept base paths, the written ones link to a kept path; otherwise the first
 * one written carries the content and the later ones link to it. A file's header is the one of the entry
 * that holds its content (a hard link header carries no metadata of its own).
 */
export function squashTarEntries(changes: SquashChange[], full: MergedTree, headerOf: (s: EntrySource) => TarHeader): SquashTarEntry[] {
  const sorted = sortSquashChanges(changes);
  // The entry a non-directory's inode comes from: a hard link's target, else the node's own entry.
  const contentKey = (n: TreeNode): EntrySource | undefined => (n.type === 'hardlink' ? n.linkTarget : n.type === 'dir' ? undefined : n.src);
  const written = new Set<string>();
  const inGroup = new Set<string>();
  for (const c of sorted) {
    if (c.kind !== 'entry') continue;
    written.add(c.path);
    const k = contentKey(c.node);
    if (k) inGroup.add(key(k));
  }
  // Kept (unwritten) paths of the final tree sharing content with written ones: the file itself first.
  const keptHolder = new Map<string, { path: string; isFile: boolean }>();
  for (const { path, node } of full.walk()) {
    const k = contentKey(node);
    if (!k || written.has(path) || !inGroup.has(key(k))) continue;
    const isFile = node.type !== 'hardlink';
    const held = keptHolder.get(key(k));
    if (!held || (isFile && !held.isFile)) keptHolder.set(key(k), { path, isFile });
  }
  const firstWritten = new Map<string, string>();
  const out: SquashTarEntry[] = [];
  for (const c of sorted) {
    if (c.kind === 'whiteout') out.push({ header: makeHeader({ name: whiteoutPath(c.path), type: 'file', mode: 0 }) });
    else if (c.kind === 'opaque') out.push({ header: makeHeader({ name: opaquePath(c.path), type: 'file', mode: 0 }) });
    else if (c.kind === 'dir') out.push({ header: makeHeader({ name: `${c.path}/`, type: 'dir', mode: 0o755 }) });
    else {
      const { node, path } = c;
      const k = contentKey(node);
      if (!k) {
        const header = headerOf(node.src!);
        out.push({ header: { ...header, name: node.type === 'dir' ? `${path}/` : path } });
        continue;
      }
      const header = headerOf(k);
      const linkTo = keptHolder.get(key(k))?.path ?? firstWritten.get(key(k));
      if (linkTo !== undefined) {
        out.push({ header: { ...header, name: path, type: 'hardlink', linkname: linkTo, size: 0 } });
        continue;
      }
      firstWritten.set(key(k), path);
      out.push(header.type === 'file' ? { header: { ...header, name: path }, content: k } : { header: { ...header, name: path } });
    }
  }
  return out;
}

/** Reads the content of chosen entries of one layer tar, in one pass when they are asked for in tar order. */
class LayerCursor {
  private iterator?: AsyncIterator<TarEntry>;
  private next = 0;
  constructor(private readonly layer: TarSource) {}

  async body(index: number): Promise<AsyncIterable<Buffer>> {
    this.iterator ??= readTar(this.layer.open(), { what: this.layer.what })[Symbol.asyncIterator]();
    for (;;) {
      const r = await this.iterator.next();
      if (r.done) throw new ShaleError('CORRUPT_INPUT', `${this.layer.what}: entry ${index} is missing on a second read`);
      if (this.next++ === index) return r.value.body;
    }
  }

  /** Reads to the end, so the layer's digest is checked against everything that was taken from it. */
  async finish(): Promise<void> {
    if (!this.iterator) return;
    for (;;) if ((await this.iterator.next()).done) break;
  }

  async close(): Promise<void> {
    await this.iterator?.return?.();
  }
}

export interface SquashLayersOptions {
  /** Where file contents wait when a layer's entries are needed out of its own order (the store's scratch space). */
  scratchDir: string;
  /** Edits the merged tree of all layers before the changes are found: what it removes is left out (minify). */
  select?: (full: MergedTree) => void;
}

/**
 * One layer tar that, over `layers[0..kept)`, gives the same tree as all of `layers` (see squashChanges):
 * sorted entries, metadata (modes, owners, times, xattrs, devices, link targets) as the layers hold
 * them, no hidden bytes. Streams: contents are read from the layers as they are written, a layer being
 * read once; contents needed out of their layer's order are first copied to a scratch directory.
 */
export async function* squashLayersTar(layers: readonly TarSource[], kept: number, options: SquashLayersOptions): AsyncGenerator<Buffer> {
  if (!Number.isInteger(kept) || kept < 0 || kept > layers.length) {
    throw new ShaleError('INVALID_ARGUMENT', `cannot keep ${kept} of ${layers.length} layers`);
  }
  const listings: LayerListing[] = [];
  for (const l of layers) listings.push(await listLayer(l));
  const base = new MergedTree();
  const full = new MergedTree();
  listings.forEach((listing, i) => {
    if (i < kept) base.apply(i, listing, layers[i]!.what);
    full.apply(i, listing, layers[i]!.what);
  });
  options.select?.(full);
  const headerOf = (s: EntrySource): TarHeader => listings[s.layer]!.entries[s.index]!.header;
  const entries = squashTarEntries(squashChanges(base, full, kept), full, headerOf);

  // Per layer: the entries whose content is taken, in write order; a layer read in one pass if ascending.
  const wanted = new Map<number, number[]>();
  for (const e of entries) {
    if (!e.content) continue;
    const list = wanted.get(e.content.layer) ?? [];
    list.push(e.content.index);
    wanted.set(e.content.layer, list);
  }
  const cursors = new Map<number, LayerCursor>();
  const spooled = new Map<string, string>();
  let scratch: string | undefined;
  try {
    for (const [layer, indices] of wanted) {
      if (indices.every((v, i) => i === 0 || v > indices[i - 1]!)) {
        cursors.set(layer, new LayerCursor(layers[layer]!));
        continue;
      }
      scratch ??= await mkdtemp(join(options.scratchDir, 'squash-'));
      const need = new Set(indices);
      let index = 0;
      for await (const e of readTar(layers[layer]!.open(), { what: layers[layer]!.what })) {
        if (need.has(index)) {
          const file = join(scratch, `${layer}-${index}`);
          await pipeline(e.body, createWriteStream(file));
          spooled.set(`${layer}:${index}`, file);
        }
        index++;
      }
    }
    async function* tarEntries(): AsyncGenerator<TarWriteEntry> {
      for (const e of entries) {
        if (!e.content) {
          yield { header: e.header };
          continue;
        }
        const file = spooled.get(key(e.content));
        const body = file ? createReadStream(file, { highWaterMark: 1 << 20 }) : await cursors.get(e.content.layer)!.body(e.content.index);
        yield { header: e.header, body };
        if (file) await rm(file, { force: true });
      }
      for (const c of cursors.values()) await c.finish();
    }
    yield* writeTar(tarEntries());
  } finally {
    for (const c of cursors.values()) await c.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
