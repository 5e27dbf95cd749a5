import { MediaType, digestOf, ociLayerMediaType, splitTagged, type Descriptor, type Digest } from '../oci/index.js';
import { layerCompressionOf, makeHeader, withCompressedLayers, writeTar, type CompressedBlob, type CompressionSpec, type TarWriteEntry } from '../layer/index.js';
import { storedCompressedLayer } from './compressed-layers.js';
import { canonicalJson, makeManifest, type Image } from '../image/index.js';
import { Store } from './store.js';
import { ShaleError } from '../internal/errors.js';

/** Where a docker-archive learns the uncompressed size of a layer it writes (the store's layer records). */
export interface LayerSizes {
  layerInfo(digest: Digest): Promise<{ uncompressedSize: number }>;
}

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

export interface SaveItem {
  /** The reference to record (`name:tag`), or none for an image saved by ID. */
  ref?: string;
  image: Image;
}

const dir = (name: string): TarWriteEntry => ({ header: makeHeader({ name, type: 'dir', mode: 0o755 }) });
const doc = (name: string, data: Buffer): TarWriteEntry => ({
  header: makeHeader({ name, type: 'file', size: data.length }),
  body: data,
});

/**
 * An archive of images as a tar stream. `docker-archive` is Docker 25's layout (manifest.json with
 * uncompressed layers, which is also an OCI layout), readable by `docker load` old and new and by skopeo;
 * `oci-archive` is an OCI layout with the blobs as stored. With `compression`, uncompressed layers are
 * written as compressed copies (remembered in the store, made first when there is none: a tar entry needs
 * its size before its bytes), and layers stored compressed as they are, in both formats. `onManifest`
 * is told the manifest written for each image.
 */
export async function* saveArchive(store: Store | LayerSizes, items: SaveItem[], format: ArchiveFormat, options: { compression?: CompressionSpec; onManifest?: (id: Digest, manifest: Descriptor) => void } = {}): AsyncGenerator<Buffer> {
  const blobs = new Map<Digest, () => TarWriteEntry | Promise<TarWriteEntry>>();
  const indexEntries: object[] = [];
  const dockerManifest: object[] = [];
  const byImage = new Map<Digest, string[]>();
  for (const { ref, image } of items) {
    const refs = byImage.get(image.id) ?? [];
    if (ref) refs.push(ref);
    byImage.set(image.id, refs);
  }
  const blobName = (d: Digest) => `blobs/sha256/${d.slice(7)}`;
  const seen = new Set<Digest>();
  for (const { image } of items) {
    if (seen.has(image.id)) continue;
    seen.add(image.id);
    const refs = byImage.get(image.id)!;
    blobs.set(image.id, () => doc(blobName(image.id), image.rawConfig));
    let manifestRaw: Buffer;
    const stored = (d: Digest, size: number) => () => ({ header: makeHeader({ name: blobName(d), type: 'file', size }), body: (store as Store).content.open(d) });
    if (options.compression) {
      // compressed copies are made and remembered in a store: a source outside one is saved as it is
      if (!(store instanceof Store)) throw new ShaleError('UNSUPPORTED', 'compression of an archive is only done for images of the store');
      const copies: (CompressedBlob | undefined)[] = [];
      for (const l of image.layers) {
        if (layerCompressionOf(l.descriptor.mediaType) !== 'none') {
          copies.push(undefined);
          blobs.set(l.descriptor.digest, stored(l.descriptor.digest, l.descriptor.size));
          continue;
        }
        const { record } = await storedCompressedLayer(store, l, options.compression);
        copies.push({ digest: record.digest, size: record.size, compression: record.compression });
        blobs.set(record.digest, stored(record.digest, record.size));
      }
      const manifest = withCompressedLayers(image.manifest, copies);
      if (format === 'oci-archive') manifestRaw = canonicalJson(manifest);
      else {
        // the archive's manifest is an OCI one (see above), whatever the stored image's kind
        const layerDescs = manifest.layers.map((d) => ({ mediaType: ociLayerMediaType(layerCompressionOf(d.mediaType) ?? 'none'), digest: d.digest, size: d.size }));
        manifestRaw = canonicalJson(makeManifest({ mediaType: MediaType.ociConfig, digest: image.id, size: image.rawConfig.length }, layerDescs));
        dockerManifest.push({ Config: blobName(image.id), RepoTags: refs, Layers: layerDescs.map((d) => blobName(d.digest)) });
      }
    } else if (format === 'oci-archive') {
      manifestRaw = image.rawManifest;
      for (const l of image.layers) {
        const size = l.descriptor.size;
        blobs.set(l.descriptor.digest, () => ({ header: makeHeader({ name: blobName(l.descriptor.digest), type: 'file', size }), body: l.openBlob() }));
      }
    } else {
      const layerDescs = [];
      for (const l of image.layers) {
        const info = await store.layerInfo(l.descriptor.digest);
        layerDescs.push({ mediaType: MediaType.ociLayer, digest: l.diffId, size: info.uncompressedSize });
        blobs.set(l.diffId, () => ({
          header: makeHeader({ name: blobName(l.diffId), type: 'file', size: info.uncompressedSize }),
          body: l.open(),
        }));
      }
      manifestRaw = canonicalJson(
        makeManifest({ mediaType: MediaType.ociConfig, digest: image.id, size: image.rawConfig.length }, layerDescs),
      );
      dockerManifest.push({ Config: blobName(image.id), RepoTags: refs, Layers: layerDescs.map((d) => blobName(d.digest)) });
    }
    const manifestDigest = digestOf(manifestRaw);
    blobs.set(manifestDigest, () => doc(blobName(manifestDigest), manifestRaw));
    const descriptor = { mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifestRaw.length };
    options.onManifest?.(image.id, descriptor);
    if (refs.length === 0) indexEntries.push(descriptor);
    for (const ref of refs) {
      indexEntries.push({
        ...descriptor,
        annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': splitTagged(ref).tag },
      });
    }
  }
  async function* entries(): AsyncGenerator<TarWriteEntry> {
    yield dir('blobs/');
    yield dir('blobs/sha256/');
    for (const d of [...blobs.keys()].sort()) yield await blobs.get(d)!();
    yield doc('index.json', canonicalJson({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: indexEntries }));
    if (format === 'docker-archive') yield doc('manifest.json', canonicalJson(dockerManifest));
    yield doc('oci-layout', canonicalJson({ imageLayoutVersion: '1.0.0' }));
  }
  yield* writeTar(entries());
}
