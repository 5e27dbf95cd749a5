import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HashingStream } from '../internal/hash.js';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import { hasErrno } from '../internal/errors.js';
import { decompress, sniffCompression, summarizeLayer, type LayerSummary } from '../layer/index.js';
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
 * Reads a layer blob once: sniffs compression, hashes the uncompressed tar (the diffId), checks every
 * entry name and counts the content. `blob` yields the stored bytes.
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
  const tar = (async function* () {
    for await (const c of decompress(sniffing(), { what })) {
      hasher.update(c);
      yield c;
    }
  })();
  try {
    const summary = await summarizeLayer(tar, what);
    for await (const _ of tar) void _; // the bytes after the end-of-archive blocks are part of the diffId too
    return {
      digest,
      diffId: hasher.digest(),
      compression: sniffCompression(head ?? new Uint8Array(0)),
      uncompressedSize: hasher.bytes,
      ...summary,
    };
  } finally {
    await tar.return(undefined);
  }
}

/** The cache of LayerInfo records, one JSON file per layer blob. */
export class LayerInfoCache {
  constructor(private readonly dir: string) {}

  private path(digest: Digest): string {
    return join(this.dir, `${digestHex(digest)}.json`);
  }

  async get(digest: Digest): Promise<LayerInfo | undefined> {
    try {
      return JSON.parse(await readFile(this.path(digest), 'utf8')) as LayerInfo;
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
