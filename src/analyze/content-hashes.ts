import { createHash } from 'node:crypto';
import { readTar, type TarSource } from '../layer/index.js';
import type { ScanEntry } from './layer-scan.js';

/**
 * SHA-1 of the contents of some entries of one layer, by tar position: read straight from where each
 * content lies when the layer allows it, else in one pass over the tar that skips the other contents.
 * Used only for the few copies whose content must be compared.
 */
export async function hashEntryContents(layer: TarSource, entries: readonly ScanEntry[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (entries.length === 0) return out;
  if (layer.openRanges && entries.every((e) => e.contentOffset !== undefined)) {
    const ranges = await layer.openRanges();
    try {
      for (const e of [...entries].sort((a, b) => a.contentOffset! - b.contentOffset!)) {
        const h = createHash('sha1');
        for await (const chunk of ranges.read(e.contentOffset!, e.size)) h.update(chunk);
        out.set(e.index, h.digest('hex'));
      }
    } finally {
      await ranges.close();
    }
    return out;
  }
  const wanted = new Set(entries.map((e) => e.index));
  const listing = layer.openForListing?.();
  let index = 0;
  for await (const entry of readTar(listing ?? layer.open(), { what: layer.what, verified: listing !== undefined })) {
    const i = index++;
    if (!wanted.has(i)) continue;
    const h = createHash('sha1');
    for await (const chunk of entry.body) h.update(chunk);
    out.set(i, h.digest('hex'));
    if (out.size === wanted.size) break;
  }
  return out;
}
