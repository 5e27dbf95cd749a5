import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { decompress } from './compression.js';
import type { StoredLayerFile } from './merged-tree.js';

/**
 * A file read as a stream of chunks that can also skip ahead without reading: a tar reader listing
 * headers jumps over file contents instead of reading them.
 */
export class SkippableFileSource implements AsyncIterableIterator<Uint8Array> {
  private fh?: FileHandle;
  private position = 0;
  private done = false;
  /** The read of the next chunk, started as soon as the previous one was handed out. */
  private ahead?: { position: number; read: Promise<Buffer> };

  /** Reads `path` from `start` up to `end` (the file's end when undefined). */
  constructor(
    private readonly path: string,
    private readonly chunkSize = 64 * 1024,
    private readonly start = 0,
    private readonly end?: number,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  private async readAt(position: number): Promise<Buffer> {
    this.fh ??= await open(this.path, 'r');
    const want = this.end === undefined ? this.chunkSize : Math.max(0, Math.min(this.chunkSize, this.end - this.start - position));
    const buf = Buffer.allocUnsafe(want);
    if (want === 0) return buf;
    const { bytesRead } = await this.fh.read(buf, 0, want, this.start + position);
    return buf.subarray(0, bytesRead);
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.done) return { done: true, value: undefined };
    let chunk: Buffer | undefined;
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead && ahead.position <= this.position) {
      const got = await ahead.read;
      // a skip may have moved past part (or all) of what was read ahead
      if (this.position < ahead.position + got.length || got.length === 0) chunk = got.subarray(this.position - ahead.position);
    } else if (ahead) {
      await ahead.read.catch(() => undefined);
    }
    chunk ??= await this.readAt(this.position);
    if (chunk.length === 0) return this.return();
    this.position += chunk.length;
    this.ahead = { position: this.position, read: this.readAt(this.position) };
    this.ahead.read.catch(() => undefined); // a failure shows when it is awaited
    return { done: false, value: chunk };
  }

  /** Moves the read position `n` bytes on. */
  skip(n: number): void {
    this.position += n;
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.done = true;
    if (this.ahead) await this.ahead.read.catch(() => undefined);
    this.ahead = undefined;
    await this.fh?.close();
    this.fh = undefined;
    return { done: true, value: undefined };
  }
}

/** A source iterator that can skip bytes without reading them. */
export const canSkip = (it: unknown): it is { skip(n: number): void } =>
  typeof (it as { skip?: unknown }).skip === 'function';

/** A stored blob opened to list its tar: a plain tar seeks over file contents, a compressed one is read through. */
export function openStoredFileForListing(file: StoredLayerFile, what: string): AsyncIterable<Uint8Array> {
  const { offset, length } = file.region ?? { offset: 0, length: undefined };
  if (file.plain) return new SkippableFileSource(file.path, 256 << 10, offset, length === undefined ? undefined : offset + length);
  const end = length === undefined ? undefined : offset + length - 1;
  if (length === 0) return decompress((async function* () {})(), { what });
  return decompress(createReadStream(file.path, { highWaterMark: 1 << 20, start: offset, end }), { what });
}
