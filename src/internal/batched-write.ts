import type { FileHandle } from 'node:fs/promises';

/** Bytes gathered before they are written in one call. */
export const WRITE_BATCH = 4 << 20;

/**
 * Writes every chunk of `source` to `file` at its position, in batches of about WRITE_BATCH bytes, one
 * batch written while the next is gathered; `onChunk` sees each chunk as it arrives (a hash, a size
 * check that may throw). Chunks must stay as they are once handed over (they are written later). Returns
 * the bytes written.
 */
export async function writeBatched(
  file: FileHandle,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  let writing: Promise<unknown> = Promise.resolve();
  let total = 0;
  try {
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    for await (const c of source) {
      onChunk?.(c);
      if (c.byteLength === 0) continue;
      batch.push(c);
      batchBytes += c.byteLength;
      total += c.byteLength;
      if (batchBytes >= WRITE_BATCH) {
        await writing;
        writing = writeAll(file, batch);
        batch = [];
        batchBytes = 0;
      }
    }
    await writing;
    await writeAll(file, batch);
    return total;
  } finally {
    await writing.catch(() => undefined);
  }
}

/** Writes all of `chunks` at the file's position (writev may write less than asked). */
async function writeAll(file: FileHandle, chunks: Uint8Array[]): Promise<void> {
  let rest = chunks;
  while (rest.length > 0) {
    let { bytesWritten } = await file.writev(rest);
    let done = 0;
    while (done < rest.length && bytesWritten >= rest[done]!.byteLength) bytesWritten -= rest[done++]!.byteLength;
    rest = rest.slice(done);
    if (bytesWritten > 0) rest = [rest[0]!.subarray(bytesWritten), ...rest.slice(1)];
  }
}
