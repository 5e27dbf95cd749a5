import { ShaleError } from '../internal/errors.js';
import { writeStreamAtomic } from '../internal/fs-atomic.js';
import { decompress } from '../layer/index.js';
import { IndexSchema, MediaType, assertImagePlatform, isIndexMediaType, normalizeReference, parseJson, selectPlatform, type Descriptor, type Digest } from '../oci/index.js';
import type { Image, ImageSource } from '../image/index.js';
import { openRemoteSource, parseRegistryReference, pushImage, putManifest, type RegistryReference, type RemoteSource } from '../registry/index.js';
import {
  BlobStaging,
  ociArchiveStream,
  openImageSource,
  saveArchive,
  splitPathRef,
  writeOciLayoutDir,
  type LayoutBlob,
  type Store,
} from '../store/index.js';
import { humanSize } from '../report/index.js';
import type { CommandResult } from './output.js';
import { openClient, progressPrinter, type RegistryFlags } from './registry-commands.js';

export interface CopyFlags extends RegistryFlags {
  /** For an index: copy every manifest and the index itself. */
  allPlatforms?: boolean;
  /** For an index without --all-platforms: the image to copy (default: this machine's). */
  platform?: string;
}

/** Where `copy` writes: the store (a tag), a registry, an OCI layout directory or archive, a docker-archive. */
type Destination =
  | { kind: 'store'; ref: string }
  | { kind: 'docker'; ref: RegistryReference }
  | { kind: 'oci' | 'oci-archive' | 'docker-archive'; path: string; ref?: string };

/** Parses DST before anything is read or written, so a bad one writes nothing. */
function parseDestination(spec: string): Destination {
  const m = /^(docker|oci|oci-archive|docker-archive|docker-daemon):(.*)$/.exec(spec);
  if (!m) {
    try {
      return { kind: 'store', ref: normalizeReference(spec) };
    } catch (e) {
      throw new ShaleError('INVALID_ARGUMENT', `destination "${spec}" is not an image reference nor TRANSPORT:DETAILS`, { cause: e });
    }
  }
  const [, kind, rest] = m as unknown as [string, string, string];
  if (kind === 'docker-daemon') throw new ShaleError('UNSUPPORTED', `destination ${spec}: copying into a Docker Engine is not supported`, { hint: 'copy to docker-archive:PATH and `docker load` it' });
  if (kind === 'docker') {
    if (!rest.startsWith('//')) throw new ShaleError('INVALID_ARGUMENT', `destination "${spec}": write docker://HOST/REPO[:TAG]`);
    return { kind, ref: parseRegistryReference(rest.slice(2)) };
  }
  const { path, ref } = splitPathRef(rest);
  if (!path) throw new ShaleError('INVALID_ARGUMENT', `destination "${spec}" names no path`);
  if (ref && kind === 'docker-archive') normalizeReference(ref); // a docker-archive names images by reference
  return { kind: kind as 'oci' | 'oci-archive' | 'docker-archive', path, ref };
}

async function* bytes(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

const manifestDescriptor = (image: Image): Descriptor => ({ mediaType: image.manifest.mediaType ?? MediaType.ociManifest, digest: image.manifestDigest, size: image.rawManifest.length });

/** The blobs of an image for a layout: config, layers, then the manifest itself. */
function imageBlobs(image: Image): LayoutBlob[] {
  return [
    { descriptor: image.manifest.config, open: () => bytes(image.rawConfig) },
    ...image.layers.map((l) => ({ descriptor: l.descriptor, open: () => l.openBlob() })),
    { descriptor: manifestDescriptor(image), open: () => bytes(image.rawManifest) },
  ];
}

/** What was copied: the images (one, or an index's) and the index when the root is one. */
interface Copied {
  images: Image[];
  index?: { descriptor: Descriptor; raw: Buffer };
}

/** The images to copy from a source's root: the image, an index's image for the platform, or with --all-platforms the index and all of its. */
async function pickImages(source: ImageSource, flags: CopyFlags): Promise<Copied & { refs: string[] }> {
  const root = await source.root();
  if (!isIndexMediaType(root.descriptor.mediaType)) {
    const image = await source.image(root.descriptor);
    assertImagePlatform(image.config, flags.platform, `${source.what} (image ${image.id})`);
    return { images: [image], refs: root.refs };
  }
  const index = parseJson(IndexSchema, root.raw, `${source.what}: index ${root.descriptor.digest}`);
  if (!flags.allPlatforms) return { images: [await source.image(selectPlatform(index, flags.platform, `${source.what}: index ${root.descriptor.digest}`))], refs: root.refs };
  const images: Image[] = [];
  for (const d of index.manifests) {
    if (isIndexMediaType(d.mediaType)) throw new ShaleError('UNSUPPORTED', `${source.what}: index ${root.descriptor.digest} names another index (${d.digest})`);
    images.push(await source.image(d));
  }
  return { images, index: root, refs: root.refs };
}

interface BlobResult {
  digest: Digest;
  size: number;
  action: 'uploaded' | 'mounted' | 'exists' | 'written';
  from?: string;
}

/** Pushes the images (by digest when they belong to an index) and the index, mounting blobs from the source's repository on the same registry. */
async function copyToRegistry(source: ImageSource, copied: Copied, dst: RegistryReference, flags: CopyFlags): Promise<{ blobs: BlobResult[]; uploadedBytes: number }> {
  const remote = 'repository' in source ? (source as RemoteSource) : undefined;
  const mountFrom = remote && remote.host === dst.host && remote.repository !== dst.repository ? remote.repository : undefined;
  const client = await openClient(dst.host, flags);
  try {
    const blobs: BlobResult[] = [];
    let uploadedBytes = 0;
    for (const image of copied.images) {
      const ref = copied.index ? { ...dst, tag: undefined, digest: image.manifestDigest } : dst;
      const r = await pushImage(client, ref, image, { mountFrom: mountFrom ? () => mountFrom : undefined, onEvent: progressPrinter('uploading') });
      uploadedBytes += r.uploadedBytes;
      for (const b of r.blobs) blobs.push({ digest: b.digest, size: b.size, action: b.action, ...(b.from ? { from: b.from } : {}) });
    }
    if (copied.index) await putManifest(client, dst.repository, dst.tag ?? dst.digest!, copied.index.raw, copied.index.descriptor.mediaType);
    return { blobs, uploadedBytes };
  } finally {
    client.close();
  }
}

/** Stages the image's blobs in the store (verified, as a pull does) and tags it. */
async function copyToStore(store: Store, image: Image, ref: string): Promise<BlobResult[]> {
  const staging = new BlobStaging(store);
  try {
    const blobs: BlobResult[] = [];
    const parts: { d: Descriptor; kind: 'config' | 'layer'; open: () => AsyncIterable<Uint8Array> }[] = [
      { d: image.manifest.config, kind: 'config', open: () => bytes(image.rawConfig) },
      ...image.layers.map((l) => ({ d: l.descriptor, kind: 'layer' as const, open: () => l.openBlob() })),
    ];
    for (const { d, kind, open } of parts) {
      if (await staging.has(d.digest as Digest)) {
        blobs.push({ digest: d.digest as Digest, size: d.size, action: 'exists' });
        continue;
      }
      await staging.stage(d, open(), `${kind} ${d.digest}`);
      blobs.push({ digest: d.digest as Digest, size: d.size, action: 'written' });
    }
    await staging.commit({ raw: image.rawManifest, mediaType: manifestDescriptor(image).mediaType, digest: image.manifestDigest }, [ref]);
    return blobs;
  } finally {
    await staging.discard();
  }
}

/** The uncompressed size of each layer a docker-archive holds: a plain layer's own, else counted by reading it. */
function layerSizes(images: Image[]): { layerInfo(digest: Digest): Promise<{ uncompressedSize: number }> } {
  return {
    async layerInfo(digest) {
      const layer = images.flatMap((i) => i.layers).find((l) => l.descriptor.digest === digest)!;
      if (layer.diffId === layer.descriptor.digest) return { uncompressedSize: layer.descriptor.size };
      let n = 0;
      for await (const c of decompress(layer.openBlob(), { what: layer.what })) n += c.length;
      return { uncompressedSize: n };
    },
  };
}

/**
 * `shale copy SRC DST` (as skopeo copy / crane copy): the image (or with --all-platforms the index and
 * all its images) from any source to any destination, blobs streamed from one to the other, manifests byte
 * for byte so digests are kept; on the same registry, blobs are mounted across repositories.
 */
export async function copyCommand(store: Store, src: string, dst: string, flags: CopyFlags): Promise<CommandResult> {
  const target = parseDestination(dst);
  if (flags.allPlatforms && flags.platform) throw new ShaleError('INVALID_ARGUMENT', '--all-platforms and --platform exclude each other');
  const source = await openImageSource(store, src, {
    remote: async (raw) => {
      const ref = parseRegistryReference(raw);
      return openRemoteSource(await openClient(ref.host, flags), ref);
    },
  });
  try {
    const copied = await pickImages(source, flags);
    const root = copied.index?.descriptor ?? manifestDescriptor(copied.images[0]!);
    if (copied.index && (target.kind === 'store' || target.kind === 'docker-archive')) {
      throw new ShaleError('UNSUPPORTED', `${dst}: a ${target.kind === 'store' ? 'store' : 'docker-archive'} holds images, not an index`, { hint: 'copy one platform (--platform), or to docker://, oci: or oci-archive:' });
    }
    let blobs: BlobResult[] = [];
    let transferredBytes = 0;
    switch (target.kind) {
      case 'docker': {
        const r = await copyToRegistry(source, copied, target.ref, flags);
        blobs = r.blobs;
        transferredBytes = r.uploadedBytes;
        break;
      }
      case 'store':
        blobs = await copyToStore(store, copied.images[0]!, target.ref);
        transferredBytes = blobs.filter((b) => b.action === 'written').reduce((n, b) => n + b.size, 0);
        break;
      case 'oci': {
        const all = copied.images.flatMap(imageBlobs);
        const manifests = copied.index ? [{ descriptor: copied.index.descriptor, open: () => bytes(copied.index!.raw) }] : [];
        transferredBytes = (await writeOciLayoutDir(target.path, [...all, ...manifests], { descriptor: root, refName: target.ref })).writtenBytes;
        break;
      }
      case 'oci-archive': {
        const all = copied.images.flatMap(imageBlobs);
        const manifests = copied.index ? [{ descriptor: copied.index.descriptor, open: () => bytes(copied.index!.raw) }] : [];
        await writeStreamAtomic(target.path, ociArchiveStream([...all, ...manifests], { descriptor: root, refName: target.ref }));
        break;
      }
      case 'docker-archive': {
        const image = copied.images[0]!;
        const ref = target.ref ? normalizeReference(target.ref) : undefined;
        await writeStreamAtomic(target.path, saveArchive(layerSizes(copied.images), [{ ref, image }], 'docker-archive'));
        break;
      }
    }
    const data = { source: src, destination: dst, digest: root.digest, images: copied.images.map((i) => ({ id: i.id, manifestDigest: i.manifestDigest })), blobs, transferredBytes };
    const count = (a: string) => blobs.filter((b) => b.action === a).length;
    const text = [
      `${dst}: copied ${copied.images.length} image${copied.images.length === 1 ? '' : 's'}${copied.index ? ' and their index' : ''}` +
        (blobs.length ? ` (${count('uploaded') + count('written')} blobs sent, ${humanSize(transferredBytes)}; ${count('mounted')} mounted, ${count('exists')} already there)` : ''),
      `Digest: ${root.digest}`,
    ].join('\n');
    return { data, text };
  } finally {
    await source.close();
  }
}
