import type { Worker } from 'node:worker_threads';
import { ShaleError, type ErrorCode } from '../internal/errors.js';
import { startWorker } from '../internal/start-worker.js';
import type { IngestedBlob } from '../store/index.js';
import type { TarJob, TarReply } from './layer-tar-worker.js';

/**
 * One worker thread that tars kept snapshot directories into a store's ingest area, a job at a time in
 * the order given, so a build's main thread is free for its steps while its layers are written. Started
 * on the first job; `close` ends it (a job still running is rejected).
 */
export class LayerTarThread {
  private worker?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (i: IngestedBlob) => void; reject: (e: unknown) => void }>();

  constructor(
    private readonly root: string,
    private readonly ingestDir: string,
  ) {}

  tar(dir: string, what: string): Promise<IngestedBlob> {
    const id = this.nextId++;
    const job: TarJob = { id, root: this.root, ingestDir: this.ingestDir, dir, what };
    return new Promise<IngestedBlob>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.start().postMessage(job);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    const exited = new Promise((resolve) => w.once('exit', resolve));
    w.postMessage('close');
    await exited;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker('layer-tar-worker', () => new URL('./layer-tar-worker.js', import.meta.url));
    w.on('message', (reply: TarReply) => {
      const waiting = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (!waiting) return;
      if ('ingested' in reply) waiting.resolve(reply.ingested);
      else waiting.reject(reply.error.code ? new ShaleError(reply.error.code as ErrorCode, reply.error.message, { hint: reply.error.hint }) : new Error(reply.error.message));
    });
    const failAll = (e: unknown) => {
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    w.on('error', failAll);
    w.on('exit', () => failAll(new ShaleError('FAILED_PRECONDITION', 'the layer tar worker stopped')));
    this.worker = w;
    return w;
  }
}
