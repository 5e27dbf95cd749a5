import { Worker } from 'node:worker_threads';

/** Bytes the worker reads from a file at a time. */
const FILE_CHUNK = 4 << 20;

// The worker reads whole files and hashes them, one request at a time, answering each with its digest and size.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
let buf;
function hashFile(path) {
  buf ??= Buffer.allocUnsafe(${FILE_CHUNK});
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, size)) > 0; size += n) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { hex: h.digest('hex'), size };
}
parentPort.on('message', (m) => {
  try {
    parentPort.postMessage({ id: m.id, ...hashFile(m.path) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

type Answer = { id: number; hex?: string; size?: number; error?: string };

let worker: Worker | undefined;
const pending = new Map<number, (a: Answer) => void>();
let nextId = 1;

function hashWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.on('message', (a: Answer) => {
    const settle = pending.get(a.id);
    if (!settle) return;
    pending.delete(a.id);
    if (pending.size === 0) w.unref();
    settle(a);
  });
  w.unref();
  worker = w;
  return w;
}

/**
 * The SHA-256 and size of a whole file, read and hashed by a worker thread (nothing is copied between
 * threads): a reader of the same file on this thread checks what it read against this when it ends, and
 * its own thread spends nothing on hashing (the second read comes from the page cache). Rejects when the
 * file cannot be read. `dispose` gives up on the answer (the reader stopped early).
 */
export function hashFileOffThread(path: string): { result: Promise<{ digest: `sha256:${string}`; size: number }>; dispose(): void } {
  const id = nextId++;
  const w = hashWorker();
  const result = new Promise<{ digest: `sha256:${string}`; size: number }>((resolve, reject) => {
    pending.set(id, (a) => (a.error === undefined ? resolve({ digest: `sha256:${a.hex!}`, size: a.size! }) : reject(new Error(a.error))));
  });
  result.catch(() => undefined); // seen by whoever awaits it
  w.ref();
  w.postMessage({ id, path });
  return {
    result,
    dispose: () => {
      if (pending.delete(id) && pending.size === 0) worker?.unref();
    },
  };
}
