import { Worker } from 'node:worker_threads';

/** Bytes the worker reads from a file at a time. */
const FILE_CHUNK = 4 << 20;

// The worker hashes chunks for many concurrent hashers, keyed by id, and acknowledges each chunk; or
// reads a whole file itself and hashes it (type 'file'), answering with its digest and size.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const hashes = new Map();
let fileBuf;
function hashFile(path) {
  fileBuf ??= Buffer.allocUnsafe(${FILE_CHUNK});
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    for (let n; (n = readSync(fd, fileBuf, 0, fileBuf.length, size)) > 0; size += n) h.update(fileBuf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { hex: h.digest('hex'), size };
}
parentPort.on('message', (m) => {
  if (m.type === 'file') {
    try {
      parentPort.postMessage({ type: 'digest', id: m.id, ...hashFile(m.path) });
    } catch (e) {
      parentPort.postMessage({ type: 'digest', id: m.id, error: String(e && e.message || e) });
    }
  } else if (m.type === 'update') {
    let h = hashes.get(m.id);
    if (!h) hashes.set(m.id, (h = createHash('sha256')));
    h.update(new Uint8Array(m.buf));
    parentPort.postMessage({ type: 'ack', id: m.id, bytes: m.buf.byteLength });
  } else {
    const h = hashes.get(m.id) || createHash('sha256');
    hashes.delete(m.id);
    parentPort.postMessage({ type: 'digest', id: m.id, hex: h.digest('hex') });
  }
});
`;

interface Pending {
  inFlight: number;
  wake?: () => void;
  resolve?: (hex: string, size?: number, error?: string) => void;
}

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;

function hashWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.on('message', (m: { type: string; id: number; bytes?: number; hex?: string; size?: number; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    if (m.type === 'ack') {
      p.inFlight -= m.bytes!;
      p.wake?.();
    } else {
      pending.delete(m.id);
      if (pending.size === 0) w.unref();
      p.resolve!(m.hex!, m.size, m.error);
    }
  });
  w.unref();
  worker = w;
  return w;
}

const MAX_IN_FLIGHT = 16 << 20;

/**
 * SHA-256 computed on a worker thread, so hashing a large stream overlaps with reading, parsing and
 * writing it on the main thread. `update` waits when too many bytes are queued (memory stays bounded).
 */
export class OffThreadHasher {
  private readonly id = nextId++;
  private readonly state: Pending = { inFlight: 0 };
  bytes = 0;

  constructor() {
    pending.set(this.id, this.state);
    hashWorker().ref();
  }

  async update(chunk: Uint8Array): Promise<void> {
    const copy = new Uint8Array(chunk); // own buffer, transferable
    this.bytes += copy.byteLength;
    this.state.inFlight += copy.byteLength;
    hashWorker().postMessage({ type: 'update', id: this.id, buf: copy.buffer }, [copy.buffer]);
    while (this.state.inFlight > MAX_IN_FLIGHT) await new Promise<void>((r) => (this.state.wake = r));
  }

  /** Gives up on this hash (the stream was abandoned). */
  dispose(): void {
    if (!pending.delete(this.id)) return;
    if (pending.size === 0) worker?.unref();
  }

  /** The `sha256:` digest of everything passed to `update`. */
  digest(): Promise<`sha256:${string}`> {
    return new Promise((resolve) => {
      this.state.resolve = (hex) => resolve(`sha256:${hex}`);
      hashWorker().postMessage({ type: 'digest', id: this.id });
    });
  }
}

/**
 * The SHA-256 and size of a whole file, read and hashed by the worker thread (nothing is copied between
 * threads): a reader of the same file on this thread checks what it read against this when it ends.
 * Rejects when the file cannot be read.
 */
export function hashFileOffThread(path: string): { result: Promise<{ digest: `sha256:${string}`; size: number }>; dispose(): void } {
  const id = nextId++;
  const state: Pending = { inFlight: 0 };
  pending.set(id, state);
  const w = hashWorker();
  w.ref();
  const result = new Promise<{ digest: `sha256:${string}`; size: number }>((resolve, reject) => {
    state.resolve = (hex, size, error) => (error === undefined ? resolve({ digest: `sha256:${hex}`, size: size! }) : reject(new Error(error)));
  });
  result.catch(() => undefined); // seen by whoever awaits it
  w.postMessage({ type: 'file', id, path });
  return {
    result,
    dispose: () => {
      if (pending.delete(id) && pending.size === 0) worker?.unref();
    },
  };
}
