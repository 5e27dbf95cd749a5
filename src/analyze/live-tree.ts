import type { PathTable } from './path-table.js';

/** The paths alive after some layers, by path id, each with a value; a whole subtree can be dropped at once. */
export class LiveTree<V> {
  private readonly values: (V | undefined)[] = [];

  constructor(readonly table: PathTable) {}

  get(id: number): V | undefined {
    return this.values[id];
  }

  set(id: number, value: V): void {
    while (this.values.length < id) this.values.push(undefined);
    this.values[id] = value;
  }

  /** Removes everything below `id` (and `id` itself unless `keepSelf`), returning what had a value. */
  remove(id: number, keepSelf = false): [number, V][] {
    const out: [number, V][] = [];
    const { table, values } = this;
    const stack = keepSelf ? [] : [id];
    if (keepSelf) for (let c = table.firstChild(id); c >= 0; c = table.nextSibling(c)) stack.push(c);
    while (stack.length > 0) {
      const p = stack.pop()!;
      const value = values[p];
      if (value !== undefined) {
        out.push([p, value]);
        values[p] = undefined;
      }
      for (let c = table.firstChild(p); c >= 0; c = table.nextSibling(c)) stack.push(c);
    }
    return out;
  }

  /** The paths that have values, with them. */
  *entries(): Generator<[string, V]> {
    for (let id = 0; id < this.values.length; id++) {
      const value = this.values[id];
      if (value !== undefined) yield [this.table.path(id), value];
    }
  }
}
