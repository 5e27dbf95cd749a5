import type { PathTable } from './path-table.js';

/** A path's live copy: the layer that put it there and the entry's position in that layer. */
export interface LiveCopy {
  id: number;
  layer: number;
  index: number;
}

/** The paths alive after some layers, by path id, each with its copy; a whole subtree can be dropped at once. */
export class LiveTree {
  /** Per path id: the layer of its live copy (-1: none), and the entry's index in that layer. */
  private layers = new Int32Array(1024).fill(-1);
  private indexes = new Int32Array(1024);

  constructor(readonly table: PathTable) {}

  /** The layer of a path's live copy, or -1 when nothing lives there. */
  layerOf(id: number): number {
    return id < this.layers.length ? this.layers[id]! : -1;
  }

  indexOf(id: number): number {
    return this.indexes[id]!;
  }

  set(id: number, layer: number, index: number): void {
    if (id >= this.layers.length) this.grow(id + 1);
    this.layers[id] = layer;
    this.indexes[id] = index;
  }

  /** Removes everything below `id` (and `id` itself unless `keepSelf`), returning the copies that lived there. */
  remove(id: number, keepSelf = false): LiveCopy[] {
    const out: LiveCopy[] = [];
    const { table } = this;
    const stack = keepSelf ? [] : [id];
    if (keepSelf) for (let c = table.firstChild(id); c >= 0; c = table.nextSibling(c)) stack.push(c);
    while (stack.length > 0) {
      const p = stack.pop()!;
      const layer = this.layerOf(p);
      if (layer >= 0) {
        out.push({ id: p, layer, index: this.indexes[p]! });
        this.layers[p] = -1;
      }
      for (let c = table.firstChild(p); c >= 0; c = table.nextSibling(c)) stack.push(c);
    }
    return out;
  }

  /** The live copies, by path id. */
  *entries(): Generator<LiveCopy> {
    for (let id = 0; id < this.layers.length; id++) if (this.layers[id]! >= 0) yield { id, layer: this.layers[id]!, index: this.indexes[id]! };
  }

  private grow(n: number): void {
    const size = Math.max(n, this.layers.length * 2);
    const layers = new Int32Array(size).fill(-1);
    layers.set(this.layers);
    const indexes = new Int32Array(size);
    indexes.set(this.indexes);
    this.layers = layers;
    this.indexes = indexes;
  }
}
