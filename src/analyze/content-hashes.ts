import { createHash } from 'node:crypto';
import { readTar, type TarSource } from '../layer/index.js';

/**
 * SHA-1 of the contents of the entries at `indices` (tar positions) of one layer; the other contents
 * are skipped. Used only for the few copies whose content must be compared.
 */
export async function hashEntryContents(layer: TarSource, indices: ReadonlySet<number>): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (indices.size === 0) return out;
  let index = 0;
  const listing = layer.openForListing?.();
  for await (const entry of readTar(listing ?? layer.open(), { what: layer.what, verified: listing !== undefined })) {
    const i = index++;
    if (!indices.has(i)) continue;
    const h = createHash('sha1');
    for await (const chunk of entry.body) h.update(chunk);
    out.set(i, h.digest('hex'));
    if (out.size === indices.size) break;
  }
  return out;
}
