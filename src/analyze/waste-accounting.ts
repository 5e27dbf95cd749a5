import type { FileChange, WasteKind } from './analysis.js';
import { contentBytes, type LayerScan, type ScanEntry } from './layer-scan.js';
import { LiveTree, type LiveCopy } from './live-tree.js';
import { internPaths, PathTable } from './path-table.js';

/** The content that hard-linked names of one layer share: its bytes are hidden when its last name is. */
interface LinkGroup {
  bytes: number;
  names: number;
}

/** One copy of a path from a lower layer that a later layer hid. */
export interface HiddenCopy {
  path: string;
  /** Where the hiding happened: the whiteout's target, the opaque directory, or the replacing entry's path. */
  root: string;
  layer: number;
  entry: ScanEntry;
  hiddenBy: number;
  /** The entry of the hiding layer at the same path, when it put one there. */
  replacement?: ScanEntry;
  /** Hidden by a whiteout or opaque marker, rather than by an entry the layer put at `root`. */
  byMark: boolean;
  /** Bytes that became dead with this copy (a hard-linked content counts once, with its last name). */
  bytes: number;
}

export interface LayerCounts {
  added: number;
  modified: number;
  removed: number;
  files?: FileChange[];
}

/** Most tree rows the HTML report keeps for one layer. */
const MAX_FILES_PER_LAYER = 50_000;

/**
 * Applies the layers bottom up as overlayfs would (a layer's whiteouts and opaque markers first, then its
 * entries) and records every lower copy that each layer hides, once. Layers are added one at a time, so
 * a caller can account each as soon as it is read.
 */
export class StackAccountant {
  private readonly tree: LiveTree;
  private readonly scans: LayerScan[] = [];
  /** The link group of a live copy whose content a hard link of its layer shares, by path id. */
  private readonly groups = new Map<number, LinkGroup>();
  readonly copies: HiddenCopy[] = [];
  readonly counts: LayerCounts[] = [];

  constructor(
    private readonly table: PathTable,
    private readonly options: { files?: boolean } = {},
  ) {
    this.tree = new LiveTree(table);
  }

  /** Accounts the next layer up; `ids` are its entries' path ids in `table`. */
  add(scan: LayerScan, ids: Int32Array): void {
    const { tree, copies, table, groups } = this;
    const j = this.scans.length;
    this.scans.push(scan);
    const c: LayerCounts = { added: 0, modified: 0, removed: 0, files: this.options.files ? [] : undefined };
    this.counts.push(c);
    // this layer's entries at paths the layers below have: only those can replace a hidden copy
    const present = new Map<number, number>();
    for (let i = 0; i < scan.count; i++) {
      if (!scan.mark(i) && scan.path(i) !== '' && tree.layerOf(ids[i]!) >= 0) present.set(ids[i]!, i);
    }
    const note = (change: FileChange): void => {
      if (c.files && c.files.length < MAX_FILES_PER_LAYER) c.files.push(change);
    };
    const hide = (live: LiveCopy, entry: ScanEntry, root: string, byMark: boolean): void => {
      const group = groups.get(live.id);
      groups.delete(live.id);
      const bytes = group ? (--group.names === 0 ? group.bytes : 0) : contentBytes(entry);
      const replacedBy = present.get(live.id);
      const replacement = replacedBy === undefined ? undefined : scan.entry(replacedBy);
      copies.push({ path: table.path(live.id), root, layer: live.layer, entry, hiddenBy: j, replacement, byMark, bytes });
    };

    const removedByMarks = new Set<number>();
    for (let i = 0; i < scan.count; i++) {
      const mark = scan.mark(i);
      if (!mark) continue;
      const root = scan.target(i);
      const target = table.find(root);
      if (target === undefined) continue;
      for (const live of tree.remove(target, mark === 'opaque')) {
        const entry = this.scans[live.layer]!.entry(live.index);
        hide(live, entry, root, true);
        removedByMarks.add(live.id);
        if (entry.type !== 'dir' && !present.has(live.id)) {
          c.removed++;
          if (c.files) note({ path: entry.path, type: entry.type, size: contentBytes(entry), change: 'D' });
        }
      }
    }

    for (let i = 0; i < scan.count; i++) {
      if (scan.mark(i)) continue;
      const path = scan.path(i);
      if (path === '') continue;
      const id = ids[i]!;
      const lower = tree.layerOf(id);
      const isDir = scan.isDir(i);
      if (lower >= 0 && lower !== j && !(isDir && this.scans[lower]!.isDir(tree.indexOf(id)))) {
        for (const live of tree.remove(id)) hide(live, this.scans[live.layer]!.entry(live.index), path, false);
      }
      const existed = (lower >= 0 && lower !== j) || removedByMarks.has(id);
      // a file's content gets a group only when a hard link of this layer names it
      if (groups.size > 0) groups.delete(id);
      const type = scan.type(i);
      const linked = type === 'hardlink' ? table.find(scan.linkname(i)) : undefined;
      if (linked !== undefined && tree.layerOf(linked) === j) {
        const target = tree.indexOf(linked);
        let group = groups.get(linked);
        if (!group && scan.type(target) === 'file') groups.set(linked, (group = { bytes: scan.size(target), names: 1 }));
        if (group) {
          group.names++;
          groups.set(id, group);
        }
      }
      tree.set(id, j, i);
      if (isDir) continue;
      if (existed) c.modified++;
      else c.added++;
      if (c.files) note({ path, type, size: scan.contentBytes(i), change: existed ? 'M' : 'A' });
    }
  }

  /** What is alive at the top of the stack: path to its layer and entry. */
  final(): Map<string, { layer: number; entry: ScanEntry }> {
    const out = new Map<string, { layer: number; entry: ScanEntry }>();
    for (const live of this.tree.entries()) out.set(this.table.path(live.id), { layer: live.layer, entry: this.scans[live.layer]!.entry(live.index) });
    return out;
  }
}

/** The accounting of a whole stack at once. */
export function accountStack(scans: readonly LayerScan[], options: { files?: boolean } = {}): StackAccountant {
  const table = new PathTable();
  const accountant = new StackAccountant(table, options);
  for (const scan of scans) accountant.add(scan, internPaths(table, scan));
  return accountant;
}

/**
 * How a copy was hidden. `sameContent` says whether a replacing regular file holds the same bytes (known
 * only for the copies `needsContentCompare` picks). What lay below a directory that a later layer
 * replaced with a file was overwritten, not deleted: no whiteout was involved.
 */
export function kindOf(copy: HiddenCopy, sameContent: boolean): WasteKind {
  if (!copy.replacement) return copy.byMark ? 'deleted' : 'overwritten';
  return sameContent ? 'metadata' : 'overwritten';
}

/** Copies whose kind depends on content: a regular file replaced by a regular file of the same size. */
export const needsContentCompare = (copy: HiddenCopy): boolean =>
  copy.entry.type === 'file' && copy.replacement?.type === 'file' && copy.replacement.size === copy.entry.size;
