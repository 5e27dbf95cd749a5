import { open, rename, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ShaleError } from './errors.js';
import { writeBatched } from './batched-write.js';

/** fsync a directory so a rename inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export const tempName = (path: string): string =>
  join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

/**
 * Writes a whole file so that readers see either the old content or the new, never a part; with
 * `durable: false` without fsync, for what a crash makes void anyway (a running process's lease).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, options: { durable?: boolean } = {}): Promise<void> {
  const durable = options.durable ?? true;
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  if (durable) await fsyncDir(dirname(path));
}

/** Why a user's output file cannot be made, naming the file (not the temp file beside it). */
function outputError(path: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  const dir = dirname(path);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ShaleError('NOT_FOUND', `cannot write ${path}: directory ${dir} does not exist`);
  if (code === 'EROFS') return new ShaleError('FAILED_PRECONDITION', `cannot write ${path}: ${dir} is on a read-only filesystem`);
  if (code === 'EACCES' || code === 'EPERM') return new ShaleError('FAILED_PRECONDITION', `cannot write ${path}: permission denied in ${dir}`);
  return e;
}

/**
 * Streams into `path` through a temp file beside it, renamed into place only when complete, so a
 * failure leaves no partial output. `-` writes to stdout.
 */
export async function writeStreamAtomic(path: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
  if (path === '-') {
    await pipeline(Readable.from(source, { objectMode: false }), process.stdout, { end: false });
    return;
  }
  // a device or pipe (/dev/null, a fifo) is written in place, never replaced
  if (await stat(path).then((s) => !s.isFile() && !s.isDirectory(), () => false)) {
    await pipeline(Readable.from(source, { objectMode: false }), createWriteStream(path));
    return;
  }
  const tmp = tempName(path);
  try {
    const fh = await open(tmp, 'wx').catch((e: unknown) => Promise.reject(outputError(path, e)));
    try {
      await writeBatched(fh, source);
    } finally {
      await fh.close();
    }
    // no fsync: this is the user's output file, not the store (as tar and docker save write theirs)
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
