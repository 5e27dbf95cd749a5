/** Media types of the OCI image spec and Docker's schema 2. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const isIndexMediaType = (t: string | undefined): boolean =>
  t === MediaType.ociIndex || t === MediaType.dockerManifestList;

export const isManifestMediaType = (t: string | undefined): boolean =>
  t === MediaType.ociManifest || t === MediaType.dockerManifest;

export type Compression = 'none' | 'gzip' | 'zstd';

/** The OCI layer media type for a compression. */
export const ociLayerMediaType = (c: Compression): string =>
  c === 'gzip' ? MediaType.ociLayerGzip : c === 'zstd' ? MediaType.ociLayerZstd : MediaType.ociLayer;

/** The Docker layer media type for a compression (Docker has no zstd type of its own). */
export const dockerLayerMediaType = (c: Compression): string =>
  c === 'gzip' ? MediaType.dockerLayerGzip : c === 'zstd' ? MediaType.ociLayerZstd : MediaType.dockerLayer;
