/**
 * Steps reused from a cache another build exported (`--cache-from`, format in `cache-export.ts`): a step
 * whose key the local cache lacks but a source has is taken as cached without its layer; the layer is
 * downloaded only when something needs it (a later step that runs over it, a COPY --from or mount of its
 * stage, the image the build writes, a cache export). A blob that does not match its digest or size is
 * refused with a warning and the step runs instead; the build goes on. A compressed blob's diffId is
 * checked when it is first read, as a pulled one's (`fetchLayerBlob`).
 */
import { isShaleError, ShaleError } from '../internal/errors.js';
import type { Descriptor } from '../oci/index.js';
import { fetchLayerBlob, type Store } from '../store/index.js';
import type { KeptLayerRef } from '../snapshot/index.js';
import type { BuildCache, CachedStep } from './build-cache.js';
import type { CacheRecord } from './cache-export.js';
import type { BuildLayer, StoredLayer } from './layer-storer.js';

/** An exported cache as the CLI read it (a registry or an OCI layout): its records, and its blobs on demand. */
export interface CacheSource {
  /** For messages: `registry host/repo:tag`, `local DIR`. */
  name: string;
  records: Map<string, CacheRecord>;
  /** A layer blob's bytes; verified by the reader against the descriptor. */
  openBlob(descriptor: Descriptor): AsyncIterable<Uint8Array>;
}

/** A layer of an imported step whose blob may not be in the store yet. */
export type RemoteLayer = StoredLayer & { remoteKey: string };

/** Runs the step of a hit again (when its blob is refused): its layer as the step runner gives it. */
export type RerunStep = () => Promise<StoredLayer | KeptLayerRef | undefined>;

// what a bad or missing blob raises; anything else (the registry gone, an interrupt) fails the build
const CONTENT_ERRORS = ['DIGEST_MISMATCH', 'SIZE_MISMATCH', 'CORRUPT_INPUT', 'NOT_FOUND'] as const;

export class ImportedCache {
  private readonly hits = new Map<string, { source: CacheSource; record: CacheRecord; rerun: RerunStep }>();
  private readonly present = new Map<string, Promise<BuildLayer>>();

  constructor(
    private readonly store: Store,
    private readonly cache: BuildCache,
    private readonly sources: CacheSource[],
    private readonly warn: (message: string) => void,
  ) {}

  /** The step of `key` from the first source that has it (its layer a RemoteLayer), else undefined. */
  lookup(key: string, rerun: RerunStep): CachedStep | undefined {
    for (const source of this.sources) {
      const record = source.records.get(key);
      if (!record) continue;
      this.hits.set(key, { source, record, rerun });
      const layer: RemoteLayer | undefined = record.layer ? { ...record.layer, remoteKey: key } : undefined;
      return { history: record.history, ...(layer ? { layer } : {}) };
    }
    return undefined;
  }

  /** `layer` with its blob in the store (downloaded once, or the step run again): other layers as they are. */
  ensure(layer: BuildLayer): Promise<BuildLayer> {
    if (!('remoteKey' in layer)) return Promise.resolve(layer);
    const key = (layer as RemoteLayer).remoteKey;
    let p = this.present.get(key);
    if (!p) {
      p = this.fetch(key);
      this.present.set(key, p);
    }
    return p;
  }

  private async fetch(key: string): Promise<BuildLayer> {
    const hit = this.hits.get(key)!;
    const wanted = hit.record.layer!;
    const d = wanted.descriptor;
    if (await this.store.content.has(d.digest)) {
      await this.store.lease([d.digest]);
      await this.cache.put(key, { history: hit.record.history, layer: wanted });
      return wanted;
    }
    const what = `${hit.source.name}: layer ${d.digest} of step ${key.slice(0, 12)}`;
    try {
      await fetchLayerBlob(this.store, d, wanted.diffId, hit.source.openBlob(d), what);
      await this.cache.put(key, { history: hit.record.history, layer: wanted });
      return wanted;
    } catch (e) {
      if (!CONTENT_ERRORS.some((c) => isShaleError(e, c))) throw e;
      this.warn(`${(e as Error).message}: refused, running the step instead`);
    }
    const made = await hit.rerun();
    if (!made) throw new ShaleError('FAILED_PRECONDITION', `step ${key.slice(0, 12)} changed no file when run again, its cached layer did`);
    await this.cache.put(key, { history: hit.record.history, ...('kept' in made ? { kept: made.kept } : { layer: made }) });
    return 'kept' in made ? { kept: made.kept, key } : made;
  }
}
