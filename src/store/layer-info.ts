import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HashingStream } from '../internal/hash.js';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import { hasErrno } from '../internal/errors.js';
import { AsyncQueue } from '../internal/async-queue.js';
import type { ContentStore, Ingestion } from './content-store.js';
import { decompress, sniffCompression, summarizeLayer, type LayerSummary, type LendingLayerTar } from '../layer/index.js';
import { digestHex, type Compression, type Digest } from '../oci/index.js';

/** What shale knows of a stored layer blob, computed once from its content and kept beside the blobs. */
export interface LayerInfo extends LayerSummary {
  digest: Digest;
  diffId: Digest;
  compression: Compression;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
}

/**
 * Reads a layer blob once: sniffs compression, checks every entry name and counts the content. The diffId
 * is the blob's own digest when it is a plain tar, else the hash of the decompressed tar.
 */
export async function describeLayerBlob(digest: Digest, blob: AsyncIterable<Uint8Array>, what: string): Promise<LayerInfo> {
  let head: Uint8Array | undefined;
  async function* sniffing(): AsyncGenerator<Uint8Array> {
    for await (const c of blob) {
      head ??= c;
      yield c;
    }
  }
  const hasher = new HashingStream();
  let compression: Compression = 'none';
  const tar = (async function* () {
    let first = true;
    for await (const c of decompress(sniffing(), { what })) {
      if (first) compression = sniffCompression(head ?? new Uint8Array(0));
      first = false;
      if (compression !== 'none') hasher.update(c);
      else hasher.bytes += c.length;
      yield c;
    }
  })();
  try {
    const summary = await summarizeLayer(tar, what); // reads to the end, padding included
    return {
      digest,
      diffId: compression === 'none' ? digest : hasher.digest(),
      compression,
      uncompressedSize: hasher.bytes,
      ...summary,
    };
  } finally {
    await tar.return(undefined);
  }
}

/** A blob ingested into the store's temp area; when it held a layer tar, what describing it found. */
export interface IngestedBlob {
  ing: Ingestion;
  layer?: LayerInfo;
  /** Why the blob could not be read as a layer (not a tar, unsafe names, a bomb): raised if it is used as one. */
  layerError?: unknown;
}

/**
 * Describes a layer blob that is not stored (a file to append) and hashes it in the same pass: its digest
 * and size too. A blob the tar reader did not read to its end (bytes after the archive) is hashed whole by
 * a second pass.
 */
export async function describeAndHashLayerBlob(open: () => AsyncIterable<Uint8Array>, size: number, what: string): Promise<LayerInfo & { size: number }> {
  const hasher = new HashingStream();
  async function* hashing(): AsyncGenerator<Uint8Array> {
    for await (const c of open()) {
      hasher.update(c);
      yield c;
    }
  }
  const info = await describeLayerBlob(PENDING_DIGEST, hashing(), what);
  if (hasher.bytes !== size) {
    const whole = new HashingStream();
    for await (const c of open()) whole.update(c);
    return { ...info, ...digestAndDiffId(info, whole.digest()), size: whole.bytes };
  }
  return { ...info, ...digestAndDiffId(info, hasher.digest()), size };
}

/** A plain tar's diffId is its blob's digest. */
const digestAndDiffId = (info: LayerInfo, digest: Digest) => ({ digest, diffId: info.compression === 'none' ? digest : info.diffId });

/**
 * Ingests a blob and, in the same pass over its bytes, describes it as a layer (the tar parse reads a
 * bounded queue fed by the ingestion), so a layer is read and hashed once.
 */
export async function ingestBlob(
  content: ContentStore,
  source: AsyncIterable<Uint8Array>,
  what: string,
  expected: { digest?: Digest; size?: number } = {},
): Promise<IngestedBlob> {
  const queue = new AsyncQueue<Uint8Array>(16);
  async function* tapped(): AsyncGenerator<Uint8Array> {
    try {
      for await (const c of source) {
        await queue.push(c);
        yield c;
      }
      queue.end();
    } catch (e) {
      queue.end(e);
      throw e;
    } finally {
      queue.end();
    }
  }
  const pending = describeLayerBlob(PENDING_DIGEST, queue, what).then(
    (layer) => ({ layer }),
    (layerError: unknown) => {
      queue.stop();
      return { layerError };
    },
  );
  let ing: Ingestion;
  try {
    ing = await content.ingest(tapped(), expected, what);
  } finally {
    queue.end();
  }
  const described = await pending;
  if (!('layer' in described)) return { ing, layerError: described.layerError };
  return { ing, layer: { ...described.layer, ...digestAndDiffId(described.layer, ing.digest) } };
}

/**
 * Ingests a layer tar shale wrote itself (a snapshot's diff): its lent chunks are hashed and written as
 * they come, and its summary is the one counted from the headers written, so the tar is not parsed again.
 */
export async function ingestLendingLayer(content: ContentStore, tar: LendingLayerTar, what: string): Promise<IngestedBlob> {
  const { ing, result: summary } = await content.ingestLent(tar.lend(what));
  return { ing, layer: { digest: ing.digest, diffId: ing.digest, compression: 'none', uncompressedSize: ing.size, ...summary } };
}

const PENDING_DIGEST = `sha256:${'0'.repeat(64)}` as Digest;

/** The cache of LayerInfo records, one JSON file per layer blob. */
export class LayerInfoCache {
  constructor(private readonly dir: string) {}

  private path(digest: Digest): string {
    return join(this.dir, `${digestHex(digest)}.json`);
  }

  async get(digest: Digest): Promise<LayerInfo | undefined> {
    try {
      return JSON.parse(readFileSync(this.path(digest), 'utf8')) as LayerInfo;
    } catch (e) {
      if (hasErrno(e, 'ENOENT') || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  async put(info: LayerInfo): Promise<void> {
    await writeFileAtomic(this.path(info.digest), JSON.stringify(info));
  }

  pathOf(digest: Digest): string {
    return this.path(digest);
  }
}
