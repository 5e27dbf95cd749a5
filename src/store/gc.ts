import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive, ownerIsDead, processOwner, type LockOwner } from '../internal/lock.js';
import { HashingStream } from '../internal/hash.js';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Digest } from '../oci/index.js';
import { reachableBlobs } from './reachability.js';
import { removeBuildLines } from './build-lines.js';
import { keepCompressedLayers } from './compressed-layers.js';
import type { Store } from './store.js';

export interface PruneResult {
  deletedImages: string[];
  deletedBlobs: Digest[];
  reclaimedBytes: number;
}

/** Deletes a blob with what is kept beside it: its layer record, and for a config blob the image's Dockerfile lines. */
async function deleteBlob(store: Store, digest: Digest): Promise<void> {
  await store.content.delete(digest);
  await rm(store.layerInfos.pathOf(digest), { force: true });
  await removeBuildLines(store, digest);
}

/** Removes blobs nothing references and ingestions left by dead processes. Call under the lock. */
export async function collectGarbage(store: Store): Promise<Omit<PruneResult, 'deletedImages'>> {
  const { blobs } = await reachableBlobs(store);
  for (const d of await store.leasedBlobs()) blobs.add(d);
  for (const d of await keepCompressedLayers(store, new Set(blobs))) blobs.add(d);
  const deletedBlobs: Digest[] = [];
  let reclaimedBytes = 0;
  for (const digest of await store.content.list()) {
    if (blobs.has(digest)) continue;
    reclaimedBytes += (await store.content.size(digest)) ?? 0;
    await deleteBlob(store, digest);
    deletedBlobs.push(digest);
  }
  // owner records last: the temp files are judged by them
  const ingestNames = (await readdir(store.ingestDir).catch(() => [] as string[])).sort((a, b) => Number(a.startsWith('owner-')) - Number(b.startsWith('owner-')));
  for (const name of ingestNames) {
    if (!(await ingestionIsAbandoned(store.ingestDir, name))) continue;
    const path = join(store.ingestDir, name);
    reclaimedBytes += (await stat(path).catch(() => ({ size: 0 }))).size;
    await rm(path, { recursive: true, force: true });
  }
  return { deletedBlobs, reclaimedBytes };
}

/**
 * True for an ingestion (`PID-TOKEN-RANDOM`) or owner record (`owner-TOKEN`) whose process is provably dead;
 * the owner record says who TOKEN is, so a shale in another PID namespace or on another host keeps its
 * files. A temp file named by pid alone (older versions) goes when that pid is not alive here.
 */
async function ingestionIsAbandoned(dir: string, name: string): Promise<boolean> {
  const token = name.startsWith('owner-') ? name.slice('owner-'.length) : name.split('-')[1];
  if (token === processOwner().token) return false;
  const raw = token ? await readFile(join(dir, `owner-${token}`), 'utf8').catch(() => undefined) : undefined;
  if (raw !== undefined) {
    try {
      return ownerIsDead(JSON.parse(raw) as LockOwner);
    } catch {
      return false;
    }
  }
  if (name.startsWith('owner-')) return false;
  const pid = Number.parseInt(name, 10);
  return !(Number.isFinite(pid) && pid !== process.pid && isProcessAlive(pid));
}

/** `shale prune`: drops dangling (untagged) images, then collects garbage. */
export async function prune(store: Store): Promise<PruneResult> {
  return store.withLock(async () => {
    const entries = await store.readIndex();
    const dangling = entries.filter((e) => !e.ref);
    if (dangling.length > 0) await store.writeIndex(entries.filter((e) => e.ref));
    const gc = await collectGarbage(store);
    return { deletedImages: dangling.map((e) => e.descriptor.digest), ...gc };
  });
}

export interface FsckResult {
  ok: boolean;
  blobs: number;
  images: number;
  problems: string[];
}

async function hashFile(path: string): Promise<Digest> {
  const h = new HashingStream();
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), h, new Writable({ write: (_c, _e, cb) => cb() }));
  return h.digest();
}

/**
 * Checks every blob's content against its name, that everything the index references exists and parses,
 * and that each layer's uncompressed content matches its diffId.
 */
export async function fsck(store: Store): Promise<FsckResult> {
  const problems: string[] = [];
  const present = await store.content.list();
  for (const digest of present) {
    const actual = await hashFile(store.content.blobPath(digest));
    if (actual !== digest) problems.push(`blob ${digest}: content has digest ${actual}`);
  }
  const reach = await reachableBlobs(store);
  problems.push(...reach.problems);
  const have = new Set(present);
  for (const d of reach.blobs) if (!have.has(d)) problems.push(`blob ${d} is referenced but missing`);
  const entries = await store.readIndex();
  for (const entry of entries) {
    try {
      const image = await store.image(entry.descriptor.digest);
      for (const layer of image.layers) {
        if (!have.has(layer.descriptor.digest)) continue;
        const info = await store.layerInfo(layer.descriptor.digest);
        if (info.diffId !== layer.diffId) {
          problems.push(`image ${entry.ref ?? image.id}: layer ${layer.descriptor.digest} has diffId ${info.diffId}, config says ${layer.diffId}`);
        }
      }
    } catch (e) {
      const msg = `image ${entry.ref ?? entry.descriptor.digest}: ${(e as Error).message}`;
      if (!problems.some((p) => msg.includes(p))) problems.push(msg);
    }
  }
  return { ok: problems.length === 0, blobs: present.length, images: entries.length, problems: [...new Set(problems)] };
}

/**
 * Takes back an untagged image this process stored (a result that failed its checks): its index entry,
 * and those of `blobs` that no remaining image references. Other images keep everything they use.
 */
export async function discardImage(store: Store, manifestDigest: Digest, blobs: Digest[]): Promise<void> {
  await store.withLock(async () => {
    const entries = await store.readIndex();
    await store.writeIndex(entries.filter((e) => e.ref || e.descriptor.digest !== manifestDigest));
    const { blobs: reachable } = await reachableBlobs(store);
    for (const d of blobs) if (!reachable.has(d)) await deleteBlob(store, d);
  });
}
