import { open, type FileHandle } from 'node:fs/promises';

/**
 * A file read as a stream of chunks that can also skip ahead without reading: a tar reader listing
 * headers jumps over file contents instead of reading them.
 */
export class SkippableFileSource implements AsyncIterableIterator<Uint8Array> {
  private fh?: FileHandle;
  private position = 0;
  private done = false;

  constructor(private readonly path: string, private readonly chunkSize = 64 * 1024) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.done) return { done: true, value: undefined };
    this.fh ??= await open(this.path, 'r');
    const buf = Buffer.allocUnsafe(this.chunkSize);
    const { bytesRead } = await this.fh.read(buf, 0, this.chunkSize, this.position);
    if (bytesRead === 0) return this.return();
    this.position += bytesRead;
    return { done: false, value: buf.subarray(0, bytesRead) };
  }

  /** Moves the read position `n` bytes on. */
  skip(n: number): void {
    this.position += n;
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.done = true;
    await this.fh?.close();
    this.fh = undefined;
    return { done: true, value: undefined };
  }
}

/** A source iterator that can skip bytes without reading them. */
export const canSkip = (it: unknown): it is { skip(n: number): void } =>
  typeof (it as { skip?: unknown }).skip === 'function';
