import { readFile } from 'node:fs/promises';
import { ShaleError } from '../internal/errors.js';
import { ImageConfigSchema, ManifestSchema, parseJson, type Descriptor, type Digest } from '../oci/index.js';
import type { Ingestion } from './content-store.js';
import { ingestBlob, type LayerInfo } from './layer-info.js';
import type { Store } from './store.js';

interface Staged {
  ing: Ingestion;
  layer?: LayerInfo;
  layerError?: unknown;
}

/**
 * Blobs arriving from outside (a registry) for one image: each is ingested to a temp file and verified
 * against its descriptor's digest and size (layers are described in the same pass); nothing is visible in
 * the store until `commit` checks the whole image and commits it under the lock. `discard` drops the rest.
 */
export class BlobStaging {
  private readonly staged = new Map<Digest, Staged>();

  constructor(private readonly store: Store) {}

  async has(digest: Digest): Promise<boolean> {
    return this.staged.has(digest) || (await this.store.content.has(digest));
  }

  async stage(d: Descriptor, source: AsyncIterable<Uint8Array>, kind: 'config' | 'layer', what: string): Promise<void> {
    const expected = { digest: d.digest, size: d.size };
    if (kind === 'layer') {
      const { ing, layer, layerError } = await ingestBlob(this.store.content, source, what, expected);
      this.staged.set(d.digest, { ing, layer, layerError });
    } else {
      this.staged.set(d.digest, { ing: await this.store.content.ingest(source, expected, what) });
    }
  }

  private async layerInfo(digest: Digest): Promise<LayerInfo> {
    const s = this.staged.get(digest);
    if (!s) return this.store.layerInfo(digest);
    if (!s.layer) throw s.layerError;
    return s.layer;
  }

  /**
   * Checks the image (config parses, one layer per diffId, each layer's content hashes to its diffId),
   * then commits the staged blobs and the manifest bytes as given, and points `refs` at it.
   */
  async commit(manifest: { raw: Buffer; mediaType: string; digest: Digest }, refs: string[]): Promise<{ id: Digest }> {
    const what = `manifest ${manifest.digest}`;
    const parsed = parseJson(ManifestSchema, manifest.raw, what);
    const configStaged = this.staged.get(parsed.config.digest);
    const rawConfig = configStaged ? await readFile(configStaged.ing.tempPath) : await this.store.content.readBytes(parsed.config.digest, `config ${parsed.config.digest}`);
    const config = parseJson(ImageConfigSchema, rawConfig, `config ${parsed.config.digest}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== parsed.layers.length) {
      throw new ShaleError('CORRUPT_INPUT', `${what}: ${parsed.layers.length} layers but the config lists ${diffIds.length} diff_ids`);
    }
    const infos: LayerInfo[] = [];
    for (let i = 0; i < parsed.layers.length; i++) {
      const info = await this.layerInfo(parsed.layers[i]!.digest);
      if (info.diffId !== diffIds[i]) {
        throw new ShaleError('DIGEST_MISMATCH', `${what}: layer ${i + 1} has diffId ${info.diffId}, the config says ${diffIds[i]}`);
      }
      infos.push(info);
    }
    return this.store.withLock(async () => {
      for (const [digest, s] of this.staged) {
        await this.store.content.commitOnce(s.ing);
        if (s.layer) await this.store.layerInfos.put(s.layer);
        this.staged.delete(digest);
      }
      const stored = await this.store.content.putBytes(manifest.raw);
      if (stored !== manifest.digest) throw new ShaleError('DIGEST_MISMATCH', `${what}: bytes hash to ${stored}`);
      const descriptor: Descriptor = { mediaType: parsed.mediaType ?? manifest.mediaType, digest: manifest.digest, size: manifest.raw.length };
      await this.store.setTags(descriptor, refs);
      return { id: parsed.config.digest };
    });
  }

  async discard(): Promise<void> {
    for (const s of this.staged.values()) await this.store.content.discard(s.ing);
    this.staged.clear();
  }
}
