import type { FileChange, WasteKind } from './analysis.js';
import { contentBytes, type LayerScan, type ScanEntry } from './layer-scan.js';
import { LiveTree } from './live-tree.js';
import { internPaths, PathTable } from './path-table.js';

/** The content that hard-linked names of one layer share: its bytes are hidden when its last name is. */
interface LinkGroup {
  bytes: number;
  names: number;
}

interface LiveEntry {
  layer: number;
  entry: ScanEntry;
  group?: LinkGroup;
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
  private readonly tree: LiveTree<LiveEntry>;
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
    const { tree, copies, table } = this;
    const entries = scan.entries;
    const j = this.counts.length;
    const c: LayerCounts = { added: 0, modified: 0, removed: 0, files: this.options.files ? [] : undefined };
    this.counts.push(c);
    // this layer's entries at paths the layers below have: only those can replace a hidden copy
    const present = new Map<number, ScanEntry>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!e.mark && e.path !== '' && tree.get(ids[i]!) !== undefined) present.set(ids[i]!, e);
    }
    const note = (change: FileChange): void => {
      if (c.files && c.files.length < MAX_FILES_PER_LAYER) c.files.push(change);
    };
    const hide = (id: number, live: LiveEntry, root: string, byMark: boolean): void => {
      let bytes = 0;
      if (live.group) bytes = --live.group.names === 0 ? live.group.bytes : 0;
      else bytes = contentBytes(live.entry);
      copies.push({ path: table.path(id), root, layer: live.layer, entry: live.entry, hiddenBy: j, replacement: present.get(id), byMark, bytes });
    };

    const removedByMarks = new Set<number>();
    for (const e of entries) {
      if (!e.mark) continue;
      const target = table.find(e.target!);
      if (target === undefined) continue;
      for (const [id, live] of tree.remove(target, e.mark === 'opaque')) {
        hide(id, live, e.target!, true);
        removedByMarks.add(id);
        if (live.entry.type !== 'dir' && !present.has(id)) {
          c.removed++;
          note({ path: table.path(id), type: live.entry.type, size: contentBytes(live.entry), change: 'D' });
        }
      }
    }

    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.mark || e.path === '') continue;
      const id = ids[i]!;
      const lower = tree.get(id);
      if (lower && lower.layer !== j && !(lower.entry.type === 'dir' && e.type === 'dir')) {
        for (const [hidden, live] of tree.remove(id)) hide(hidden, live, e.path, false);
      }
      const existed = (lower !== undefined && lower.layer !== j) || removedByMarks.has(id);
      // a file's content gets a group only when a hard link of this layer names it
      let group: LinkGroup | undefined;
      const linked = e.type === 'hardlink' ? table.find(e.linkname) : undefined;
      const target = linked === undefined ? undefined : tree.get(linked);
      if (target && target.layer === j && (target.entry.type === 'file' || target.group)) {
        group = target.group ??= { bytes: target.entry.size, names: 1 };
        group.names++;
      }
      tree.set(id, { layer: j, entry: e, group });
      if (e.type === 'dir') continue;
      if (existed) c.modified++;
      else c.added++;
      note({ path: e.path, type: e.type, size: contentBytes(e), change: existed ? 'M' : 'A' });
    }
  }

  /** What is alive at the top of the stack: path to its layer and entry. */
  final(): Map<string, { layer: number; entry: ScanEntry }> {
    const out = new Map<string, { layer: number; entry: ScanEntry }>();
    for (const [path, live] of this.tree.entries()) out.set(path, { layer: live.layer, entry: live.entry });
    return out;
  }
}

/** The accounting of a whole stack at once. */
export function accountStack(scans: readonly LayerScan[], options: { files?: boolean } = {}): StackAccountant {
  const table = new PathTable();
  const accountant = new StackAccountant(table, options);
  for (const scan of scans) accountant.add(scan, internPaths(table, scan.entries));
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
