import { MediaType, normalizeReference, type Digest } from '../oci/index.js';
import { decompress } from '../layer/index.js';
import { canonicalJson, importedConfig, makeManifest } from '../image/index.js';
import { ingestBlob } from './layer-info.js';
import type { Store } from './store.js';

/**
 * `shale import`: a root filesystem tar (plain, gzip or zstd) becomes a one-layer image, stored
 * uncompressed, as `docker import` makes it. Entry names are checked before anything is committed.
 */
export async function importRootfs(store: Store, source: AsyncIterable<Uint8Array>, ref: string | undefined, what: string): Promise<{ ref: string | null; id: Digest }> {
  const tag = ref === undefined ? undefined : normalizeReference(ref);
  const { ing, layer: info, layerError } = await ingestBlob(store.content, decompress(source, { what }), what);
  try {
    if (!info) throw layerError;
    const rawConfig = canonicalJson(importedConfig(info.diffId));
    return await store.withLock(async () => {
      if (await store.content.has(ing.digest)) await store.content.discard(ing);
      else await store.content.commit(ing);
      await store.layerInfos.put(info);
      const configDigest = await store.content.putBytes(rawConfig);
      const rawManifest = canonicalJson(
        makeManifest({ mediaType: MediaType.ociConfig, digest: configDigest, size: rawConfig.length }, [
          { mediaType: MediaType.ociLayer, digest: ing.digest, size: ing.size },
        ]),
      );
      const manifestDigest = await store.content.putBytes(rawManifest);
      await store.setTags({ mediaType: MediaType.ociManifest, digest: manifestDigest, size: rawManifest.length }, tag ? [tag] : []);
      return { ref: tag ?? null, id: configDigest };
    });
  } finally {
    await store.content.discard(ing);
  }
}
