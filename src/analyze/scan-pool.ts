import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ShaleError } from '../internal/errors.js';
import { startWorker } from '../internal/start-worker.js';
import type { TarSource } from '../layer/index.js';
import { LayerScan, scanLayer } from './layer-scan.js';
import type { ScanReply, ScanWorkerData, WorkerJob } from './scan-worker.js';

interface Waiting {
  resolve: (reply: ScanReply) => void;
  reject: (e: unknown) => void;
}

/**
 * Scans layers at once: those stored as files on worker threads (as many as there are cores, each taking
 * the next job when it is done), the rest on this thread. One promise per layer, in layer order, so a
 * caller can use each as soon as it is ready. Layers read in place, not verified when stored, have their
 * digests checked on the workers too: `verified` settles when all are. `close` stops the workers.
 */
export class LayerScanner {
  readonly scans: Promise<LayerScan>[];
  readonly verified: Promise<void>;
  private readonly workers: Worker[] = [];

  constructor(layers: readonly TarSource[]) {
    const scanJobs: [WorkerJob, Waiting][] = [];
    const verifyJobs: [WorkerJob, Waiting][] = [];
    const job = (list: [WorkerJob, Waiting][], j: WorkerJob) => new Promise<ScanReply>((resolve, reject) => list.push([j, { resolve, reject }]));
    this.scans = layers.map((layer) => {
      const file = layer.storedFile;
      const scan = file
        ? job(scanJobs, { kind: 'scan', what: layer.what, file }).then((r) => new LayerScan((r as Extract<ScanReply, { scan: unknown }>).scan))
        : scanLayer(layer);
      scan.catch(() => undefined); // a failure shows when its layer is awaited
      return scan;
    });
    const checks = layers.flatMap((layer) => (layer.storedFile?.unverifiedDigest ? [job(verifyJobs, { kind: 'verify', what: layer.what, file: layer.storedFile })] : []));
    this.verified = Promise.all(checks).then(() => undefined);
    this.verified.catch(() => undefined);

    // the longest check first, beside the scans in layer order, then the other checks
    const bytes = (j: WorkerJob) => j.file.region?.length ?? 0;
    verifyJobs.sort((a, b) => bytes(b[0]) - bytes(a[0]));
    const queue = [...verifyJobs.slice(0, 1), ...scanJobs, ...verifyJobs.slice(1)];
    const workerData: ScanWorkerData = { jobs: queue.map(([j]) => j), next: new Int32Array(new SharedArrayBuffer(4)) };
    let left = queue.length;
    for (let w = Math.min(availableParallelism(), queue.length); w > 0; w--) {
      const worker = startWorker('scan-worker', () => new URL('./scan-worker.js', import.meta.url), { workerData });
      this.workers.push(worker);
      worker.on('message', (reply: ScanReply) => {
        const { resolve, reject } = queue[reply.id]![1];
        if ('error' in reply) reject(reply.error.code ? new ShaleError(reply.error.code, reply.error.message, { hint: reply.error.hint }) : new Error(reply.error.message));
        else resolve(reply);
        if (--left === 0) void this.close();
      });
      worker.on('error', (e) => queue.forEach(([, w]) => w.reject(e)));
      // a worker that ends of itself has run out of jobs; one that dies leaves the rest unanswered
      worker.on('exit', (code) => {
        if (code !== 0) queue.forEach(([, w]) => w.reject(new Error(`a layer scan worker stopped with code ${code}`)));
      });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
