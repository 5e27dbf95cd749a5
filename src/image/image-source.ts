import type { Descriptor } from '../oci/index.js';
import type { Image } from './image.js';

/**
 * A place images are read from by descriptor (go-containerregistry's layout/tarball/remote): an OCI
 * layout or archive, a docker-archive, a registry repository, the store. Documents are returned as the
 * source holds them, byte for byte, so their digests are kept; every read is checked against its descriptor.
 */
export interface ImageSource {
  /** Names the source in errors. */
  what: string;
  /** The manifest or index the source's reference names, and the references it is known by there. */
  root(): Promise<{ descriptor: Descriptor; raw: Buffer; refs: string[] }>;
  /** A manifest or index the source holds. */
  manifest(d: Descriptor): Promise<Buffer>;
  /** The image of a manifest the source holds; its layers are opened on demand. */
  image(d: Descriptor): Promise<Image>;
  /** Drops whatever was staged to read the source. */
  close(): Promise<void>;
}
