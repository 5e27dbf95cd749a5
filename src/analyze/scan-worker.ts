import { parentPort, workerData } from 'node:worker_threads';
import { ShaleError } from '../internal/errors.js';
import { HashingStream, verifyContent } from '../internal/hash.js';
import { openStoredFileForListing, type StoredLayerFile } from '../layer/index.js';
import { scanLayerPacked, type PackedScan } from './layer-scan.js';
import { verifyFile } from './verify-file.js';

/** A job for a scan worker: list one stored layer blob, or check the digest of one read in place. */
export interface WorkerJob {
  kind: 'scan' | 'verify';
  what: string;
  file: StoredLayerFile;
}

/**
 * What a scan worker starts with: every job, and a shared counter that the workers advance to take the
 * next one (no round trip to the main thread between jobs).
 */
export interface ScanWorkerData {
  jobs: WorkerJob[];
  next: Int32Array;
}

/** What a scan worker answers for each job it took: the packed scan, done, or the error as the CLI would show it. */
export type ScanReply =
  | { id: number; scan: PackedScan }
  | { id: number; verified: true }
  | { id: number; error: { code?: ShaleError['code']; message: string; hint?: string } };

const sourceOf = (what: string, file: StoredLayerFile) => {
  const open = () => openStoredFileForListing(file, what);
  return { what, open, openForListing: open, storedFile: file };
};

/** A stream whose chunks are hashed as they pass; closing it early leaves the rest to `drain`. */
class HashedStream implements AsyncIterableIterator<Uint8Array> {
  readonly hash = new HashingStream();

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    const r = await this.it.next();
    if (!r.done) this.hash.update(r.value);
    return r;
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    return { done: true, value: undefined };
  }

  /** Reads (and hashes) what is left. */
  async drain(): Promise<void> {
    while (!(await this.next()).done);
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * Lists a compressed blob read in place, hashing its uncompressed tar on the way (the whole of it, past
 * the end-of-archive blocks too): DIGEST_MISMATCH when that is not its diffId.
 */
async function scanCheckingDiffId(what: string, file: StoredLayerFile): Promise<PackedScan> {
  const stream = new HashedStream(openStoredFileForListing(file, what)[Symbol.asyncIterator]());
  try {
    const scan = await scanLayerPacked({ ...sourceOf(what, file), openForListing: () => stream });
    await stream.drain();
    verifyContent(`${what}: its uncompressed tar`, { digest: file.unverifiedDiffId }, { digest: stream.hash.digest(), size: stream.hash.bytes });
    return scan;
  } finally {
    await stream.close();
  }
}

async function work(port: NonNullable<typeof parentPort>, { jobs, next }: ScanWorkerData): Promise<void> {
  for (let id = Atomics.add(next, 0, 1); id < jobs.length; id = Atomics.add(next, 0, 1)) {
    const job = jobs[id]!;
    try {
      if (job.kind === 'verify') {
        verifyFile(job.what, job.file);
        port.postMessage({ id, verified: true } satisfies ScanReply);
        continue;
      }
      const scan = job.file.unverifiedDiffId ? await scanCheckingDiffId(job.what, job.file) : await scanLayerPacked(sourceOf(job.what, job.file));
      port.postMessage({ id, scan } satisfies ScanReply, [scan.numbers.buffer as ArrayBuffer]);
    } catch (e) {
      const error = e instanceof ShaleError ? { code: e.code, message: e.message, hint: e.hint } : { message: e instanceof Error ? e.message : String(e) };
      port.postMessage({ id, error } satisfies ScanReply);
    }
  }
}

if (parentPort && (workerData as ScanWorkerData | undefined)?.jobs) void work(parentPort, workerData as ScanWorkerData);
