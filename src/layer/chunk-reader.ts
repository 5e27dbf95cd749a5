import { ShaleError } from '../internal/errors.js';
import { canSkip } from './file-source.js';

const EMPTY = Buffer.alloc(0);

/** Reads exact byte counts from an async stream of chunks, without copying more than it must. */
export class ChunkReader {
  private chunks: Buffer[] = [];
  private head = 0; // index of the first live chunk
  private buffered = 0;
  private ended = false;
  private readonly it: AsyncIterator<Uint8Array>;
  /** Total bytes handed out or skipped so far: the offset of the next byte. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>, private readonly what: string) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const v = r.value;
      if (v.byteLength === 0) continue;
      this.chunks.push(Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      this.buffered += v.byteLength;
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[this.head]!;
    let out: Buffer;
    if (first.length > n) {
      out = first.subarray(0, n);
      this.chunks[this.head] = first.subarray(n);
    } else if (first.length === n) {
      out = first;
      this.chunks[this.head++] = Buffer.alloc(0);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[this.head]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.head++;
        else this.chunks[this.head] = c.subarray(k);
      }
    }
    this.consumed(n);
    return out;
  }

  /** Exactly n bytes when that many are buffered already, without waiting; else undefined. */
  takeIfBuffered(n: number): Buffer | undefined {
    return this.buffered >= n && n > 0 ? this.take(n) : undefined;
  }

  /** Skips n bytes when that many are buffered already; false (nothing done) otherwise. */
  skipIfBuffered(n: number): boolean {
    if (this.buffered < n) return false;
    if (n > 0) this.drop(n);
    return true;
  }

  /** Books n bytes as handed out: empty chunks dropped, the list compacted now and then. */
  private consumed(n: number): void {
    while (this.head < this.chunks.length && this.chunks[this.head]!.length === 0) this.head++;
    if (this.head > 64) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    this.buffered -= n;
    this.position += n;
  }

  /** Drops n buffered bytes (n <= buffered) without copying them. */
  private drop(n: number): void {
    let left = n;
    while (left > 0) {
      const c = this.chunks[this.head]!;
      if (c.length <= left) {
        left -= c.length;
        this.chunks[this.head++] = EMPTY;
      } else {
        this.chunks[this.head] = c.subarray(left);
        left = 0;
      }
    }
    this.consumed(n);
  }

  /** Exactly n bytes; null at a clean end of input (nothing left); throws on a short read. */
  async readExact(n: number): Promise<Buffer | null> {
    await this.fill(n);
    if (this.buffered === 0 && this.ended) return null;
    if (this.buffered < n) throw this.truncated();
    return this.take(n);
  }

  /** Yields the next n bytes in pieces as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0) await this.fill(1);
      if (this.buffered === 0) throw this.truncated();
      const c = this.chunks[this.head]!;
      const k = Math.min(c.length, left);
      left -= k;
      yield this.take(k);
    }
  }

  async skip(n: number): Promise<void> {
    const buffered = Math.min(n, this.buffered);
    if (buffered > 0) this.drop(buffered);
    const left = n - buffered;
    if (left > 0 && canSkip(this.it)) {
      // the source seeks: jump over the bytes; a short file shows up as truncation on the next read
      this.it.skip(left);
      this.position += left;
      return;
    }
    for await (const _ of this.stream(left)) void _;
  }

  /** Reads and drops everything left in the source. */
  async drain(): Promise<void> {
    this.position += this.buffered;
    this.chunks = [];
    this.head = 0;
    this.buffered = 0;
    while (!this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.position += r.value.byteLength;
    }
  }

  /** Releases the source (closes its file or stream) once nothing more will be read. */
  async close(): Promise<void> {
    await this.it.return?.();
  }

  truncated(): ShaleError {
    return new ShaleError('CORRUPT_INPUT', `${this.what}: unexpected end of data at byte ${this.position + this.buffered} (truncated)`);
  }
}
