/**
 * The build cache as an artifact other machines import (`shale build --cache-to`, `--cache-from`).
 *
 * Format (version 1): one OCI image manifest (`application/vnd.oci.image.manifest.v1+json`) with
 *   - `artifactType`: `application/vnd.shale.build-cache.v1`;
 *   - `config`: a JSON blob of media type `application/vnd.shale.build-cache.config.v1+json`:
 *       { "schemaVersion": 1, "mode": "min" | "max",
 *         "records": [ { "key": "<64 hex>", "history": { created, created_by, comment, empty_layer },
 *                        "layer": { "digest": "sha256:…", "diffId": "sha256:…" } } ] }
 *     one record per step: the step's cache key (`BuildCache.key`: its parent chain, starting at the base
 *     image ID, its expanded instruction, config, sources and mount inputs), the history entry the step
 *     added (its `created` time is what makes a rebuild elsewhere give the same image ID; metadata steps
 *     are derived from the Dockerfile, so only the classic builder's cached ones are recorded), and its
 *     layer, absent for a step that made none;
 *   - `layers`: every layer blob a record names, once each, in record order: a layer stored compressed as
 *     it is, an uncompressed one as its gzip copy (made once and remembered, as a push makes it); the
 *     media types say the compression, and each record's layer digest names the blob sent.
 * Which records: mode `min` (the default, as BuildKit's) the steps of the stages the image is made of (the
 * target and the stages it is FROM), `max` every step of every stage the build ran.
 * The base images are not part of it: the importing store must hold the same base (the keys start at
 * its image ID). The model is BuildKit's cache manifest (a config of records pointing at layer blobs);
 * the records are shale's own.
 */
import { z } from 'zod';
import { ShaleError } from '../internal/errors.js';
import { digestOf, HistorySchema, MediaType, ociLayerMediaType, parseJson, type Descriptor, type Digest, type History, type Manifest } from '../oci/index.js';
import type { Layer } from '../image/index.js';
import { storedCompressedLayer, type Store } from '../store/index.js';
import { defaultCompressionLevel, layerCompressionOf } from '../layer/index.js';
import type { CachedStep } from './build-cache.js';
import type { LayerStorer, StoredLayer } from './layer-storer.js';

export const CACHE_ARTIFACT_TYPE = 'application/vnd.shale.build-cache.v1';
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.shale.build-cache.config.v1+json';

export type CacheMode = 'min' | 'max';

/** One exported step: its key, history entry and layer (a blob of the artifact). */
export interface CacheRecord {
  key: string;
  history: History;
  layer?: StoredLayer;
}

/** The artifact as pushed or written: manifest and config bytes, and the layers it names (read from the store). */
export interface CacheArtifact {
  manifest: Manifest;
  rawManifest: Buffer;
  manifestDigest: Digest;
  rawConfig: Buffer;
  layers: Layer[];
  records: number;
  /** The cache mounts (directory names below the store's cache-mounts folder) this build's RUN steps opened. */
  cacheMounts: string[];
}

/** Where the build hands its cache (the CLI's registry push or OCI layout); a failure fails the build. */
export interface CacheTarget {
  mode: CacheMode;
  write(artifact: CacheArtifact): Promise<void>;
}

/** A step the build made or reused, with the stage it belongs to (for mode=min). */
export interface MadeStep {
  key: string;
  stage: number;
  step: CachedStep;
}

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/) as unknown as z.ZodType<Digest>;
const CacheConfigSchema = z.object({
  schemaVersion: z.literal(1),
  mode: z.enum(['min', 'max']),
  records: z.array(
    z.object({
      key: z.string().regex(/^[a-f0-9]{64}$/),
      history: HistorySchema,
      layer: z.object({ digest, diffId: digest }).optional(),
    }),
  ),
});

/**
 * The records of `made` that `mode` exports, each layer stored first (a step kept as a snapshot gets its
 * tar now, a step taken from an imported cache its blob), so every record names a blob of the store.
 */
export async function cacheRecords(made: MadeStep[], mode: CacheMode, imageStages: Set<number>, storer: LayerStorer): Promise<CacheRecord[]> {
  const chosen = new Map<string, CachedStep>();
  for (const m of made) if (mode === 'max' || imageStages.has(m.stage)) chosen.set(m.key, m.step);
  const out: CacheRecord[] = [];
  for (const [key, step] of chosen) {
    const layer = step.layer ?? (step.kept ? { kept: step.kept, key } : undefined);
    const [stored] = layer ? await storer.stored([layer]) : [];
    out.push({ key, history: step.history, ...(stored ? { layer: { descriptor: stored.descriptor, diffId: stored.diffId } } : {}) });
  }
  return out;
}

/** The artifact of `records` (see the format above); its layers read from `store`, uncompressed ones as their gzip copies. */
export async function cacheArtifact(store: Store, records: CacheRecord[], mode: CacheMode, cacheMounts: string[] = []): Promise<CacheArtifact> {
  const gzip = { compression: 'gzip' as const, level: defaultCompressionLevel('gzip') };
  const sent = new Map<Digest, Layer>(); // by the stored blob's digest
  for (const r of records) {
    if (!r.layer || sent.has(r.layer.descriptor.digest)) continue;
    let layer = store.layer(r.layer.descriptor, r.layer.diffId);
    if (layerCompressionOf(layer.descriptor.mediaType) === 'none') {
      const { record } = await storedCompressedLayer(store, layer, gzip);
      layer = store.layer({ mediaType: ociLayerMediaType('gzip'), digest: record.digest, size: record.size }, r.layer.diffId);
    }
    sent.set(r.layer.descriptor.digest, layer);
  }
  const doc = {
    schemaVersion: 1,
    mode,
    records: records.map((r) => ({ key: r.key, history: r.history, ...(r.layer ? { layer: { digest: sent.get(r.layer.descriptor.digest)!.descriptor.digest, diffId: r.layer.diffId } } : {}) })),
  };
  const rawConfig = Buffer.from(JSON.stringify(doc));
  const layers = [...sent.values()];
  const config: Descriptor = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: digestOf(rawConfig), size: rawConfig.length };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: CACHE_ARTIFACT_TYPE,
    config,
    layers: layers.map((l) => ({ mediaType: l.descriptor.mediaType, digest: l.descriptor.digest, size: l.descriptor.size })),
  };
  const rawManifest = Buffer.from(JSON.stringify(manifest));
  return { manifest, rawManifest, manifestDigest: digestOf(rawManifest), rawConfig, layers, records: records.length, cacheMounts };
}

/**
 * The records of an artifact read from outside, by key, each layer with its descriptor from the manifest.
 * `rawConfig` must be the blob the manifest names (checked here). Not a shale build cache: INVALID_ARGUMENT.
 */
export function readCacheArtifact(rawManifest: Buffer, rawConfig: Buffer, what: string): Map<string, CacheRecord> {
  const manifest = parseJson(z.object({ config: z.object({ mediaType: z.string(), digest, size: z.number() }), layers: z.array(z.object({ mediaType: z.string(), digest, size: z.number() })) }).passthrough(), rawManifest, `${what}: manifest`);
  if (manifest.config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
    throw new ShaleError('INVALID_ARGUMENT', `${what} is not a shale build cache (its config is ${manifest.config.mediaType})`);
  }
  if (digestOf(rawConfig) !== manifest.config.digest) throw new ShaleError('DIGEST_MISMATCH', `${what}: cache config does not match its digest ${manifest.config.digest}`);
  const doc = parseJson(CacheConfigSchema, rawConfig, `${what}: cache config`);
  const out = new Map<string, CacheRecord>();
  for (const r of doc.records) {
    let layer: StoredLayer | undefined;
    if (r.layer) {
      const d = manifest.layers.find((l) => l.digest === r.layer!.digest);
      if (!d) throw new ShaleError('CORRUPT_INPUT', `${what}: record ${r.key.slice(0, 12)} names layer ${r.layer.digest}, which the manifest does not list`);
      layer = { descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size }, diffId: r.layer.diffId };
    }
    out.set(r.key, { key: r.key, history: r.history, ...(layer ? { layer } : {}) });
  }
  return out;
}
