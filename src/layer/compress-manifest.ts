/**
 * The manifest of an image whose uncompressed layers were replaced by compressed copies: layer media types
 * follow the manifest's kind (OCI `...tar+gzip`/`...tar+zstd`, Docker `...rootfs.diff.tar.gzip`). Docker's
 * schema 2 has no zstd type: a Docker manifest with a zstd layer becomes an OCI manifest as a whole (config
 * and every layer), as Docker 26 and buildx write one.
 */
import { MediaType, dockerLayerMediaType, ociLayerMediaType, type Compression, type Descriptor, type Digest, type Manifest } from '../oci/index.js';

/** The compression a layer media type names, or undefined for a type that is not a known layer type. */
export function layerCompressionOf(mediaType: string): Compression | undefined {
  switch (mediaType) {
    case MediaType.ociLayer:
    case MediaType.dockerLayer:
      return 'none';
    case MediaType.ociLayerGzip:
    case MediaType.dockerLayerGzip:
      return 'gzip';
    case MediaType.ociLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

/**
 * A layer's diffId as far as its descriptor tells: an uncompressed tar's digest is its diffId; a
 * compressed blob's diffId is known only from its tar (undefined).
 */
export function diffIdOfDescriptor(d: Pick<Descriptor, 'mediaType' | 'digest'>): Digest | undefined {
  return layerCompressionOf(d.mediaType) === 'none' ? d.digest : undefined;
}

/** A compressed copy of a layer: its blob and codec. */
export interface CompressedBlob {
  digest: Digest;
  size: number;
  compression: Exclude<Compression, 'none'>;
}

/**
 * `manifest` with layer i replaced by `copies[i]` where one is given (the others kept as they are, only
 * their media type translated when the manifest turns from Docker's to OCI's).
 */
export function withCompressedLayers(manifest: Manifest, copies: readonly (CompressedBlob | undefined)[]): Manifest {
  const docker = manifest.mediaType === MediaType.dockerManifest;
  const toOci = docker && copies.some((c) => c?.compression === 'zstd');
  const layerType = (c: Compression) => (docker && !toOci ? dockerLayerMediaType(c) : ociLayerMediaType(c));
  const layers: Descriptor[] = manifest.layers.map((d, i) => {
    const copy = copies[i];
    if (copy) return { ...d, mediaType: layerType(copy.compression), digest: copy.digest, size: copy.size };
    const c = toOci ? layerCompressionOf(d.mediaType) : undefined;
    return c === undefined ? d : { ...d, mediaType: ociLayerMediaType(c) };
  });
  if (!toOci) return { ...manifest, layers };
  const config = manifest.config.mediaType === MediaType.dockerConfig ? { ...manifest.config, mediaType: MediaType.ociConfig } : manifest.config;
  return { ...manifest, mediaType: MediaType.ociManifest, config, layers };
}
