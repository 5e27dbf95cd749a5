import { compareStrings } from '../internal/compare.js';
import type { DiveMetrics } from './analysis.js';
import type { LayerScan } from './layer-scan.js';
import { internPaths, PathTable } from './path-table.js';

/**
 * dive's image efficiency, reproduced with its quirks so the numbers compare (see README.md):
 * - each layer is a tree of its tar paths; only its leaves are scored; a whiteout leaf `.wh.X` scores X;
 *   opaque markers are ignored;
 * - a leaf scores its tar header size; a whiteout scores the summed sizes below X in the stack of the
 *   layers beneath when X was a directory there, else 0; a whiteout of a path missing beneath stops the
 *   scoring of the rest of that layer (leaves in name order, children first);
 * - per path: cumulative = sum of its scores, minimum = smallest score; efficiency = sum of minimums /
 *   sum of cumulatives; wasted bytes = sum of cumulatives of paths scored in two or more layers;
 * - a layer's size is the sum of its tar header sizes; user bytes are all layers but the first.
 */
export class DiveScorer {
  /** Per path id, dive's scores: their sum, the smallest, how many. */
  private cumulative = new Float64Array(0);
  private minimum = new Float64Array(0);
  private count = new Uint32Array(0);
  /** The stack of the layers beneath as dive keeps it: per path id, present, size and directory flag. */
  private stackPresent = new Uint8Array(0);
  private stackSize = new Float64Array(0);
  private stackIsDir = new Uint8Array(0);
  /** The current layer's tree: per path id, the layer that last made it a node, its children in order, its info. */
  private nodeLayer = new Int32Array(0);
  private firstChild = new Int32Array(0);
  private lastChild = new Int32Array(0);
  private nextSibling = new Int32Array(0);
  private nodeSize = new Float64Array(0);
  private nodeIsDir = new Uint8Array(0);
  /** The current layer's whiteout-named nodes: the path each names (its own name without the prefix). */
  private whiteoutTargets = new Map<number, number>();
  /** Each layer's summed tar header sizes. */
  private readonly sizes: number[] = [];

  constructor(private readonly table: PathTable) {}

  /** Scores the next layer up; `ids` are its entries' path ids in the table. */
  add(scan: LayerScan, ids: Int32Array): void {
    const stamp = this.sizes.length + 1;
    this.buildTree(scan, ids, stamp);
    // the visiting order matters only where a whiteout can stop the layer or remove a path
    let ordered = false;
    for (let i = 0; i < scan.count && !ordered; i++) ordered = scan.mark(i) === 'whiteout';
    // dive starts the stack from a copy of layer 0, and layer 0 is scored against its own tree
    this.scoreLeaves(0, ordered, stamp === 1, { stopped: false });
    if (stamp === 1) this.copyTreeToStack(0);
    else this.stackTree(0, ordered);
    let size = 0;
    for (let i = 0; i < scan.count; i++) size += scan.size(i);
    this.sizes.push(size);
  }

  metrics(): DiveMetrics {
    let minimums = 0;
    let cumulatives = 0;
    let wastedBytes = 0;
    const inefficientFiles: DiveMetrics['inefficientFiles'] = [];
    for (let id = 0; id < this.count.length; id++) {
      const count = this.count[id]!;
      if (count === 0) continue;
      minimums += this.minimum[id]!;
      cumulatives += this.cumulative[id]!;
      if (count < 2) continue;
      wastedBytes += this.cumulative[id]!;
      inefficientFiles.push({ path: `/${this.table.path(id)}`, count, wastedBytes: this.cumulative[id]! });
    }
    inefficientFiles.sort((a, b) => b.wastedBytes - a.wastedBytes || compareStrings(a.path, b.path));
    const sizeBytes = this.sizes.reduce((a, b) => a + b, 0);
    const userSizeBytes = sizeBytes - (this.sizes[0] ?? 0);
    return {
      efficiency: cumulatives === 0 ? 1 : minimums / cumulatives,
      wastedBytes,
      userWastedPercent: userSizeBytes === 0 ? null : wastedBytes / userSizeBytes,
      sizeBytes,
      userSizeBytes,
      inefficientFiles: inefficientFiles.slice(0, MAX_LISTED),
      inefficientFileCount: inefficientFiles.length,
    };
  }

  /**
   * The layer's tree as dive's AddPath makes it from each entry in tar order: missing parents are
   * made with empty info; a new `.wh..wh..` name is not added (nor anything below it).
   */
  private buildTree(scan: LayerScan, ids: Int32Array, stamp: number): void {
    const { table } = this;
    this.grow(table.size);
    this.whiteoutTargets = new Map();
    this.makeNode(0, stamp);
    const chain: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (scan.path(i) === '') continue;
      const id = ids[i]!;
      chain.length = 0;
      for (let x = id; this.nodeLayer[x] !== stamp; x = table.parent(x)) chain.push(x);
      let made = true;
      for (let k = chain.length - 1; k >= 0 && made; k--) {
        const x = chain[k]!;
        if (table.whiteoutName(x) === 'opaque') made = false;
        else this.makeNode(x, stamp);
      }
      if (!made) continue;
      this.nodeSize[id] = scan.size(i);
      this.nodeIsDir[id] = scan.isDir(i) ? 1 : 0;
    }
    this.grow(table.size); // whiteout targets may be new paths
  }

  private makeNode(id: number, stamp: number): void {
    this.nodeLayer[id] = stamp;
    this.firstChild[id] = -1;
    this.lastChild[id] = -1;
    this.nextSibling[id] = -1;
    this.nodeSize[id] = 0;
    this.nodeIsDir[id] = 0;
    if (id === 0) return;
    const parent = this.table.parent(id);
    if (this.lastChild[parent]! < 0) this.firstChild[parent] = id;
    else this.nextSibling[this.lastChild[parent]!] = id;
    this.lastChild[parent] = id;
    if (this.table.whiteoutName(id) !== 'none') {
      const path = this.table.path(id);
      const slash = path.lastIndexOf('/');
      this.whiteoutTargets.set(id, this.table.intern(path.slice(0, slash + 1) + path.slice(slash + 1 + WHITEOUT.length)));
    }
  }

  /** A node's children in the layer's tree: in the order they were made, or by name. */
  private children(id: number, ordered: boolean): number[] {
    const out: number[] = [];
    for (let c = this.firstChild[id]!; c >= 0; c = this.nextSibling[c]!) out.push(c);
    if (ordered && out.length > 1) {
      const named = out.map((c) => ({ c, name: this.table.name(c) }));
      named.sort((a, b) => compareStrings(a.name, b.name));
      return named.map((n) => n.c);
    }
    return out;
  }

  /**
   * Scores the leaves below `id`, children first. A whiteout leaf scores the path it names: the size of
   * that path's subtree beneath when it is a directory there, else 0; missing beneath, it stops the layer.
   */
  private scoreLeaves(id: number, ordered: boolean, beneathIsOwnTree: boolean, state: { stopped: boolean }): void {
    if (this.firstChild[id]! >= 0) {
      for (const c of this.children(id, ordered)) {
        this.scoreLeaves(c, ordered, beneathIsOwnTree, state);
        if (state.stopped) return;
      }
      return;
    }
    const target = this.whiteoutTargets.get(id);
    if (target === undefined) return this.score(id, this.nodeSize[id]!);
    const stamp = this.sizes.length + 1;
    const present = beneathIsOwnTree ? this.nodeLayer[target] === stamp : this.stackPresent[target] === 1;
    if (!present) {
      state.stopped = true;
      return;
    }
    const isDir = beneathIsOwnTree ? this.nodeIsDir[target] : this.stackIsDir[target];
    this.score(target, isDir ? (beneathIsOwnTree ? this.treeSubtreeSize(target) : this.stackSubtreeSize(target)) : 0);
  }

  private score(id: number, size: number): void {
    if (this.count[id] === 0) {
      this.cumulative[id] = size;
      this.minimum[id] = size;
    } else {
      this.cumulative[id]! += size;
      if (size < this.minimum[id]!) this.minimum[id] = size;
    }
    this.count[id]!++;
  }

  private treeSubtreeSize(id: number): number {
    let n = this.nodeSize[id]!;
    for (let c = this.firstChild[id]!; c >= 0; c = this.nextSibling[c]!) n += this.treeSubtreeSize(c);
    return n;
  }

  private stackSubtreeSize(id: number): number {
    let n = this.stackSize[id]!;
    for (let c = this.table.firstChild(id); c >= 0; c = this.table.nextSibling(c)) if (this.stackPresent[c] === 1) n += this.stackSubtreeSize(c);
    return n;
  }

  private copyTreeToStack(id: number): void {
    this.stackPresent[id] = 1;
    this.stackSize[id] = this.nodeSize[id]!;
    this.stackIsDir[id] = this.nodeIsDir[id]!;
    for (let c = this.firstChild[id]!; c >= 0; c = this.nextSibling[c]!) this.copyTreeToStack(c);
  }

  /**
   * dive's Stack of this layer onto the stack beneath, as one walk: children first; a whiteout-named
   * node removes the path it names, any other takes its place (made with empty info when missing, its
   * info set after its children).
   */
  private stackTree(id: number, ordered: boolean): void {
    for (const c of this.children(id, ordered)) {
      const target = this.whiteoutTargets.get(c);
      if (target !== undefined) {
        if (this.stackPresent[target] === 1) this.unstack(target);
        continue;
      }
      if (this.stackPresent[c] !== 1) {
        this.stackPresent[c] = 1;
        this.stackSize[c] = 0;
        this.stackIsDir[c] = 0;
      }
      if (this.firstChild[c]! >= 0) this.stackTree(c, ordered);
      this.stackSize[c] = this.nodeSize[c]!;
      this.stackIsDir[c] = this.nodeIsDir[c]!;
    }
  }

  /** Drops a path and everything below it from the stack (nothing below a missing path is present). */
  private unstack(id: number): void {
    this.stackPresent[id] = 0;
    for (let c = this.table.firstChild(id); c >= 0; c = this.table.nextSibling(c)) if (this.stackPresent[c] === 1) this.unstack(c);
  }

  /** Makes every per-path array hold at least `n` paths. */
  private grow(n: number): void {
    if (n <= this.count.length) return;
    const size = Math.max(n, this.count.length * 2, 1024);
    const f64 = (a: Float64Array<ArrayBuffer>) => copyInto(new Float64Array(size), a);
    const u8 = (a: Uint8Array<ArrayBuffer>) => copyInto(new Uint8Array(size), a);
    const i32 = (a: Int32Array<ArrayBuffer>) => copyInto(new Int32Array(size), a);
    this.cumulative = f64(this.cumulative);
    this.minimum = f64(this.minimum);
    this.count = copyInto(new Uint32Array(size), this.count);
    this.stackPresent = u8(this.stackPresent);
    this.stackSize = f64(this.stackSize);
    this.stackIsDir = u8(this.stackIsDir);
    this.nodeLayer = i32(this.nodeLayer);
    this.firstChild = i32(this.firstChild);
    this.lastChild = i32(this.lastChild);
    this.nextSibling = i32(this.nextSibling);
    this.nodeSize = f64(this.nodeSize);
    this.nodeIsDir = u8(this.nodeIsDir);
  }
}

const copyInto = <T extends { set(a: ArrayLike<number>): void }>(to: T, from: ArrayLike<number>): T => {
  to.set(from);
  return to;
};

/** dive's metrics of a whole stack at once. */
export function diveMetrics(scans: readonly LayerScan[]): DiveMetrics {
  const table = new PathTable();
  const scorer = new DiveScorer(table);
  for (const scan of scans) scorer.add(scan, internPaths(table, scan));
  return scorer.metrics();
}

/** How many of dive's inefficient files the metrics list. */
const MAX_LISTED = 1000;

const WHITEOUT = '.wh.';
