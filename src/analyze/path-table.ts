const WHITEOUT_NAMES = ['none', 'whiteout', 'opaque'] as const;

/**
 * A path's 32-bit FNV-1a hash over its UTF-16 code units, as the path table files paths under: the
 * scan workers compute it for every entry, so that the main thread does not hash each path again.
 */
export function hashPath(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 16777619);
  return h | 0;
}

/**
 * Every path an analysis meets, each given a small number once (parents first; the root '' is 0), with
 * the tree they form: the accounting and dive's scoring then work on arrays indexed by these numbers
 * instead of maps keyed by path strings.
 */
export class PathTable {
  private readonly paths: string[] = [''];
  /** Per path: its hashPath. */
  private hashes = new Int32Array(1024);
  /** An open-addressing table of ids + 1 (0: empty) by hash, at most half full. */
  private slots = new Int32Array(2048);
  private parents = new Int32Array(1024).fill(-1);
  private firstChildren = new Int32Array(1024).fill(-1);
  private nextSiblings = new Int32Array(1024).fill(-1);
  /** Per path: 0, or 1 when its name starts `.wh.`, 2 when it starts `.wh..wh..`. */
  private whiteoutNames = new Uint8Array(1024);
  /** The parent of the path last given an id: tar lists a directory's entries together. */
  private lastParent = 0;

  /** How many paths there are (ids are 0 to size - 1). */
  get size(): number {
    return this.paths.length;
  }

  constructor() {
    this.file(0, hashPath(''));
  }

  /**
   * The id of a clean path (no leading slash), given to it and its missing parents now if need be;
   * `hash` is its hashPath when known.
   */
  intern(path: string, hash = hashPath(path)): number {
    const known = this.lookup(path, hash);
    if (known >= 0) return known;
    const parentLength = Math.max(0, path.lastIndexOf('/'));
    const lastParentPath = this.paths[this.lastParent]!;
    const sameParent = parentLength === lastParentPath.length && path.startsWith(lastParentPath);
    const parent = sameParent ? this.lastParent : this.intern(path.slice(0, parentLength));
    this.lastParent = parent;
    const id = this.paths.length;
    if (id === this.parents.length) this.grow();
    if (2 * (id + 1) > this.slots.length) this.growSlots();
    this.paths.push(path);
    this.file(id, hash);
    this.parents[id] = parent;
    const name = parentLength === 0 ? 0 : parentLength + 1;
    if (path.startsWith('.wh.', name)) this.whiteoutNames[id] = path.startsWith('.wh..wh..', name) ? 2 : 1;
    this.nextSiblings[id] = this.firstChildren[parent]!;
    this.firstChildren[parent] = id;
    return id;
  }

  /** The id of a path met before, else undefined. */
  find(path: string): number | undefined {
    const id = this.lookup(path, hashPath(path));
    return id >= 0 ? id : undefined;
  }

  /** The id of `path` (whose hashPath is `hash`), or -1. */
  private lookup(path: string, hash: number): number {
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i]!;
      if (slot === 0) return -1;
      if (this.hashes[slot - 1] === hash && this.paths[slot - 1] === path) return slot - 1;
    }
  }

  /** Files id under its hash. */
  private file(id: number, hash: number): void {
    const mask = this.slots.length - 1;
    let i = hash & mask;
    while (this.slots[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = id + 1;
    this.hashes[id] = hash;
  }

  private growSlots(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let id = 0; id < this.paths.length; id++) this.file(id, this.hashes[id]!);
  }

  path(id: number): string {
    return this.paths[id]!;
  }

  parent(id: number): number {
    return this.parents[id]!;
  }

  /** The last name of a path ('' for the root). */
  name(id: number): string {
    const p = this.paths[id]!;
    return p.slice(p.lastIndexOf('/') + 1);
  }

  /** Whether a path's last name starts `.wh.` (a whiteout's), and `.wh..wh..` (an opaque marker's). */
  whiteoutName(id: number): 'none' | 'whiteout' | 'opaque' {
    return WHITEOUT_NAMES[this.whiteoutNames[id]!]!;
  }

  /** The first child of a path (-1: none); the others follow by `nextSibling`. Newest first. */
  firstChild(id: number): number {
    return this.firstChildren[id]!;
  }

  nextSibling(id: number): number {
    return this.nextSiblings[id]!;
  }

  private grow(): void {
    const n = this.parents.length * 2;
    const grown = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(n).fill(-1);
      b.set(a);
      return b;
    };
    this.parents = grown(this.parents);
    this.firstChildren = grown(this.firstChildren);
    this.nextSiblings = grown(this.nextSiblings);
    const names = new Uint8Array(n);
    names.set(this.whiteoutNames);
    this.whiteoutNames = names;
    const hashes = new Int32Array(n);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }
}

/** The ids of a layer's entry paths, in tar order (with the hashPath of each, when the scan has them). */
export function internPaths(table: PathTable, scan: { count: number; path(i: number): string; pathHash?(i: number): number }): Int32Array {
  const ids = new Int32Array(scan.count);
  for (let i = 0; i < scan.count; i++) ids[i] = table.intern(scan.path(i), scan.pathHash?.(i));
  return ids;
}
