const WHITEOUT_NAMES = ['none', 'whiteout', 'opaque'] as const;

/**
 * Every path an analysis meets, each given a small number once (parents first; the root '' is 0), with
 * the tree they form: the accounting and dive's scoring then work on arrays indexed by these numbers
 * instead of maps keyed by path strings.
 */
export class PathTable {
  private readonly ids = new Map<string, number>([['', 0]]);
  private readonly paths: string[] = [''];
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

  /** The id of a clean path (no leading slash), given to it and its missing parents now if need be. */
  intern(path: string): number {
    const known = this.ids.get(path);
    if (known !== undefined) return known;
    const parentLength = Math.max(0, path.lastIndexOf('/'));
    const lastParentPath = this.paths[this.lastParent]!;
    const sameParent = parentLength === lastParentPath.length && path.startsWith(lastParentPath);
    const parent = sameParent ? this.lastParent : this.intern(path.slice(0, parentLength));
    this.lastParent = parent;
    const id = this.paths.length;
    if (id === this.parents.length) this.grow();
    this.paths.push(path);
    this.ids.set(path, id);
    this.parents[id] = parent;
    const name = parentLength === 0 ? 0 : parentLength + 1;
    if (path.startsWith('.wh.', name)) this.whiteoutNames[id] = path.startsWith('.wh..wh..', name) ? 2 : 1;
    this.nextSiblings[id] = this.firstChildren[parent]!;
    this.firstChildren[parent] = id;
    return id;
  }

  /** The id of a path met before, else undefined. */
  find(path: string): number | undefined {
    return this.ids.get(path);
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
  }
}

/** The ids of a layer's entry paths, in tar order. */
export function internPaths(table: PathTable, scan: { count: number; path(i: number): string }): Int32Array {
  const ids = new Int32Array(scan.count);
  for (let i = 0; i < scan.count; i++) ids[i] = table.intern(scan.path(i));
  return ids;
}
