import type { Descriptor, Digest, History, ImageConfig, Manifest } from '../oci/index.js';
import { hostPlatform, MediaType } from '../oci/index.js';

/** The creation time to record: SOURCE_DATE_EPOCH when set (reproducible builds), else now. */
export function createdNow(): string {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  const date = Number.isSafeInteger(epoch) && epoch >= 0 ? new Date(epoch * 1000) : new Date();
  // RFC 3339 with the fraction's trailing zeros dropped, as Go writes times (Docker re-writes `.180Z` as `.18Z`)
  return date.toISOString().replace(/\.(\d{3})Z$/, (_, ms: string) => (/[1-9]/.test(ms) ? `.${ms.replace(/0+$/, '')}Z` : 'Z'));
}

/** A config with one more layer and its history entry; the input is not changed. */
export function appendLayerToConfig(config: ImageConfig, diffId: Digest, history: History): ImageConfig {
  return {
    ...config,
    created: history.created ?? config.created,
    rootfs: { ...config.rootfs, type: 'layers', diff_ids: [...config.rootfs.diff_ids, diffId] },
    history: [...(config.history ?? []), history],
  };
}

/** An OCI manifest for a config and its layers. */
export function makeManifest(config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Manifest {
  const m: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  if (annotations && Object.keys(annotations).length > 0) m.annotations = annotations;
  return m;
}

/** A fresh config for a one-layer image made from a root filesystem tar (as `docker import` makes). */
export function importedConfig(diffId: Digest, comment = 'Imported from -'): ImageConfig {
  const created = createdNow();
  return {
    ...hostPlatform(),
    created,
    config: {},
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, comment }],
  };
}

/** Serialises JSON the one way shale does, so equal documents give equal digests. */
export const canonicalJson = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
