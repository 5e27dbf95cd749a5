import { isShaleError } from '../internal/errors.js';
import { MediaType, type Descriptor, type Digest } from '../oci/index.js';
import type { Image } from '../image/index.js';
import { repositoryScope } from './auth.js';
import { hasBlob } from './blobs.js';
import { putManifest } from './manifests.js';
import type { RegistryReference } from './registry-reference.js';
import type { RegistryClient } from './registry-client.js';
import { mapLimit } from '../internal/map-limit.js';
import type { TransferListener } from './transfer-events.js';
import { patchBlob, putBlob, startUpload } from './uploads.js';

export interface PushOptions {
  /** A repository of the same registry known to hold a blob: it is mounted from there instead of sent. */
  mountFrom?: (digest: Digest) => string | undefined;
  /** Blobs larger than this go up in chunks of this size (default 512 MiB); smaller ones in one PUT. */
  chunkSize?: number;
  /** Blobs uploaded at once (default 3). */
  concurrency?: number;
  onEvent?: TransferListener;
}

export interface PushResult {
  ref: string;
  manifestDigest: Digest;
  uploadedBytes: number;
  blobs: { kind: 'config' | 'layer'; digest: Digest; size: number; action: 'uploaded' | 'exists' | 'mounted'; from?: string }[];
}

/**
 * Pushes an image: each blob is checked with HEAD and only missing ones are sent (mounted when another
 * repository is known to have them), a few at a time; the manifest goes last, byte for byte as stored, so
 * its digest is the same on both sides.
 */
export async function pushImage(client: RegistryClient, ref: RegistryReference, image: Image, options: PushOptions = {}): Promise<PushResult> {
  const repo = ref.repository;
  const chunkSize = options.chunkSize ?? 512 << 20;
  const blobs: { kind: 'config' | 'layer'; d: Descriptor; open: () => AsyncIterable<Uint8Array> }[] = [];
  for (const l of image.layers) {
    if (!blobs.some((b) => b.d.digest === l.descriptor.digest)) blobs.push({ kind: 'layer', d: l.descriptor, open: () => l.openStoredBlob?.() ?? l.openBlob() }); // the registry checks the digest
  }
  blobs.push({ kind: 'config', d: image.manifest.config, open: async function* () {
    yield image.rawConfig;
  } });
  const froms = new Set(blobs.map((b) => options.mountFrom?.(b.d.digest)).filter((f): f is string => f !== undefined && f !== repo));
  const scopes = [repositoryScope(repo, 'pull,push'), ...[...froms].sort().map((f) => repositoryScope(f, 'pull'))];
  let uploadedBytes = 0;

  const results = await mapLimit(blobs, options.concurrency ?? 3, async ({ kind, d, open }) => {
    const event = { kind, digest: d.digest, size: d.size };
    if (await hasBlob(client, repo, d, scopes)) {
      options.onEvent?.({ ...event, state: 'exists' });
      return { kind, digest: d.digest, size: d.size, action: 'exists' as const };
    }
    const from = options.mountFrom?.(d.digest);
    for (let attempt = 1; ; attempt++) {
      let sent = 0;
      try {
        const start = await startUpload(client, repo, scopes, from && from !== repo ? { digest: d.digest, from } : undefined);
        if (start.mounted) {
          options.onEvent?.({ ...event, state: 'mounted', from });
          return { kind, digest: d.digest, size: d.size, action: 'mounted' as const, from };
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
        return { kind, digest: d.digest, size: d.size, action: 'uploaded' as const };
      } catch (e) {
        // a dropped upload starts over in a new session; other failures are final
        if (!isShaleError(e, 'UNAVAILABLE') || attempt >= client.maxAttempts) throw e;
        options.onEvent?.({ ...event, state: 'retry', bytes: sent });
        await client.backoff(attempt);
      }
    }
  });
  const mediaType = image.manifest.mediaType ?? MediaType.ociManifest;
  const manifestDigest = await putManifest(client, repo, ref.tag ?? ref.digest!, image.rawManifest, mediaType);
  return { ref: ref.name, manifestDigest, uploadedBytes, blobs: results };
}
