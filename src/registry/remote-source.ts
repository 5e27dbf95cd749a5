import { verifiedStream } from '../internal/hash.js';
import { decompress } from '../layer/index.js';
import { ImageConfigSchema, ManifestSchema, parseJson, type Descriptor, type Digest } from '../oci/index.js';
import type { Image, ImageSource, Layer } from '../image/index.js';
import { fetchBlob } from './blobs.js';
import { getManifest } from './manifests.js';
import { manifestReference, type RegistryReference } from './registry-reference.js';
import type { RegistryClient } from './registry-client.js';

/** A registry repository as an image source, and where it is (for cross-repository mounts). */
export interface RemoteSource extends ImageSource {
  host: string;
  repository: string;
}

/**
 * A repository read lazily: the reference's manifest or index first, then only the documents and blobs
 * asked for. Manifests are checked against their digest as fetched, blobs at the end of their stream.
 */
export function openRemoteSource(client: RegistryClient, ref: RegistryReference): RemoteSource {
  const { repository } = ref;
  const what = `registry ${ref.name}`;
  const blob = (d: Descriptor, kind: string) => verifiedStream(fetchBlob(client, repository, d), { digest: d.digest, size: d.size }, `${what}: ${kind} ${d.digest}`);
  const image = async (d: Descriptor): Promise<Image> => {
    const fetched = await getManifest(client, repository, d.digest);
    const manifest = parseJson(ManifestSchema, fetched.raw, `${what}: manifest ${d.digest}`);
    const parts: Buffer[] = [];
    for await (const c of blob(manifest.config, 'config')) parts.push(c);
    const rawConfig = Buffer.concat(parts);
    const config = parseJson(ImageConfigSchema, rawConfig, `${what}: config ${manifest.config.digest}`);
    const layers = manifest.layers.map((l, i): Layer => {
      const diffId = config.rootfs.diff_ids[i] as Digest;
      const layerWhat = `${what}: layer ${i + 1} (${l.digest})`;
      return {
        descriptor: l,
        diffId,
        what: layerWhat,
        openBlob: () => blob(l, 'layer'),
        open: () => verifiedStream(decompress(blob(l, 'layer'), { what: layerWhat }), { digest: diffId }, `${layerWhat}: uncompressed`),
      };
    });
    return { id: manifest.config.digest as Digest, manifestDigest: fetched.digest, rawManifest: fetched.raw, manifest, rawConfig, config, layers };
  };
  return {
    what,
    host: ref.host,
    repository,
    root: async () => {
      const m = await getManifest(client, repository, manifestReference(ref));
      return { descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.raw.length }, raw: m.raw, refs: [ref.name] };
    },
    manifest: async (d) => (await getManifest(client, repository, d.digest)).raw,
    image,
    close: async () => client.close(),
  };
}
