/**
 * Compressed copies of uncompressed stored layers, remembered per (diffId, codec, level) so a layer is
 * compressed once (as Docker's distribution metadata and containerd's content store remember them). The
 * copy is an ordinary blob of the content store; its record is a small JSON file beside the store's other
 * records (`shale/compressed-layers/`). GC keeps a copy while its uncompressed layer is reachable and drops
 * records whose blob is gone; fsck sees only valid blobs.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncQueue } from '../internal/async-queue.js';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import { digestHex, isDigest, type Digest } from '../oci/index.js';
import { compressStream, type CompressionSpec, type LayerCompression } from '../layer/index.js';
import type { Layer } from '../image/index.js';
import type { Ingestion } from './content-store.js';
import type { Store } from './store.js';

/** A remembered copy: the layer with this diffId, compressed by this codec at this level, is this blob. */
export interface CompressedLayerRecord {
  diffId: Digest;
  compression: LayerCompression;
  level: number;
  digest: Digest;
  size: number;
}

const recordDir = (store: Store): string => join(store.root, 'shale', 'compressed-layers');
const recordPath = (store: Store, diffId: Digest, spec: CompressionSpec): string =>
  join(recordDir(store), `${digestHex(diffId)}.${spec.compression}-${spec.level}.json`);

function parseRecord(raw: string): CompressedLayerRecord | undefined {
  try {
    const r = JSON.parse(raw) as Partial<CompressedLayerRecord>;
    if (!isDigest(String(r.diffId)) || !isDigest(String(r.digest)) || (r.compression !== 'gzip' && r.compression !== 'zstd')) return undefined;
    if (!Number.isInteger(r.level) || !Number.isSafeInteger(r.size)) return undefined;
    return r as CompressedLayerRecord;
  } catch {
    return undefined;
  }
}

/** Every record (unreadable files are skipped). */
export async function compressedLayerRecords(store: Store): Promise<CompressedLayerRecord[]> {
  const out: CompressedLayerRecord[] = [];
  for (const name of (await readdir(recordDir(store)).catch(() => [] as string[])).sort()) {
    if (!name.endsWith('.json')) continue;
    const r = parseRecord(await readFile(join(recordDir(store), name), 'utf8').catch(() => ''));
    if (r) out.push(r);
  }
  return out;
}

/** The remembered copy of a layer for this codec and level, when its blob is still stored. */
export async function findCompressedLayer(store: Store, diffId: Digest, spec: CompressionSpec): Promise<CompressedLayerRecord | undefined> {
  const r = parseRecord(await readFile(recordPath(store, diffId, spec), 'utf8').catch(() => ''));
  if (!r || r.diffId !== diffId || (await store.content.size(r.digest)) !== r.size) return undefined;
  return r;
}

/**
 * Blobs GC must keep: the copies of layers in `reachable`. Records whose blob is gone, or whose layer is
 * no longer reachable (its copy is collected with it), are removed. Call under the store's lock.
 */
export async function keepCompressedLayers(store: Store, reachable: ReadonlySet<Digest>): Promise<Set<Digest>> {
  const keep = new Set<Digest>();
  for (const r of await compressedLayerRecords(store)) {
    if (reachable.has(r.diffId) && (await store.content.has(r.digest))) keep.add(r.digest);
    else await rm(recordPath(store, r.diffId, r), { force: true });
  }
  return keep;
}

/** A compression of a stored layer under way, written to the store's temp area as it is read. */
export interface LayerCompressionRun {
  spec: CompressionSpec;
  /** The compressed bytes; each call starts over (a retried upload), dropping what an earlier call wrote. */
  open(): AsyncGenerator<Uint8Array>;
  /** Digest and size of what the last `open()` produced, once it was read to its end. */
  result(): Promise<{ digest: Digest; size: number }>;
  /** Makes the copy a stored blob and remembers it (nothing to do when the store is not written). */
  commit(): Promise<CompressedLayerRecord>;
  /** Drops what was written. */
  discard(): Promise<void>;
}

/** Hashes a stream without writing it (a store this process may not write). */
async function hashOnly(source: AsyncIterable<Uint8Array>): Promise<{ digest: Digest; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of source) {
    h.update(c);
    size += c.byteLength;
  }
  return { digest: `sha256:${h.digest('hex')}` as Digest, size };
}

/**
 * Compresses `layer` (an uncompressed one) and tees the output into an ingestion of the
 * store (when `write`), so a caller can upload it while it is made. Nothing is visible in the store until
 * `commit`.
 */
export function compressLayer(store: Store, layer: Layer, spec: CompressionSpec, options: { write: boolean }): LayerCompressionRun {
  const what = `${spec.compression} copy of layer ${layer.diffId}`;
  let current: Promise<{ digest: Digest; size: number; ing?: Ingestion }> | undefined;
  const drop = async () => {
    const c = current;
    current = undefined;
    const r = await c?.catch(() => undefined);
    if (r?.ing) await store.content.discard(r.ing);
  };
  return {
    spec,
    async *open() {
      await drop();
      const queue = new AsyncQueue<Uint8Array>(16);
      const result = options.write ? store.content.ingest(queue, {}, what).then((ing) => ({ digest: ing.digest, size: ing.size, ing })) : hashOnly(queue);
      result.catch(() => undefined);
      current = result;
      let complete = false;
      let scratch: string | undefined;
      try {
        // an uncompressed layer's blob is its tar; read as held at rest (its digest was checked when it was
        // stored, and fsck checks it again): hashing 200 MB once more cost a core-second of a push
        const tar = layer.openStoredBlob?.() ?? layer.open();
        // the compressor's chunk files: in the store, or (a store this process may only read) a private temp folder
        scratch = store.writable ? await store.newScratchDir('compress-') : await mkdtemp(join(tmpdir(), 'shale-compress-'));
        for await (const c of compressStream(tar, spec, scratch)) {
          await queue.push(c);
          yield c;
        }
        complete = true;
      } catch (e) {
        queue.end(e);
        throw e;
      } finally {
        // a reader that stops early leaves no copy behind
        queue.end(complete ? undefined : new Error(`${what}: abandoned`));
        // (a member's process ended by an abandoned run may still be writing there)
        if (scratch !== undefined) await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
      }
    },
    async result() {
      if (!current) throw new Error(`${what}: not started`);
      const { digest, size } = await current;
      return { digest, size };
    },
    async commit() {
      if (!current) throw new Error(`${what}: not started`);
      const r = await current;
      const record: CompressedLayerRecord = { diffId: layer.diffId, compression: spec.compression, level: spec.level, digest: r.digest, size: r.size };
      if (!r.ing) return record;
      const info = await store.layerInfos.get(layer.descriptor.digest);
      await store.withLock(async () => {
        await store.content.commitOnce(r.ing!);
        if (info) await store.layerInfos.put({ ...info, digest: r.digest, compression: spec.compression });
        await writeFileAtomic(recordPath(store, layer.diffId, spec), JSON.stringify(record));
      });
      current = undefined;
      return record;
    },
    discard: drop,
  };
}

/**
 * The compressed copy of `layer` as a stored blob: the remembered one, else compressed now into the store
 * and remembered. `compressed` says which.
 */
export async function storedCompressedLayer(store: Store, layer: Layer, spec: CompressionSpec): Promise<{ record: CompressedLayerRecord; compressed: boolean }> {
  const known = await findCompressedLayer(store, layer.diffId, spec);
  if (known) return { record: known, compressed: false };
  store.assertWritable();
  const run = compressLayer(store, layer, spec, { write: true });
  try {
    const it = run.open();
    while (!(await it.next()).done);
    return { record: await run.commit(), compressed: true };
  } finally {
    await run.discard();
  }
}
