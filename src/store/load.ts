import { ManifestSchema, MediaType, parseJson, type Digest } from '../oci/index.js';
import type { Ingestion } from './content-store.js';
import { tarMembers } from './archive-members.js';
import { ArchiveView, archiveImages, archiveManifest, openArchiveView, stageArchiveLayer, type StagedLayer } from './source-archive.js';
import type { IngestedBlob } from './layer-info.js';
import type { Store } from './store.js';

export interface LoadedImage {
  ref: string | null;
  id: Digest;
}

export interface LoadOptions {
  /** For OCI layouts: load only the image with this name. */
  ref?: string;
  /** For multi-platform indexes: `os/arch[/variant]` (default: this machine's, else the first). */
  platform?: string;
}

/**
 * Puts every image of an opened archive into the store (see archiveImages for which). Every blob is copied
 * into the store's temp area and verified (names that are digests, descriptor sizes, diffIds); nothing is
 * committed unless every image is good.
 */
export async function loadArchiveView(store: Store, view: ArchiveView, options: LoadOptions = {}): Promise<LoadedImage[]> {
  const { what } = view;
  const ingested: Ingestion[] = [];
  const once = new Map<string, Promise<IngestedBlob>>();
  try {
    const staged: { refs: string[]; id: Digest; config: Ingestion; layers: StagedLayer[]; rawManifest: Buffer }[] = [];
    for (const img of archiveImages(view, options)) {
      const layers: StagedLayer[] = [];
      for (const [i, l] of img.layers.entries()) {
        layers.push(await stageArchiveLayer(store.content, l, i, `${what}: image ${img.id}`, once));
      }
      const config = await store.content.ingest([img.rawConfig], { digest: img.id }, `${what}: config ${img.id}`);
      ingested.push(config);
      staged.push({ refs: img.refs, id: img.id, config, layers, rawManifest: archiveManifest(img, layers) });
    }
    return await store.withLock(async () => {
      const loaded: LoadedImage[] = [];
      const committed = new Set<Digest>();
      const commit = async (ing: Ingestion) => {
        if (committed.has(ing.digest)) return;
        await store.content.commitOnce(ing);
        committed.add(ing.digest);
      };
      for (const img of staged) {
        for (const l of img.layers) {
          await commit(l.blob.ing);
          await store.layerInfos.put(l.blob.layer!);
        }
        await commit(img.config);
        const manifestDigest = await store.content.putBytes(img.rawManifest);
        const parsed = parseJson(ManifestSchema, img.rawManifest, 'manifest');
        await store.setTags({ mediaType: parsed.mediaType ?? MediaType.ociManifest, digest: manifestDigest, size: img.rawManifest.length }, img.refs);
        if (img.refs.length === 0) loaded.push({ ref: null, id: img.id });
        for (const ref of img.refs) loaded.push({ ref, id: img.id });
      }
      return loaded;
    });
  } finally {
    for (const pending of once.values()) {
      const b = await pending.catch(() => undefined);
      if (b) await store.content.discard(b.ing);
    }
    for (const ing of ingested) await store.content.discard(ing);
    await view.close();
  }
}

/** `shale load -i PATH`: an archive file (plain or compressed tar) or an OCI layout directory. */
export async function loadArchive(store: Store, path: string, ref?: string, platform?: string): Promise<LoadedImage[]> {
  const view = await openArchiveView(path, `archive ${path}`, store.content);
  return loadArchiveView(store, view, { ref, platform });
}

/** Loads an archive arriving as a stream (stdin, a Docker Engine's image export). */
export async function loadArchiveStream(store: Store, source: AsyncIterable<Uint8Array>, what: string): Promise<LoadedImage[]> {
  return loadArchiveView(store, await ArchiveView.staged(store.content, tarMembers(source, what), what));
}
