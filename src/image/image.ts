import type { Descriptor, Digest, ImageConfig, Manifest } from '../oci/index.js';
import type { TarSource } from '../layer/index.js';

/** A layer of an image: its stored blob and the tar inside it, both opened on demand and verified. */
export interface Layer extends TarSource {
  descriptor: Descriptor;
  diffId: Digest;
  /** The stored (maybe compressed) bytes, verified against `descriptor.digest` at their end. */
  openBlob(): AsyncIterable<Uint8Array>;
  /**
   * The same bytes as held at rest (verified when they were stored) without hashing them again: for a
   * receiver that checks the digest itself, as a registry does on a blob upload.
   */
  openStoredBlob?(): AsyncIterable<Uint8Array>;
  /** The uncompressed tar. */
  open(): AsyncIterable<Uint8Array>;
}

/** A read-only image: manifest and config parsed, layers bottom first. */
export interface Image {
  /** The image ID: the config's digest, as Docker's. */
  id: Digest;
  manifestDigest: Digest;
  rawManifest: Buffer;
  manifest: Manifest;
  rawConfig: Buffer;
  config: ImageConfig;
  layers: Layer[];
}

