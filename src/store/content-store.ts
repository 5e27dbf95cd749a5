import { createReadStream, readFileSync, rmSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { hasErrno, ShaleError } from '../internal/errors.js';
import { HashingStream, sha256Hex, verifyContent } from '../internal/hash.js';
import { hashFileOffThread } from '../internal/hash-worker.js';
import { fsyncDir } from '../internal/fs-atomic.js';
import { writeBatched } from '../internal/batched-write.js';
import { processOwner } from '../internal/lock.js';
import { digestHex, isDigest, type Digest } from '../oci/index.js';

/** A blob written to a temp file and hashed, not yet visible under its digest. */
export interface Ingestion {
  tempPath: string;
  digest: Digest;
  size: number;
}

/** Owner records this process wrote: a process that ends normally takes them along; a killed one leaves them for gc to judge. */
const ownerRecords = new Set<string>();
function removeAtExit(record: string): void {
  if (ownerRecords.size === 0) process.once('exit', () => ownerRecords.forEach((r) => rmSync(r, { force: true })));
  ownerRecords.add(record);
}

/**
 * The blobs of an OCI image layout (`blobs/sha256/HEX`). Writes are ingestions: to a temp file, hashed
 * while written, verified, fsynced, then renamed into place, so a crash never leaves a half blob under a
 * real name. Putting a blob that is already there is a no-op.
 */
export class ContentStore {
  readonly blobDir: string;
  readonly ingestDir: string;
  /** This process's owner record in the ingest folder (`owner-TOKEN`): whose temp files `PID-TOKEN-*` are. */
  private ownerRecorded?: Promise<void>;

  constructor(
    readonly root: string,
    ingestDir: string,
    /** Blobs are fsynced before they are renamed into place (off for a scratch store). */
    private readonly durable = true,
  ) {
    this.blobDir = join(root, 'blobs', 'sha256');
    this.ingestDir = ingestDir;
  }

  blobPath(digest: Digest): string {
    return join(this.blobDir, digestHex(digest));
  }

  async size(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if (hasErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  /** A new temp file name in the ingest folder, owned by this process (see gc). */
  private async newTempPath(): Promise<string> {
    await mkdir(this.ingestDir, { recursive: true });
    const owner = processOwner();
    const record = join(this.ingestDir, `owner-${owner.token}`);
    this.ownerRecorded ??= writeFile(record, JSON.stringify(owner)).then(() => removeAtExit(record));
    await this.ownerRecorded;
    return join(this.ingestDir, `${process.pid}-${owner.token}-${randomBytes(8).toString('hex')}`);
  }

  /**
   * Streams `source` to a temp file, hashing; checks it against what was promised (more bytes than the
   * promised size stop it at once). Hashed on this thread: a worker needs a copy of every chunk, and on a
   * 2-core VM that copy cost more than the overlap bought (putLayer of a 30.9 MB tar read from a file:
   * 80-100 ms with a worker, 50 here). Chunks are written in batches (writeBatched), one batch
   * written while the next is hashed: 94 MB from a registry took 240 ms this way, 280 through a stream pipeline.
   */
  async ingest(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expected: { digest?: Digest; size?: number } = {}, what = 'blob'): Promise<Ingestion> {
    const tempPath = await this.newTempPath();
    const hasher = new HashingStream();
    try {
      const file = await open(tempPath, 'w');
      // a durable store starts the disk writes early, beside the ingestion, so that commit's fsync finds little left
      const flushes: Promise<void>[] = [];
      let flushedAt = 0;
      try {
        await writeBatched(file, source, (c) => {
          hasher.update(c);
          if (expected.size !== undefined && hasher.bytes > expected.size) throw new ShaleError('SIZE_MISMATCH', `${what}: more than the ${expected.size} bytes expected`);
          if (this.durable && hasher.bytes - flushedAt >= EARLY_FLUSH_BYTES) {
            flushedAt = hasher.bytes;
            flushes.push(file.datasync());
          }
        });
      } finally {
        await Promise.allSettled(flushes);
        await file.close();
      }
      const digest = hasher.digest();
      verifyContent(what, expected, { digest, size: hasher.bytes });
      return { tempPath, digest, size: hasher.bytes };
    } catch (e) {
      await rm(tempPath, { force: true });
      throw e;
    }
  }

  /**
   * Ingests a source that lends its chunks (each valid only until the next is pulled, see ChunkOwnership
   * in layer/): each chunk is hashed on this thread and written before the next is pulled, so nothing is
   * copied or queued. Returns the ingestion and the source's own return value.
   */
  async ingestLent<R>(source: AsyncGenerator<Uint8Array, R, undefined>): Promise<{ ing: Ingestion; result: R }> {
    const tempPath = await this.newTempPath();
    const hash = createHash('sha256');
    let size = 0;
    try {
      const file = await open(tempPath, 'w');
      try {
        for (;;) {
          const next = await source.next();
          if (next.done) return { ing: { tempPath, digest: `sha256:${hash.digest('hex')}`, size }, result: next.value };
          const chunk = next.value;
          hash.update(chunk);
          for (let off = 0; off < chunk.byteLength; ) off += (await file.write(chunk, off, chunk.byteLength - off)).bytesWritten;
          size += chunk.byteLength;
        }
      } finally {
        await file.close();
      }
    } catch (e) {
      await source.return(undefined as R); // closes what the source holds open
      await rm(tempPath, { force: true });
      throw e;
    }
  }

  /** Makes an ingestion visible under its digest (fsync, rename, fsync dir; no fsync in a scratch store). Idempotent. */
  async commit(ing: Ingestion): Promise<Digest> {
    await mkdir(this.blobDir, { recursive: true });
    if (this.durable) {
      const fh = await open(ing.tempPath, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await rename(ing.tempPath, this.blobPath(ing.digest));
    if (this.durable) await fsyncDir(this.blobDir);
    return ing.digest;
  }

  /** Commits an ingestion unless its blob is already stored, in which case the temp file is dropped. */
  async commitOnce(ing: Ingestion): Promise<Digest> {
    if (await this.has(ing.digest)) {
      await this.discard(ing);
      return ing.digest;
    }
    return this.commit(ing);
  }

  async discard(ing: Ingestion): Promise<void> {
    await rm(ing.tempPath, { force: true });
  }

  /** Stores bytes under their digest. */
  async putBytes(data: Uint8Array): Promise<Digest> {
    const digest = `sha256:${sha256Hex(data)}` as Digest;
    if (await this.has(digest)) return digest;
    return this.commit(await this.ingest([data]));
  }

  /** A whole (small) blob, verified. Read synchronously: a few KB cost less than the thread-pool trips of async reads. */
  async readBytes(digest: Digest, what = `blob ${digest}`): Promise<Buffer> {
    let data: Buffer;
    try {
      data = readFileSync(this.blobPath(digest));
    } catch (e) {
      if (hasErrno(e, 'ENOENT')) throw new ShaleError('NOT_FOUND', `${what} is missing from the store`, { hint: 'run `shale fsck`' });
      throw e;
    }
    verifyContent(what, { digest }, { digest: `sha256:${sha256Hex(data)}` as Digest, size: data.length });
    return data;
  }

  /**
   * The blob as a stream, verified against its digest when the stream ends. The check reads the file a
   * second time on the hash worker, beside this reader, so no chunk is copied between threads and this
   * thread does no hashing (the second read comes from the page cache).
   */
  async *open(digest: Digest, what = `blob ${digest}`): AsyncGenerator<Buffer> {
    const path = this.blobPath(digest);
    const hashed = hashFileOffThread(path);
    const file = createReadStream(path, { highWaterMark: 1 << 20 });
    let size = 0;
    let complete = false;
    try {
      for await (const c of file) {
        size += (c as Buffer).length;
        yield c as Buffer;
      }
      complete = true;
    } catch (e) {
      if (hasErrno(e, 'ENOENT')) throw new ShaleError('NOT_FOUND', `${what} is missing from the store`, { hint: 'run `shale fsck`' });
      throw e;
    } finally {
      file.destroy();
      if (!complete) hashed.dispose(); // abandoned by the reader: nothing to verify
    }
    const actual = await hashed.result;
    verifyContent(what, { digest, size }, actual);
  }

  /** The blob's bytes without verification, for a listing pass that a verified read will follow. */
  async *openUnverified(digest: Digest, what = `blob ${digest}`): AsyncGenerator<Buffer> {
    try {
      yield* createReadStream(this.blobPath(digest), { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
    } catch (e) {
      if (hasErrno(e, 'ENOENT')) throw new ShaleError('NOT_FOUND', `${what} is missing from the store`, { hint: 'run `shale fsck`' });
      throw e;
    }
  }

  /** Every blob digest present. */
  async list(): Promise<Digest[]> {
    const names = await readdir(this.blobDir).catch((e) => (hasErrno(e, 'ENOENT') ? [] : Promise.reject(e)));
    return names.map((n) => `sha256:${n}`).filter(isDigest);
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }
}

/** Bytes an ingestion into a durable store writes between the starts of two early flushes to disk. */
const EARLY_FLUSH_BYTES = 32 << 20;
