import { readFile } from 'node:fs/promises';
import { ShaleError } from '../internal/errors.js';
import { ImageConfigSchema, ManifestSchema, parseJson, type Descriptor, type Digest } from '../oci/index.js';
import { diffIdOfDescriptor } from '../layer/index.js';
import type { Ingestion } from './content-store.js';
import type { Store } from './store.js';

/**
 * Blobs arriving from outside (a registry, another source) for one image: each is ingested to a temp file
 * and verified against its descriptor's digest and size; nothing is visible in the store until `commit`
 * checks the whole image and commits it under the lock. `discard` drops the rest.
 *
 * A compressed layer is not decompressed here (a pull costs what its download costs, as skopeo's): its
 * diffId is checked when the layer is first read (`Store.layer`), and it is described on first use
 * (`Store.layerInfo`). An uncompressed layer's digest is its diffId, checked at commit.
 */
export class BlobStaging {
  private readonly staged = new Map<Digest, Ingestion>();

  constructor(private readonly store: Store) {}

  async has(digest: Digest): Promise<boolean> {
    return this.staged.has(digest) || (await this.store.content.has(digest));
  }

  async stage(d: Descriptor, source: AsyncIterable<Uint8Array>, what: string): Promise<void> {
    this.staged.set(d.digest, await this.store.content.ingest(source, { digest: d.digest, size: d.size }, what));
  }

  /**
   * Checks the image (config parses, one layer per diffId; an uncompressed layer's digest, and a described
   * layer's content, equal to its diffId), then commits the staged blobs and the manifest bytes as given,
   * and points `refs` at it.
   */
  async commit(manifest: { raw: Buffer; mediaType: string; digest: Digest }, refs: string[]): Promise<{ id: Digest }> {
    const what = `manifest ${manifest.digest}`;
    const parsed = parseJson(ManifestSchema, manifest.raw, what);
    const configStaged = this.staged.get(parsed.config.digest);
    const rawConfig = configStaged ? await readFile(configStaged.tempPath) : await this.store.content.readBytes(parsed.config.digest, `config ${parsed.config.digest}`);
    const config = parseJson(ImageConfigSchema, rawConfig, `config ${parsed.config.digest}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== parsed.layers.length) {
      throw new ShaleError('CORRUPT_INPUT', `${what}: ${parsed.layers.length} layers but the config lists ${diffIds.length} diff_ids`);
    }
    for (let i = 0; i < parsed.layers.length; i++) {
      const layer = parsed.layers[i]!;
      const known = diffIdOfDescriptor(layer) ?? (await this.store.layerInfos.get(layer.digest))?.diffId;
      if (known !== undefined && known !== diffIds[i]) {
        throw new ShaleError('DIGEST_MISMATCH', `${what}: layer ${i + 1} has diffId ${known}, the config says ${diffIds[i]}`);
      }
    }
    return this.store.withLock(async () => {
      for (const [digest, ing] of this.staged) {
        await this.store.content.commitOnce(ing);
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
    for (const ing of this.staged.values()) await this.store.content.discard(ing);
    this.staged.clear();
  }
}
