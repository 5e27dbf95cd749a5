import { isShaleError, ShaleError } from '../internal/errors.js';
import { verifyStream } from '../internal/hash.js';
import { decompress } from '../layer/index.js';
import type { Image, Layer } from '../image/index.js';
import { ImageConfigSchema, ManifestSchema, assertImagePlatform, isIndexMediaType, parseJson, selectPlatform, type Descriptor, type Digest } from '../oci/index.js';
import { fetchBlob } from './blobs.js';
import { getManifest, parseIndex, type FetchedManifest } from './manifests.js';
import { manifestReference, type RegistryReference } from './registry-reference.js';
import type { RegistryClient } from './registry-client.js';

/** Largest config blob read into memory. */
const MAX_CONFIG_BYTES = 64 << 20;

/** An image manifest and, when the reference named an index, that index (its digest and bytes). */
export interface ResolvedManifest {
  manifest: FetchedManifest;
  index?: FetchedManifest;
}

/**
 * The image manifest `ref` names: fetched by tag or digest and, when that is an index, the platform's
 * manifest chosen from it (`platform`, else this machine's) and fetched. A single image asked for by
 * `platform` must name that platform in its config (read for it). Digests are checked by getManifest.
 */
export async function resolveImageManifest(client: RegistryClient, ref: RegistryReference, platform?: string): Promise<ResolvedManifest> {
  const first = await getManifest(client, ref.repository, manifestReference(ref));
  if (!isIndexMediaType(first.mediaType)) {
    if (platform) {
      const { config } = parseJson(ManifestSchema, first.raw, `${ref.name}: manifest ${first.digest}`);
      const what = `${ref.name}: config ${config.digest}`;
      assertImagePlatform(parseJson(ImageConfigSchema, await fetchBlobBytes(client, ref.repository, config, what), what), platform, `${ref.name} (image ${config.digest})`);
    }
    return { manifest: first };
  }
  const chosen = selectPlatform(parseIndex(first, `${ref.name}: index ${first.digest}`), platform, `${ref.name}: index ${first.digest}`);
  const manifest = await getManifest(client, ref.repository, chosen.digest);
  if (isIndexMediaType(manifest.mediaType)) throw new ShaleError('UNSUPPORTED', `${ref.name}: index ${chosen.digest} names another index`);
  return { manifest, index: first };
}

/** A whole (small) blob, checked against its descriptor's digest and size. */
export async function fetchBlobBytes(client: RegistryClient, repository: string, d: Descriptor, what: string, limit = MAX_CONFIG_BYTES): Promise<Buffer> {
  if (d.size > limit) throw new ShaleError('CORRUPT_INPUT', `${what} is too large (${d.size} bytes)`);
  const parts: Buffer[] = [];
  for await (const c of verifiedBlob(client, repository, d, what)) parts.push(c);
  return Buffer.concat(parts);
}

/** A digest or size mismatch in what a registry served, said to be so (its code in the message); other errors as they are. */
export function servedCorrupt(e: unknown, aftermath = ''): unknown {
  if (isShaleError(e, 'DIGEST_MISMATCH') || isShaleError(e, 'SIZE_MISMATCH')) {
    return new ShaleError(e.code, `${e.message} (${e.code}: the registry served corrupt content${aftermath})`, { cause: e });
  }
  return e;
}

/** A blob streamed from the registry, verified against its descriptor at its end. */
async function* verifiedBlob(client: RegistryClient, repository: string, d: Descriptor, what: string): AsyncGenerator<Buffer> {
  try {
    yield* verifyStream(fetchBlob(client, repository, d), d, what);
  } catch (e) {
    throw servedCorrupt(e);
  }
}

/** A layer whose blob is fetched (and verified) each time it is opened; nothing is fetched before. */
function remoteLayer(client: RegistryClient, repository: string, descriptor: Descriptor, diffId: Digest, what: string): Layer {
  const openBlob = () => verifiedBlob(client, repository, descriptor, what);
  return {
    descriptor,
    diffId,
    what,
    openBlob,
    // a plain tar's blob digest is its diffId, checked as it is read; a compressed one's tar is checked too
    open: () => (descriptor.digest === diffId ? openBlob() : decompressed()),
  };
  /** The tar of a compressed blob; when it does not decompress, a blob the registry corrupted is said to be that. */
  async function* decompressed(): AsyncGenerator<Uint8Array> {
    try {
      yield* verifyStream(decompress(openBlob(), { what }), { digest: diffId }, `${what}: uncompressed`);
    } catch (e) {
      if (!isShaleError(e, 'DIGEST_MISMATCH') && !isShaleError(e, 'SIZE_MISMATCH')) {
        for await (const _ of openBlob()); // throws the mismatch when the blob itself is not what the manifest names
      }
      throw e;
    }
  }
}

/** An image in a registry: manifest and config fetched and verified; layers fetched only when opened. */
export interface RemoteImage extends Image {
  /** The index the manifest was chosen from, when the reference named one. */
  index?: FetchedManifest;
}

/**
 * Opens `ref` without downloading its layers (go-containerregistry's `remote.Image`): two or three small
 * documents are read (index, manifest, config), each checked against its digest. Each layer's `openBlob()`
 * and `open()` stream it from the registry, verified at its end. `client` must stay open while layers are read.
 */
export async function openRemoteImage(client: RegistryClient, ref: RegistryReference, options: { platform?: string } = {}): Promise<RemoteImage> {
  const { manifest: fetched, index } = await resolveImageManifest(client, ref, options.platform);
  const manifest = parseJson(ManifestSchema, fetched.raw, `${ref.name}: manifest ${fetched.digest}`);
  const rawConfig = await fetchBlobBytes(client, ref.repository, manifest.config, `${ref.name}: config ${manifest.config.digest}`);
  const config = parseJson(ImageConfigSchema, rawConfig, `${ref.name}: config ${manifest.config.digest}`);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new ShaleError('CORRUPT_INPUT', `${ref.name}: manifest ${fetched.digest} has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`);
  }
  const layers = manifest.layers.map((d, i) => remoteLayer(client, ref.repository, d, diffIds[i] as Digest, `${ref.name}: layer ${i + 1} (${d.digest})`));
  return { id: manifest.config.digest as Digest, manifestDigest: fetched.digest, rawManifest: fetched.raw, manifest, rawConfig, config, layers, index };
}
