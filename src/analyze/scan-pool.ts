import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ShaleError } from '../internal/errors.js';
import { startWorker } from '../internal/start-worker.js';
import type { StoredLayerFile, TarSource } from '../layer/index.js';
import { LayerScan, scanLayer } from './layer-scan.js';
import type { ScanReply, ScanWorkerData, WorkerJob } from './scan-worker.js';
import { verifyFileYielding } from './verify-file.js';

interface Waiting {
  resolve: (reply: ScanReply) => void;
  reject: (e: unknown) => void;
}

/**
 * Scans layers at once: those stored as files on worker threads (as many as there are cores, each taking
 * the next job when it is done), the rest on this thread. One promise per layer, in layer order, so a
 * caller can use each as soon as it is ready. Layers read in place, not verified when stored, have their
 * digests checked too: the biggest on this thread, from the start (while the workers start up, and while
 * it would otherwise only wait for them), the others on the workers. `verified` settles when all are.
 * With no digest to check, this thread lists the first layer instead. `close` stops the workers.
 */
export class LayerScanner {
  readonly scans: Promise<LayerScan>[];
  readonly verified: Promise<void>;
  private readonly workers: Worker[] = [];
  private closed = false;

  constructor(layers: readonly TarSource[]) {
    const scanJobs: [WorkerJob, Waiting][] = [];
    const verifyJobs: [WorkerJob, Waiting][] = [];
    const job = (list: [WorkerJob, Waiting][], j: WorkerJob) => new Promise<ScanReply>((resolve, reject) => list.push([j, { resolve, reject }]));
    const unverified = layers.filter((l) => l.storedFile?.unverifiedDigest).map((l) => ({ what: l.what, file: l.storedFile! }));
    // with no digest to check, this thread lists the first layer itself when it is a plain stored tar, while the workers start
    const first = layers[0]?.storedFile;
    const listHere = unverified.length === 0 && first?.plain === true && !first.unverifiedDiffId;
    let listFirst = (): void => undefined;
    this.scans = layers.map((layer, i) => {
      const file = layer.storedFile;
      const scan =
        i === 0 && listHere
          ? new Promise<LayerScan>((resolve) => (listFirst = () => resolve(scanLayer(layer))))
          : file
            ? job(scanJobs, { kind: 'scan', what: layer.what, file }).then((r) => new LayerScan((r as Extract<ScanReply, { scan: unknown }>).scan))
            : scanLayer(layer);
      scan.catch(() => undefined); // a failure shows when its layer is awaited
      return scan;
    });
    const bytes = (file: StoredLayerFile) => file.region?.length ?? 0;
    unverified.sort((a, b) => bytes(b.file) - bytes(a.file));
    // the longest check here, the others after the scans, which come in layer order
    const checks = unverified.slice(1).map((u) => job(verifyJobs, { kind: 'verify', ...u }));

    const queue = [...scanJobs, ...verifyJobs];
    const workerData: ScanWorkerData = { jobs: queue.map(([j]) => j), next: new Int32Array(new SharedArrayBuffer(4)) };
    let left = queue.length;
    // a worker per core, one fewer while this thread checks a digest or lists, unless layers must be decompressed (work for every core)
    const decompressing = scanJobs.some(([j]) => !j.file.plain);
    const cores = Math.max(1, availableParallelism() - ((unverified.length > 0 || listHere) && !decompressing ? 1 : 0));
    for (let w = Math.min(cores, queue.length); w > 0; w--) {
      const worker = startWorker('scan-worker', () => new URL('./scan-worker.js', import.meta.url), { workerData });
      this.workers.push(worker);
      worker.on('message', (reply: ScanReply) => {
        const { resolve, reject } = queue[reply.id]![1];
        if ('error' in reply) reject(reply.error.code ? new ShaleError(reply.error.code, reply.error.message, { hint: reply.error.hint }) : new Error(reply.error.message));
        else resolve(reply);
        if (--left === 0) void this.stopWorkers();
      });
      worker.on('error', (e) => queue.forEach(([, w]) => w.reject(e)));
      // a worker that ends of itself has run out of jobs; one that dies leaves the rest unanswered
      worker.on('exit', (code) => {
        if (code !== 0) queue.forEach(([, w]) => w.reject(new Error(`a layer scan worker stopped with code ${code}`)));
      });
    }
    listFirst();
    const biggest = unverified[0];
    const here = biggest ? verifyFileYielding(biggest.what, biggest.file, () => this.closed) : Promise.resolve();
    this.verified = Promise.all([here, ...checks]).then(() => undefined);
    this.verified.catch(() => undefined);
  }

  /** Stops the workers and the check on this thread. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stopWorkers();
  }

  private async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
