import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ShaleError } from '../internal/errors.js';
import type { TarSource } from '../layer/index.js';
import { LayerScan, scanLayer } from './layer-scan.js';
import type { ScanJob, ScanReply, ScanWorkerData } from './scan-worker.js';

/**
 * The worker's script: the CLI bundle keeps it beside itself as its own small bundle; the compiled
 * modules load it by URL.
 */
const workerScript = (): string | URL =>
  typeof __dirname === 'string' ? join(__dirname, 'scan-worker.cjs') : new URL('./scan-worker.js', import.meta.url);

/**
 * Scans layers at once: those stored as files on worker threads (as many as there are cores, each taking
 * the next layer when it is done), the rest on this thread. One promise per layer, in layer order, so a
 * caller can use each as soon as it is ready; `close` stops the workers.
 */
export class LayerScanner {
  readonly scans: Promise<LayerScan>[];
  private readonly workers: Worker[] = [];

  constructor(layers: readonly TarSource[]) {
    const jobs: ScanJob[] = [];
    const waiting: { resolve: (s: LayerScan) => void; reject: (e: unknown) => void }[] = [];
    this.scans = layers.map((layer) => {
      const file = layer.storedFile;
      const scan = file
        ? new Promise<LayerScan>((resolve, reject) => {
            jobs.push({ what: layer.what, file });
            waiting.push({ resolve, reject });
          })
        : scanLayer(layer);
      scan.catch(() => undefined); // a failure shows when its layer is awaited
      return scan;
    });
    const workerData: ScanWorkerData = { jobs, next: new Int32Array(new SharedArrayBuffer(4)) };
    let left = jobs.length;
    for (let w = Math.min(availableParallelism(), jobs.length); w > 0; w--) {
      const worker = new Worker(workerScript(), { workerData });
      this.workers.push(worker);
      worker.on('message', (reply: ScanReply) => {
        const { resolve, reject } = waiting[reply.id]!;
        if ('scan' in reply) resolve(new LayerScan(reply.scan));
        else reject(reply.error.code ? new ShaleError(reply.error.code, reply.error.message, { hint: reply.error.hint }) : new Error(reply.error.message));
        if (--left === 0) void this.close();
      });
      worker.on('error', (e) => waiting.forEach((p) => p.reject(e)));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
