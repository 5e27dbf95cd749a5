import { digestOf, MediaType, type Descriptor, type ImageConfig, type Manifest } from '../oci/index.js';
import { canonicalJson } from './config-edit.js';
import type { Image, Layer } from './image.js';

/** What an edit of an image decides: its config, its layers bottom first and its manifest annotations. */
export interface ImageEdit {
  config: ImageConfig;
  layers: Layer[];
  annotations?: Record<string, string>;
}

/**
 * The image an edit makes from `source`: the config serialised the one way shale does, and a manifest of
 * the source's kind (OCI or Docker schema 2, with its config media type) naming the edit's layers, so the
 * result can be stored or pushed as it is. A Docker manifest carries no annotations.
 */
export function editedImage(source: Pick<Image, 'manifest'>, edit: ImageEdit): Image {
  const rawConfig = canonicalJson(edit.config);
  const docker = source.manifest.mediaType === MediaType.dockerManifest;
  const configDescriptor: Descriptor = {
    mediaType: docker ? MediaType.dockerConfig : MediaType.ociConfig,
    digest: digestOf(rawConfig),
    size: rawConfig.length,
  };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: configDescriptor,
    layers: edit.layers.map((l) => ({ mediaType: l.descriptor.mediaType, digest: l.descriptor.digest, size: l.descriptor.size })),
  };
  if (!docker && edit.annotations && Object.keys(edit.annotations).length > 0) manifest.annotations = edit.annotations;
  const rawManifest = canonicalJson(manifest);
  return { id: configDescriptor.digest, manifestDigest: digestOf(rawManifest), rawManifest, manifest, rawConfig, config: edit.config, layers: edit.layers };
}
