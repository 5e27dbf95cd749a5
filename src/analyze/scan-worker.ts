import { parentPort, workerData } from 'node:worker_threads';
import { ShaleError } from '../internal/errors.js';
import { openStoredFileForListing, type StoredLayerFile } from '../layer/index.js';
import { scanLayerPacked, type PackedScan } from './layer-scan.js';

/** A job for a scan worker: list one stored layer blob. */
export interface ScanJob {
  what: string;
  file: StoredLayerFile;
}

/**
 * What a scan worker starts with: every job, and a shared counter that the workers advance to take the
 * next one (no round trip to the main thread between jobs).
 */
export interface ScanWorkerData {
  jobs: ScanJob[];
  next: Int32Array;
}

/** What a scan worker answers for each job it took: the packed scan, or the error as the CLI would show it. */
export type ScanReply =
  | { id: number; scan: PackedScan }
  | { id: number; error: { code?: ShaleError['code']; message: string; hint?: string } };

async function work(port: NonNullable<typeof parentPort>, { jobs, next }: ScanWorkerData): Promise<void> {
  for (let id = Atomics.add(next, 0, 1); id < jobs.length; id = Atomics.add(next, 0, 1)) {
    const job = jobs[id]!;
    const open = () => openStoredFileForListing(job.file, job.what);
    try {
      const scan = await scanLayerPacked({ what: job.what, open, openForListing: open, storedFile: job.file });
      port.postMessage({ id, scan } satisfies ScanReply, [scan.numbers.buffer as ArrayBuffer]);
    } catch (e) {
      const error = e instanceof ShaleError ? { code: e.code, message: e.message, hint: e.hint } : { message: e instanceof Error ? e.message : String(e) };
      port.postMessage({ id, error } satisfies ScanReply);
    }
  }
}

if (parentPort && (workerData as ScanWorkerData | undefined)?.jobs) void work(parentPort, workerData as ScanWorkerData);
