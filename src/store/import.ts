import { normalizeReference, type Digest } from '../oci/index.js';
import { decompress } from '../layer/index.js';
import { importedConfig } from '../image/index.js';
import { putImage, putLayer } from './put-image.js';
import type { Store } from './store.js';

/**
 * `shale import`: a root filesystem tar (plain, gzip or zstd) becomes a one-layer image, stored
 * uncompressed, as `docker import` makes it. Entry names are checked before anything is committed.
 */
export async function importRootfs(store: Store, source: AsyncIterable<Uint8Array>, ref: string | undefined, what: string): Promise<{ ref: string | null; id: Digest }> {
  const { descriptor, info } = await putLayer(store, decompress(source, { what }), what);
  const { id } = await putImage(store, importedConfig(info.diffId), [descriptor], ref === undefined ? [] : [ref]);
  return { ref: ref === undefined ? null : normalizeReference(ref), id };
}
