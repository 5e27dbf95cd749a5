/** The paths alive after some layers, each with a value, able to drop a whole subtree at once. */
export class LiveTree<V> {
  private readonly values = new Map<string, V>();
  /** Child paths of every path that has any, implied parents included. */
  private readonly children = new Map<string, Set<string>>();

  get(path: string): V | undefined {
    return this.values.get(path);
  }

  set(path: string, value: V): void {
    this.values.set(path, value);
    for (let child = path; child !== ''; ) {
      const parent = parentOf(child);
      let set = this.children.get(parent);
      if (!set) this.children.set(parent, (set = new Set()));
      else if (set.has(child)) break;
      set.add(child);
      child = parent;
    }
  }

  /** Removes everything below `path` (and `path` itself unless `keepSelf`), returning what had a value. */
  remove(path: string, keepSelf = false): [string, V][] {
    const out: [string, V][] = [];
    const drop = (p: string): void => {
      const value = this.values.get(p);
      if (value !== undefined) out.push([p, value]);
      this.values.delete(p);
      const kids = this.children.get(p);
      if (!kids) return;
      this.children.delete(p);
      for (const k of kids) drop(k);
    };
    if (keepSelf) {
      const kids = this.children.get(path);
      this.children.delete(path);
      for (const k of kids ?? []) drop(k);
    } else {
      drop(path);
      this.children.get(parentOf(path))?.delete(path);
    }
    return out;
  }

  entries(): IterableIterator<[string, V]> {
    return this.values.entries();
  }
}

export const parentOf = (path: string): string => {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
};
