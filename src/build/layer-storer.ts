import type { Descriptor, Digest } from '../oci/index.js';
import { commitLayer, type Store } from '../store/index.js';
import type { KeptLayers } from '../snapshot/index.js';
import type { BuildCache } from './build-cache.js';
import type { ImportedCache } from './cache-import.js';
import { LayerTarThread } from './layer-tar-thread.js';

/** A stored layer: its blob's descriptor and its diffId. */
export type StoredLayer = { descriptor: Descriptor; diffId: Digest };

/** A step's snapshot kept unpacked (see KeptLayers), with the step's cache key: a layer with no tar yet. */
export type PendingLayer = { kept: string; key: string };

/**
 * A layer as the build goes: stored, or pending, made into a tar only if the image the build writes holds
 * it (BuildKit, too, exports only those).
 */
export type BuildLayer = StoredLayer | PendingLayer;

/**
 * Makes pending layers stored layers, each once: its tar is the one the step's snapshot gave, its blob goes
 * into the store, its directory becomes the stored layer's unpacked form, and its cached step records the
 * blob, so the next build finds it. The tars are written on a worker thread (`LayerTarThread`), so the
 * build's own thread is free for its steps. `start` begins that in the background (a step of the target's
 * own stages, while the next step runs); `stored` waits for a whole layer list; `close` ends the thread.
 */
export class LayerStorer {
  private readonly storing = new Map<string, Promise<StoredLayer>>();
  private readonly thread: LayerTarThread;

  constructor(
    private readonly store: Store,
    private readonly kept: KeptLayers,
    private readonly cache: BuildCache,
    private readonly imported?: ImportedCache,
  ) {
    this.thread = new LayerTarThread(store.root, store.content.ingestDir);
  }

  start(layer: PendingLayer): void {
    // a failure is reported by `stored`; until then it must not count as unhandled
    this.storeOnce(layer).catch(() => undefined);
  }

  /** The layers with the blob of each imported one in the store (see ImportedCache); the others as they are. */
  async present(layers: BuildLayer[]): Promise<BuildLayer[]> {
    const imported = this.imported;
    return imported ? Promise.all(layers.map((l) => imported.ensure(l))) : layers;
  }

  async stored(all: BuildLayer[]): Promise<StoredLayer[]> {
    const layers = await this.present(all);
    for (const l of layers) if ('kept' in l) this.start(l);
    return Promise.all(layers.map((l) => ('kept' in l ? this.storeOnce(l) : l)));
  }

  /** Waits for every layer being stored to finish (or fail), so no write outlives the build, and ends the thread. */
  async close(): Promise<void> {
    await Promise.allSettled(this.storing.values());
    await this.thread.close();
  }

  private storeOnce(layer: PendingLayer): Promise<StoredLayer> {
    let p = this.storing.get(layer.kept);
    if (!p) {
      p = this.storeNow(layer);
      this.storing.set(layer.kept, p);
    }
    return p;
  }

  private async storeNow(layer: PendingLayer): Promise<StoredLayer> {
    const ingested = await this.thread.tar(this.kept.pathOf(layer.kept), `layer of step ${layer.key.slice(0, 12)}`);
    const { descriptor, info } = await commitLayer(this.store, ingested);
    await this.kept.adopt(layer.kept, info.diffId);
    const step = await this.cache.get(layer.key);
    if (step) await this.cache.put(layer.key, { ...step, layer: { descriptor, diffId: info.diffId } });
    return { descriptor, diffId: info.diffId };
  }
}
