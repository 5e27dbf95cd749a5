/**
 * The layer tar worker's thread: tars a kept snapshot directory into the content store's ingest area
 * (hashing it and counting its summary as it writes, `ingestLendingLayer`) and replies with the ingestion;
 * the main thread commits it. The main thread meanwhile goes on with the build's steps.
 */
import { parentPort } from 'node:worker_threads';
import { ShaleError } from '../internal/errors.js';
import { diffDirectory } from '../snapshot/index.js';
import { ContentStore, ingestLendingLayer, type IngestedBlob } from '../store/index.js';

export interface TarJob {
  id: number;
  /** The store's root and its ingest directory (a ContentStore's). */
  root: string;
  ingestDir: string;
  /** The kept snapshot directory, in overlayfs upperdir form. */
  dir: string;
  what: string;
}

export type TarReply = { id: number; ingested: IngestedBlob } | { id: number; error: { code?: string; message: string; hint?: string } };

// one content store a store: each keeps an owner record in the ingest folder for the thread's life
const stores = new Map<string, ContentStore>();

parentPort?.on('message', (job: TarJob | 'close') => {
  // ending through process.exit runs the exit hooks (the content stores' owner records go)
  if (job === 'close') process.exit(0);
  const id = `${job.root}\0${job.ingestDir}`;
  const content = stores.get(id) ?? new ContentStore(job.root, job.ingestDir);
  stores.set(id, content);
  ingestLendingLayer(content, diffDirectory(job.dir), job.what).then(
    (ingested) => parentPort!.postMessage({ id: job.id, ingested } satisfies TarReply),
    (e: unknown) => {
      const error = e instanceof ShaleError ? { code: e.code, message: e.message, hint: e.hint } : { message: (e as Error).message ?? String(e) };
      parentPort!.postMessage({ id: job.id, error } satisfies TarReply);
    },
  );
});
