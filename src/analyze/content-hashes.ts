import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { closeSync, openSync } from 'node:fs';
import { mapLimit } from '../internal/map-limit.js';
import { readAt } from '../internal/read-at.js';
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
  if (layer.storedFile?.plain && entries.every((e) => e.contentOffset !== undefined)) return hashByOffset(layer, entries);
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
function hashByOffset(layer: TarSource, entries: readonly ScanEntry[]): Map<number, string> {
  const out = new Map<number, string>();
  const files = new OpenFiles();
  try {
    for (const entry of [...entries].sort((a, b) => a.contentOffset! - b.contentOffset!)) {
      const h = createHash('sha1');
      files.forEachChunk({ layer, entry }, (chunk) => h.update(chunk));
      out.set(entry.index, h.digest('hex'));
    }
  } finally {
    files.close();
  }
  return out;
}

/** A file entry of a layer. */
export interface LayerFile {
  layer: TarSource;
  entry: ScanEntry;
}

/**
 * For each pair of same-sized files, whether they hold the same bytes: read side by side and compared
 * where both lie in plain stored tars (stopping at the first difference), else by hashing the contents
 * of each layer in one pass.
 */
export async function sameContents(pairs: readonly [LayerFile, LayerFile][]): Promise<boolean[]> {
  const direct = (f: LayerFile) => f.layer.storedFile?.plain === true && f.entry.contentOffset !== undefined;
  const out = pairs.map(() => false);
  const hashed: number[] = [];
  const files = new OpenFiles();
  try {
    pairs.forEach(([a, b], i) => {
      if (direct(a) && direct(b)) out[i] = files.sameBytes(a, b);
      else hashed.push(i);
    });
  } finally {
    files.close();
  }
  if (hashed.length === 0) return out;
  // the rest: each layer's wanted contents hashed in one pass
  const layers = [...new Set(hashed.flatMap((i) => pairs[i]!.map((f) => f.layer)))];
  const wanted = layers.map((layer) => {
    const entries = new Map<number, ScanEntry>();
    for (const i of hashed) for (const f of pairs[i]!) if (f.layer === layer) entries.set(f.entry.index, f.entry);
    return [...entries.values()];
  });
  const hashes = await mapLimit(layers, availableParallelism(), (layer, k) => hashEntryContents(layer, wanted[k]!));
  const hashOf = (f: LayerFile) => hashes[layers.indexOf(f.layer)]!.get(f.entry.index);
  for (const i of hashed) out[i] = hashOf(pairs[i]![0]) === hashOf(pairs[i]![1]);
  return out;
}

/** Plain stored files kept open while entry contents are read from them by offset, through one pair of buffers. */
class OpenFiles {
  private readonly fds = new Map<string, number>();
  private readonly a = Buffer.allocUnsafe(1 << 20);
  private readonly b = Buffer.allocUnsafe(1 << 20);

  /** `n` bytes of an entry's content from `at`. */
  private read(f: LayerFile, into: Buffer, at: number, n: number): Buffer {
    const file = f.layer.storedFile!;
    let fd = this.fds.get(file.path);
    if (fd === undefined) this.fds.set(file.path, (fd = openSync(file.path, 'r')));
    if (readAt(fd, into, n, (file.region?.offset ?? 0) + f.entry.contentOffset! + at) < n) {
      throw new ShaleError('CORRUPT_INPUT', `${f.layer.what}: ends before byte ${f.entry.contentOffset! + f.entry.size}`);
    }
    return into.subarray(0, n);
  }

  /** An entry's content, a buffer at a time (valid until the next call). */
  forEachChunk(f: LayerFile, fn: (chunk: Buffer) => void): void {
    for (let at = 0; at < f.entry.size; at += this.a.length) fn(this.read(f, this.a, at, Math.min(this.a.length, f.entry.size - at)));
  }

  sameBytes(x: LayerFile, y: LayerFile): boolean {
    for (let at = 0; at < x.entry.size; at += this.a.length) {
      const n = Math.min(this.a.length, x.entry.size - at);
      if (!this.read(x, this.a, at, n).equals(this.read(y, this.b, at, n))) return false;
    }
    return true;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
  }
}
