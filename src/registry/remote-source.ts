import type { ImageSource } from '../image/index.js';
import { getManifest } from './manifests.js';
import { openRemoteImage } from './remote-image.js';
import { manifestReference, type RegistryReference } from './registry-reference.js';
import type { RegistryClient } from './registry-client.js';

/** A registry repository as an image source, and where it is (for cross-repository mounts). */
export interface RemoteSource extends ImageSource {
  host: string;
  repository: string;
}

/**
 * A repository read lazily: the reference's manifest or index first, then only the documents and blobs
 * asked for (see openRemoteImage). `close()` closes the client.
 */
export function openRemoteSource(client: RegistryClient, ref: RegistryReference): RemoteSource {
  const { repository } = ref;
  return {
    what: `registry ${ref.name}`,
    host: ref.host,
    repository,
    root: async () => {
      const m = await getManifest(client, repository, manifestReference(ref));
      return { descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.raw.length }, raw: m.raw, refs: [ref.name] };
    },
    manifest: async (d) => (await getManifest(client, repository, d.digest)).raw,
    image: (d) => openRemoteImage(client, { ...ref, tag: undefined, digest: d.digest as RegistryReference['digest'] }),
    close: async () => client.close(),
  };
}
