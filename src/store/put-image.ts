import { MediaType, normalizeReference, type Descriptor, type Digest, type ImageConfig } from '../oci/index.js';
import { canonicalJson, makeManifest } from '../image/index.js';
import { diffIdOfDescriptor, isLendingLayerTar } from '../layer/index.js';
import { ShaleError } from '../internal/errors.js';
import { ingestBlob, ingestLendingLayer, type IngestedBlob, type LayerInfo } from './layer-info.js';
import type { Store } from './store.js';

/**
 * Stores an uncompressed layer tar (checked and described in the same pass) and returns its descriptor.
 * A tar shale writes itself (a snapshot's diff) is stored from its lent chunks, with the summary it counted.
 */
export async function putLayer(store: Store, tar: AsyncIterable<Uint8Array>, what: string): Promise<{ descriptor: Descriptor; info: LayerInfo }> {
  return commitLayer(store, isLendingLayerTar(tar) ? await ingestLendingLayer(store.content, tar, what) : await ingestBlob(store.content, tar, what));
}

/** Commits an ingested layer tar (made on this thread or another) with its record; the ingestion is gone after, either way. */
export async function commitLayer(store: Store, { ing, layer, layerError }: IngestedBlob): Promise<{ descriptor: Descriptor; info: LayerInfo }> {
  try {
    if (!layer) throw layerError;
    await store.withLock(async () => {
      await store.content.commitOnce(ing);
      await store.layerInfos.put(layer);
      await store.lease([ing.digest]);
    });
    return { descriptor: { mediaType: MediaType.ociLayer, digest: ing.digest, size: ing.size }, info: layer };
  } finally {
    await store.content.discard(ing);
  }
}

/**
 * Fetches a layer blob from outside into the store, verified by its digest and size only (as a pull stores
 * one): its diffId is checked when it is first read, and it is described on first use. A plain tar's
 * digest is its diffId, checked here.
 */
export async function fetchLayerBlob(store: Store, d: Descriptor, diffId: Digest, source: AsyncIterable<Uint8Array>, what: string): Promise<void> {
  const known = diffIdOfDescriptor(d);
  if (known !== undefined && known !== diffId) throw new ShaleError('DIGEST_MISMATCH', `${what}: an uncompressed layer's digest must be its diffId ${diffId}`);
  const ing = await store.content.ingest(source, { digest: d.digest, size: d.size }, what);
  try {
    await store.withLock(async () => {
      await store.content.commitOnce(ing);
      await store.lease([ing.digest]);
    });
  } finally {
    await store.content.discard(ing);
  }
}

/**
 * Stores a config and a manifest over layers already in the store, and points `tags` at it.
 * Returns the image ID (the config digest) and the manifest digest.
 */
export async function putImage(
  store: Store,
  config: ImageConfig,
  layers: Descriptor[],
  tags: string[],
  annotations?: Record<string, string>,
): Promise<{ id: Digest; manifestDigest: Digest }> {
  const refs = tags.map((t) => normalizeReference(t));
  const rawConfig = canonicalJson(config);
  return store.withLock(async () => {
    const id = await store.content.putBytes(rawConfig);
    const rawManifest = canonicalJson(makeManifest({ mediaType: MediaType.ociConfig, digest: id, size: rawConfig.length }, layers, annotations));
    const manifestDigest = await store.content.putBytes(rawManifest);
    await store.setTags({ mediaType: MediaType.ociManifest, digest: manifestDigest, size: rawManifest.length }, refs);
    return { id, manifestDigest };
  });
}
