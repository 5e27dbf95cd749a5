import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { ShaleError } from '../internal/errors.js';
import { readTar, type TarSource } from '../layer/index.js';
import type { ScanEntry } from './layer-scan.js';

/**
 * SHA-1 of the contents of some entries of one layer, by tar position: read straight from where each
 * content lies when the layer is a plain stored tar, else in one pass over the tar that skips the other
 * contents. Used only for the copies whose content must be compared.
 */
export async function hashEntryContents(layer: TarSource, entries: readonly ScanEntry[]): Promise<Map<number, string>> {
  if (entries.length === 0) return new Map();
  if (layer.storedFile?.plain && entries.every((e) => e.contentOffset !== undefined)) return hashByOffset(layer.storedFile.path, layer.what, entries);
  const out = new Map<number, string>();
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

/** Positioned reads in file order, one buffer reused: most compared files are small, so reads are few and cheap. */
function hashByOffset(path: string, what: string, entries: readonly ScanEntry[]): Map<number, string> {
  const out = new Map<number, string>();
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (const e of [...entries].sort((a, b) => a.contentOffset! - b.contentOffset!)) {
      const h = createHash('sha1');
      for (let done = 0; done < e.size; ) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, e.size - done), e.contentOffset! + done);
        if (n === 0) throw new ShaleError('CORRUPT_INPUT', `${what}: ends before byte ${e.contentOffset! + e.size}`);
        h.update(buf.subarray(0, n));
        done += n;
      }
      out.set(e.index, h.digest('hex'));
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
