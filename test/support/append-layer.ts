/**
 * Builds images with the library (compiled in dist/src): a one-file layer tar, and "append a layer to an
 * image and tag the result", done the way shale's own import/load do it (ingest, describe, commit under
 * the store lock, config + manifest, tags).
 */
import { createReadStream } from 'node:fs';
import { Store, describeLayerBlob } from '../../src/store/index.js';
import { appendLayerToConfig, canonicalJson, makeManifest } from '../../src/image/index.js';
import { makeHeader, writeTar, type TarWriteEntry } from '../../src/layer/index.js';
import { MediaType, type Digest } from '../../src/oci/index.js';

/** The bytes of a tar with these entries, written by shale's tar writer. */
export async function tarBytes(entries: TarWriteEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of writeTar(entries)) parts.push(c);
  return Buffer.concat(parts);
}

/** A layer tar holding exactly one regular file (no directory entries): its content size is `data.length`. */
export const oneFileLayer = (name: string, data: Buffer): Promise<Buffer> =>
  tarBytes([{ header: makeHeader({ name, type: 'file', size: data.length, mode: 0o644 }), body: data }]);

/**
 * Tags as `newRef` the image `baseRef` with `layerTar` (uncompressed) added on top. Returns the new image
 * ID and the layer's digest.
 */
export async function appendLayer(
  storeRoot: string,
  baseRef: string,
  newRef: string,
  layerTar: Buffer,
  createdBy = 'appended by a test',
): Promise<{ id: Digest; layerDigest: Digest }> {
  const store = await Store.open(storeRoot);
  const { image } = await store.resolve(baseRef);
  const ing = await store.content.ingest([layerTar], {}, 'test layer');
  try {
    const info = await describeLayerBlob(ing.digest, createReadStream(ing.tempPath), 'test layer');
    const created = new Date(Date.parse(image.config.created ?? '2020-01-01T00:00:00Z') + 1000).toISOString();
    const config = appendLayerToConfig(image.config, info.diffId, { created, created_by: createdBy });
    const rawConfig = canonicalJson(config);
    return await store.withLock(async () => {
      if (await store.content.has(ing.digest)) await store.content.discard(ing);
      else await store.content.commit(ing);
      await store.layerInfos.put(info);
      const configDigest = await store.content.putBytes(rawConfig);
      const rawManifest = canonicalJson(
        makeManifest({ mediaType: MediaType.ociConfig, digest: configDigest, size: rawConfig.length }, [
          ...image.manifest.layers,
          { mediaType: MediaType.ociLayer, digest: ing.digest, size: ing.size },
        ]),
      );
      const manifestDigest = await store.content.putBytes(rawManifest);
      await store.setTags({ mediaType: MediaType.ociManifest, digest: manifestDigest, size: rawManifest.length }, [newRef]);
      return { id: configDigest, layerDigest: ing.digest };
    });
  } finally {
    await store.content.discard(ing);
  }
}
