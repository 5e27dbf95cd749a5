import { createGunzip, createGzip, constants as zlibConstants } from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Decompress as ZstdDecompress } from 'fzstd';
import { ShaleError } from '../internal/errors.js';
import type { Compression } from '../oci/media-types.js';

export type { Compression };

/** Recognises gzip and zstd by their magic bytes; anything else is taken as plain. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** Default cap on bytes produced by decompressing one stream: a bomb stops here. */
export const defaultMaxUncompressedBytes = (): number => {
  const v = Number(process.env.SHALE_MAX_UNCOMPRESSED_BYTES);
  return Number.isSafeInteger(v) && v > 0 ? v : 2 ** 40;
};

export interface DecompressOptions {
  what: string;
  maxBytes?: number;
}

/**
 * Splits off enough leading bytes to sniff, then hands back the whole stream unchanged. Ending `all`
 * early (return) also ends the source, so an abandoned read closes its file and drops its hasher.
 */
async function peek(source: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Buffer; all: AsyncIterable<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]();
  const got: Uint8Array[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    got.push(r.value);
    len += r.value.byteLength;
  }
  const head = Buffer.concat(got);
  const rest: AsyncIterator<Uint8Array> = {
    next: async () => (got.length > 0 ? { value: got.shift()!, done: false } : done ? { value: undefined, done: true } : it.next()),
    return: async () => {
      got.length = 0;
      if (!done) {
        done = true;
        await it.return?.();
      }
      return { value: undefined, done: true };
    },
  };
  return { head, all: { [Symbol.asyncIterator]: () => rest } };
}

/** Compressed bytes handed to the zstd decoder at a time: at most ~32 MiB of output each. */
const ZSTD_SLICE = 1024;

/** The uncompressed bytes of a plain, gzip or zstd stream, capped at `maxBytes`. */
export async function* decompress(source: AsyncIterable<Uint8Array>, options: DecompressOptions): AsyncGenerator<Buffer> {
  const { head, all } = await peek(source, 4);
  const kind = sniffCompression(head);
  const max = options.maxBytes ?? defaultMaxUncompressedBytes();
  let total = 0;
  const count = (c: Buffer): Buffer => {
    total += c.length;
    if (kind !== 'none' && total > max) {
      throw new ShaleError('LIMIT_EXCEEDED', `${options.what}: decompresses to more than ${max} bytes; stopped`, {
        hint: 'raise SHALE_MAX_UNCOMPRESSED_BYTES if this is expected',
      });
    }
    return c;
  };
  if (kind === 'none') {
    for await (const c of all) yield Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    return;
  }
  if (kind === 'gzip') {
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    const done = pipeline(Readable.from(all, { objectMode: false }), gunzip).catch((e) => gunzip.destroy(e));
    try {
      for await (const c of gunzip) yield count(c as Buffer);
    } catch (e) {
      if (e instanceof ShaleError) throw e;
      throw new ShaleError('CORRUPT_INPUT', `${options.what}: bad gzip data: ${(e as Error).message}`);
    } finally {
      gunzip.destroy();
      await done;
    }
    return;
  }
  // fzstd expands a whole pushed chunk before returning, and zstd can expand 4 bytes to a 128 KiB block:
  // push small slices, and count in the callback, so that neither a bomb nor a legitimately very
  // compressible chunk is held whole in memory.
  const out: Buffer[] = [];
  const z = new ZstdDecompress((chunk) => {
    out.push(count(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  });
  try {
    for await (const c of all) {
      const bytes = c instanceof Uint8Array ? c : new Uint8Array(c);
      for (let off = 0; off < bytes.length; off += ZSTD_SLICE) {
        z.push(bytes.subarray(off, off + ZSTD_SLICE));
        while (out.length > 0) yield out.shift()!;
      }
    }
    z.push(new Uint8Array(0), true);
    while (out.length > 0) yield out.shift()!;
  } catch (e) {
    if (e instanceof ShaleError) throw e;
    throw new ShaleError('CORRUPT_INPUT', `${options.what}: bad zstd data: ${(e as Error).message}`);
  }
}

/** Gzip-compresses a stream (deterministic: no name, no mtime in the gzip header). */
export function gzip(source: AsyncIterable<Uint8Array>, level = zlibConstants.Z_DEFAULT_COMPRESSION): Readable {
  const gz = createGzip({ level, chunkSize: 256 * 1024 });
  pipeline(Readable.from(source, { objectMode: false }), gz).catch((e) => gz.destroy(e));
  return gz;
}
