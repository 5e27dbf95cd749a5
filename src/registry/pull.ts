import { ManifestSchema, parseJson, parseReference, type Descriptor, type Digest } from '../oci/index.js';
import { fetchBlob } from './blobs.js';
import type { FetchedManifest } from './manifests.js';
import { resolveImageManifest, servedCorrupt } from './remote-image.js';
import type { RegistryReference } from './registry-reference.js';
import type { RegistryClient } from './registry-client.js';
import { mapLimit } from '../internal/map-limit.js';
import type { TransferListener } from './transfer-events.js';

/**
 * Where pulled blobs go (the store, through cli/): blobs are staged (verified against their descriptor's
 * digest and size as they are written) and become visible only at `commit`; `discard` drops what was staged.
 */
export interface PullTarget {
  /** True when the blob is already stored: it is not downloaded again. */
  has(digest: Digest): Promise<boolean>;
  stage(descriptor: Descriptor, source: AsyncIterable<Uint8Array>, what: string): Promise<void>;
  /** Checks the image is whole (config, layers, diffIds), stores the manifest as fetched and names it `refs`. */
  commit(manifest: FetchedManifest, refs: string[]): Promise<{ id: Digest }>;
  discard(): Promise<void>;
}

export interface PullOptions {
  /** For an index: `os/arch[/variant]` (default: this machine's). */
  platform?: string;
  /** Blobs downloaded at once (default 3). */
  concurrency?: number;
  onEvent?: TransferListener;
}

export interface PullResult {
  ref: string;
  id: Digest;
  /** The digest of the manifest as the registry serves it (equal to the one stored). */
  manifestDigest: Digest;
  /** The index the manifest was chosen from, when the reference named one. */
  indexDigest?: Digest;
  downloadedBytes: number;
  blobs: { kind: 'config' | 'layer'; digest: Digest; size: number; action: 'downloaded' | 'exists' }[];
}

/**
 * Pulls an image: its manifest (through an index by platform), then the config and layers not already in
 * the target, a few at a time, each verified; the target commits all or nothing.
 */
export async function pullImage(client: RegistryClient, ref: RegistryReference, target: PullTarget, options: PullOptions = {}): Promise<PullResult> {
  const { manifest, index } = await resolveImageManifest(client, ref, options.platform);
  const indexDigest = index?.digest;
  const parsed = parseJson(ManifestSchema, manifest.raw, `${ref.name}: manifest ${manifest.digest}`);
  const wanted: { kind: 'config' | 'layer'; d: Descriptor }[] = [{ kind: 'config', d: parsed.config }];
  for (const d of parsed.layers) if (!wanted.some((w) => w.d.digest === d.digest)) wanted.push({ kind: 'layer', d });
  let downloadedBytes = 0;
  try {
    const blobs = await mapLimit(wanted, options.concurrency ?? 3, async ({ kind, d }) => {
      const event = { kind, digest: d.digest, size: d.size };
      if (await target.has(d.digest)) {
        options.onEvent?.({ ...event, state: 'exists' });
        return { kind, digest: d.digest, size: d.size, action: 'exists' as const };
      }
      options.onEvent?.({ ...event, state: 'start' });
      const source = fetchBlob(client, ref.repository, d, (n) => options.onEvent?.({ ...event, state: 'bytes', bytes: n }));
      try {
        await target.stage(d, source, `${ref.name}: ${kind} ${d.digest}`);
      } catch (e) {
        throw servedCorrupt(e, '; nothing was stored');
      }
      downloadedBytes += d.size;
      options.onEvent?.({ ...event, state: 'done' });
      return { kind, digest: d.digest, size: d.size, action: 'downloaded' as const };
    });
    // pulled by digest: named REPOSITORY@DIGEST (as Docker records a repo digest), so it is listed and kept
    const refs = [ref.digest ? `${parseReference(ref.name).repository}@${ref.digest}` : ref.name];
    const { id } = await target.commit(manifest, refs);
    return { ref: ref.name, id, manifestDigest: manifest.digest, indexDigest, downloadedBytes, blobs };
  } finally {
    await target.discard();
  }
}
