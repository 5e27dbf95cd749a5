import { isShaleError, ShaleError } from '../internal/errors.js';
import { formatPlatform, isDigest, normalizePlatform, platformMatches, type Digest, type PlatformSpec } from '../oci/index.js';
import type { Image } from '../image/index.js';
import type { Store } from '../store/index.js';

/**
 * Pulls `ref` for `platform` into the store (through an index by platform) and returns the manifest digest
 * stored. The CLI gives the registry client's pull (build/ does not talk to registries itself).
 */
export type BasePuller = (ref: string, platform: PlatformSpec) => Promise<{ manifestDigest: Digest }>;

export interface BaseLookup {
  /** Pulls when the store lacks the image for the platform; absent, such a FROM is an error. */
  puller?: BasePuller;
  /** `--pull`: pull even when the store has it (blobs already stored are not downloaded again). */
  always?: boolean;
  /** Where the reference was written, for messages (`Dockerfile:3: FROM x`). */
  what: string;
}

/** An image ID or its 12+ hex prefix: found in the store as it is, never pulled, its platform not checked. */
const isImageId = (ref: string): boolean => isDigest(ref) || /^[a-f0-9]{12,64}$/.test(ref);

/** The platform an image's config declares, as text (`unknown` when it names none). */
const configPlatform = (image: Image): string =>
  image.config.os && image.config.architecture
    ? formatPlatform(normalizePlatform({ os: image.config.os, architecture: image.config.architecture, variant: image.config.variant }))
    : 'unknown';

/**
 * The image a FROM (or `COPY --from`) names, for `platform`, as Docker 26's BuildKit finds it: the stored
 * image when its config's platform matches, else (missing, or stored for another platform, or `always`)
 * pulled for the platform. Errors name the reference, the platform and why.
 */
export async function findBaseImage(store: Store, ref: string, platform: PlatformSpec, lookup: BaseLookup): Promise<Image> {
  const want = formatPlatform(normalizePlatform(platform));
  let why = 'image not found in the store';
  if (!lookup.always || isImageId(ref)) {
    try {
      const { image } = await store.resolve(ref);
      const variant = image.config.variant;
      // an image whose config names no platform cannot be told apart: it is taken as it is
      const unnamed = !image.config.os || !image.config.architecture;
      if (isImageId(ref) || unnamed || platformMatches(platform, { os: image.config.os, architecture: image.config.architecture, variant })) return image;
      why = `the store has it for ${configPlatform(image)}, not ${want}`;
    } catch (e) {
      if (!isShaleError(e, 'NOT_FOUND')) throw e;
    }
  }
  if (!lookup.puller || isImageId(ref)) {
    throw new ShaleError('NOT_FOUND', `${lookup.what}: ${why}`, { hint: 'make it with `shale import`, `shale load` or `shale pull --platform` first' });
  }
  let manifestDigest: Digest;
  try {
    ({ manifestDigest } = await lookup.puller(ref, platform));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const before = lookup.always ? '' : `${why}, and `;
    throw new ShaleError(isShaleError(e) ? e.code : 'NOT_FOUND', `${lookup.what}: ${before}pulling it for ${want} failed: ${message}`, { cause: e });
  }
  // the pull took a single image only when its config names this platform (or none)
  return store.image(manifestDigest);
}
