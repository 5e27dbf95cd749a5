import { isShaleError } from '../internal/errors.js';
import { MediaType, type Descriptor, type Digest } from '../oci/index.js';
import type { Image, Layer } from '../image/index.js';
import { withCompressedLayers, type CompressedBlob, type LayerCompression } from '../layer/index.js';
import { repositoryScope } from './auth.js';
import { hasBlob } from './blobs.js';
import { putManifest } from './manifests.js';
import type { RegistryReference } from './registry-reference.js';
import type { RegistryClient } from './registry-client.js';
import { mapLimit } from '../internal/map-limit.js';
import type { TransferListener } from './transfer-events.js';
import { patchBlob, putBlob, startUpload, streamBlob, type StreamedBlob } from './uploads.js';

/**
 * What goes up in place of an uncompressed layer: a compressed copy already made (sent, or found on the
 * registry, like any blob), or one made while it is sent (its digest known at the end of the stream).
 */
export type LayerReplacement =
  | { compression: LayerCompression; blob: { digest: Digest; size: number; open: () => AsyncIterable<Uint8Array> } }
  | { compression: LayerCompression; stream: StreamedBlob; uncompressedSize: number };

export interface PushOptions {
  /** A repository of the same registry known to hold a blob: it is mounted from there instead of sent. */
  mountFrom?: (digest: Digest) => string | undefined;
  /** Blobs larger than this go up in chunks of this size (default 512 MiB); smaller ones in one PUT. */
  chunkSize?: number;
  /** Blobs uploaded at once (default 3). */
  concurrency?: number;
  /** A compressed copy to send in place of a layer (undefined: the layer as stored). */
  replaceLayer?: (layer: Layer) => Promise<LayerReplacement | undefined>;
  onEvent?: TransferListener;
}

export interface PushedBlob {
  kind: 'config' | 'layer';
  digest: Digest;
  size: number;
  action: 'uploaded' | 'exists' | 'mounted';
  from?: string;
  /** The layer was compressed during this push (else it was sent as stored or as a copy made before). */
  compressed?: boolean;
  /** The uncompressed layer this blob is a compressed copy of. */
  diffId?: Digest;
}

export interface PushResult {
  ref: string;
  manifestDigest: Digest;
  /** The manifest's media type as pushed (an OCI one when a Docker manifest got a zstd layer). */
  mediaType: string;
  /** The manifest's size in bytes as pushed. */
  manifestSize: number;
  uploadedBytes: number;
  blobs: PushedBlob[];
}

/** A blob to send; a layer's compressed copy names its layer and codec. */
type Upload = { kind: 'config' | 'layer'; copyOf?: { diffId: Digest; compression: LayerCompression } } & (
  | { d: Pick<Descriptor, 'digest' | 'size'>; open: () => AsyncIterable<Uint8Array> }
  | { stream: StreamedBlob; uncompressedSize: number }
);

/**
 * Pushes an image: each blob is checked with HEAD and only missing ones are sent (mounted when another
 * repository is known to have them), a few at a time; layers `replaceLayer` gives a copy of go up as that
 * copy (one made on the fly is streamed as it is compressed). The manifest goes last: byte for byte as
 * stored when no layer was replaced (its digest is the same on both sides), else rewritten to name the copies.
 */
export async function pushImage(client: RegistryClient, ref: RegistryReference, image: Image, options: PushOptions = {}): Promise<PushResult> {
  const repo = ref.repository;
  const chunkSize = options.chunkSize ?? 512 << 20;
  const uploads: Upload[] = [];
  const seen = new Set<Digest>();
  for (const l of image.layers) {
    if (seen.has(l.descriptor.digest)) continue;
    seen.add(l.descriptor.digest);
    const r = await options.replaceLayer?.(l);
    const copyOf = r ? { diffId: l.diffId, compression: r.compression } : undefined;
    if (r && 'blob' in r) uploads.push({ kind: 'layer', copyOf, d: r.blob, open: r.blob.open });
    else if (r) uploads.push({ kind: 'layer', copyOf, stream: r.stream, uncompressedSize: r.uncompressedSize });
    else uploads.push({ kind: 'layer', d: l.descriptor, open: () => l.openStoredBlob?.() ?? l.openBlob() }); // the registry checks the digest
  }
  uploads.push({ kind: 'config', d: image.manifest.config, open: async function* () {
    yield image.rawConfig;
  } });
  const known = uploads.flatMap((u) => ('d' in u ? [u.d.digest] : []));
  const froms = new Set(known.map((d) => options.mountFrom?.(d)).filter((f): f is string => f !== undefined && f !== repo));
  const scopes = [repositoryScope(repo, 'pull,push'), ...[...froms].sort().map((f) => repositoryScope(f, 'pull'))];
  let uploadedBytes = 0;

  const results = await mapLimit(uploads, options.concurrency ?? 3, async (u): Promise<PushedBlob> => {
    const { kind } = u;
    const diffId = u.copyOf?.diffId;
    const extra = diffId ? { diffId } : {};
    if ('stream' in u) {
      // the digest is known only at the end: no HEAD or mount first
      const event = { kind, digest: diffId!, size: u.uncompressedSize };
      for (let attempt = 1; ; attempt++) {
        let sent = 0;
        try {
          const start = await startUpload(client, repo, scopes);
          if (start.mounted) throw new Error('unexpected mount');
          options.onEvent?.({ ...event, state: 'start' });
          const d = await streamBlob(client, start.location, u.stream, scopes, (n) => {
            sent += n;
            options.onEvent?.({ ...event, state: 'bytes', bytes: n });
          });
          uploadedBytes += d.size;
          options.onEvent?.({ ...event, state: 'done' });
          return { kind, digest: d.digest as Digest, size: d.size, action: 'uploaded', compressed: true, ...extra };
        } catch (e) {
          if (!isShaleError(e, 'UNAVAILABLE') || attempt >= client.maxAttempts) throw e;
          options.onEvent?.({ ...event, state: 'retry', bytes: sent });
          await client.backoff(attempt);
        }
      }
    }
    const { d, open } = u;
    const event = { kind, digest: d.digest, size: d.size };
    if (await hasBlob(client, repo, d, scopes)) {
      options.onEvent?.({ ...event, state: 'exists' });
      return { kind, digest: d.digest, size: d.size, action: 'exists', ...extra };
    }
    const from = options.mountFrom?.(d.digest);
    for (let attempt = 1; ; attempt++) {
      let sent = 0;
      try {
        const start = await startUpload(client, repo, scopes, from && from !== repo ? { digest: d.digest, from } : undefined);
        if (start.mounted) {
          options.onEvent?.({ ...event, state: 'mounted', from });
          return { kind, digest: d.digest, size: d.size, action: 'mounted', from, ...extra };
        }
        options.onEvent?.({ ...event, state: 'start' });
        if (d.size > chunkSize) {
          await patchBlob(client, start.location, d, open, scopes, chunkSize, (n) => {
            sent += n;
            options.onEvent?.({ ...event, state: 'bytes', bytes: n });
          });
        } else {
          await putBlob(client, start.location, d, open, scopes);
          sent = d.size;
          options.onEvent?.({ ...event, state: 'bytes', bytes: d.size });
        }
        uploadedBytes += d.size;
        options.onEvent?.({ ...event, state: 'done' });
        return { kind, digest: d.digest, size: d.size, action: 'uploaded', ...extra };
      } catch (e) {
        // a dropped upload starts over in a new session; other failures are final
        if (!isShaleError(e, 'UNAVAILABLE') || attempt >= client.maxAttempts) throw e;
        options.onEvent?.({ ...event, state: 'retry', bytes: sent });
        await client.backoff(attempt);
      }
    }
  });
  let rawManifest = image.rawManifest;
  let mediaType = image.manifest.mediaType ?? MediaType.ociManifest;
  const copies = new Map<Digest, CompressedBlob>();
  for (const [i, u] of uploads.entries()) {
    if (u.copyOf) copies.set(u.copyOf.diffId, { digest: results[i]!.digest, size: results[i]!.size, compression: u.copyOf.compression });
  }
  if (copies.size > 0) {
    const manifest = withCompressedLayers(image.manifest, image.layers.map((l) => copies.get(l.diffId)));
    mediaType = manifest.mediaType ?? MediaType.ociManifest;
    rawManifest = Buffer.from(JSON.stringify(manifest));
  }
  const manifestDigest = await putManifest(client, repo, ref.tag ?? ref.digest!, rawManifest, mediaType);
  return { ref: ref.name, manifestDigest, mediaType, manifestSize: rawManifest.length, uploadedBytes, blobs: results };
}
