import { closeSync, fstatSync, openSync } from 'node:fs';
import { ShaleError } from '../internal/errors.js';
import { readAt } from '../internal/read-at.js';
import { BLOCK, decodeRawHeader, isZeroBlock, padLength, type TarHeader } from './tar-header.js';
import { HeaderExtensions, type ReadTarOptions } from './tar-reader.js';

/**
 * Bytes read at a time: the headers of many small entries come in one read, and little of a big file's
 * content is read for nothing before its next header.
 */
const CHUNK = 64 << 10;

/** Synchronous positioned reads of a file through one buffer, reused: what `at` returns is valid until the next call. */
class FileWindow {
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private start = 0;
  private length = 0;

  constructor(
    private readonly fd: number,
    private readonly what: string,
    /** Where the tar starts in the file (positions are the tar's), and its length: nothing past it is read. */
    private readonly base: number,
    private readonly limit: number,
  ) {}

  /** The `n` bytes at `pos`, or null when the file ends exactly at `pos`. */
  at(pos: number, n: number): Buffer | null {
    if (pos >= this.start && pos + n <= this.start + this.length) return this.buf.subarray(pos - this.start, pos - this.start + n);
    if (n > CHUNK) {
      const big = Buffer.allocUnsafe(n);
      const got = this.fill(big, pos);
      return this.checked(big, got, pos, n);
    }
    this.start = pos;
    this.length = this.fill(this.buf, pos);
    return this.checked(this.buf, this.length, pos, n);
  }

  private fill(target: Buffer, pos: number): number {
    return readAt(this.fd, target, Math.max(0, Math.min(target.length, this.limit - pos)), this.base + pos);
  }

  private checked(b: Buffer, got: number, pos: number, n: number): Buffer | null {
    if (got === 0) return null;
    if (got < n) throw new ShaleError('CORRUPT_INPUT', `${this.what}: unexpected end of data at byte ${pos + got} (truncated)`);
    return b.subarray(0, n);
  }
}

/**
 * Lists a plain tar file as `listTar` does (the same formats, checks and errors; contents skipped), but
 * synchronously, reading 64 KiB at a time and seeking over big contents: the fast way to list a stored
 * layer on a worker thread. Returns false, part way, at an old GNU sparse entry ('S'), which only the
 * stream reader reads: the caller then lists the file again with `listTar`.
 */
export function listTarFile(
  path: string,
  options: ReadTarOptions & { region?: { offset: number; length: number } },
  onEntry: (header: TarHeader, index: number, contentOffset: number | undefined) => void,
): boolean {
  const what = options.what ?? 'tar';
  const corrupt = (msg: string): ShaleError => new ShaleError('CORRUPT_INPUT', `${what}: ${msg}`);
  const fd = openSync(path, 'r');
  try {
    const size = options.region?.length ?? fstatSync(fd).size;
    const file = new FileWindow(fd, what, options.region?.offset ?? 0, size);
    const extensions = new HeaderExtensions(options.maxMetaBytes ?? 16 << 20, corrupt);
    let pos = 0;
    const readMeta = (size: number): Buffer => {
      const data = size === 0 ? Buffer.alloc(0) : Buffer.from(file.at(pos, size) ?? Buffer.alloc(0)); // a copy: the window moves on
      if (data.length !== size) throw corrupt(`unexpected end of data at byte ${pos} (truncated)`);
      pos += size + padLength(size);
      return data;
    };
    for (let index = 0; ; ) {
      // the previous entry's data (and padding) skipped must all be there, as the stream reader reads it
      if (pos > size) throw corrupt(`unexpected end of data at byte ${size} (truncated)`);
      const block = file.at(pos, BLOCK);
      if (block === null || isZeroBlock(block)) return true;
      let raw;
      try {
        raw = decodeRawHeader(block, !options.verified);
      } catch (e) {
        throw corrupt(`at byte ${pos}: ${(e as Error).message}`);
      }
      pos += BLOCK;
      const metaSize = extensions.metaSize(raw);
      if (metaSize !== undefined) {
        extensions.add(raw.flag, readMeta(metaSize));
        continue;
      }
      if (raw.flag === 'S') return false;
      const entry = extensions.fold(raw);
      onEntry(entry.header, index++, entry.sparse ? undefined : pos);
      pos += entry.stored + padLength(entry.stored);
    }
  } finally {
    closeSync(fd);
  }
}
