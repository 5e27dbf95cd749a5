import { isIndexMediaType, IndexSchema, ManifestSchema, parseJson, type Digest } from '../oci/index.js';
import type { Store } from './store.js';

/** Every blob reachable from the store's index: manifests (and nested indexes), configs, layers. */
export async function reachableBlobs(store: Store): Promise<{ blobs: Set<Digest>; layers: Set<Digest>; problems: string[] }> {
  const blobs = new Set<Digest>();
  const layers = new Set<Digest>();
  const problems: string[] = [];
  const visit = async (digest: Digest, mediaType: string | undefined, from: string): Promise<void> => {
    if (blobs.has(digest)) return;
    blobs.add(digest);
    let raw: Buffer;
    try {
      raw = await store.content.readBytes(digest, `${from}: manifest ${digest}`);
    } catch (e) {
      problems.push((e as Error).message);
      return;
    }
    try {
      if (isIndexMediaType(mediaType)) {
        const index = parseJson(IndexSchema, raw, `index ${digest}`);
        for (const m of index.manifests) await visit(m.digest, m.mediaType, `index ${digest}`);
        return;
      }
      const manifest = parseJson(ManifestSchema, raw, `manifest ${digest}`);
      blobs.add(manifest.config.digest);
      for (const l of manifest.layers) {
        blobs.add(l.digest);
        layers.add(l.digest);
      }
    } catch (e) {
      problems.push((e as Error).message);
    }
  };
  for (const entry of await store.readIndex()) {
    await visit(entry.descriptor.digest, entry.descriptor.mediaType, entry.ref ?? 'untagged image');
  }
  return { blobs, layers, problems };
}
