/**
 * The build cache as a whole: the cache mounts of `RUN --mount=type=cache` and the steps' kept snapshots
 * no image holds (`KeptLayers.unadopted`): what `shale df` counts on its "Build cache" row and what
 * `shale prune --build-cache` removes (with the records of cached steps).
 */
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheMountsDir } from './run-mounts.js';
import { KeptLayers } from '../snapshot/index.js';

/** Bytes below `path` (files as stored, directories not counted), 0 when it is missing. */
async function bytesBelow(path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(path)) total += await bytesBelow(join(path, name));
  return total;
}

export interface CacheMountUsage {
  /** One entry per cache (id, and seed for `from=` caches). */
  caches: { id: string; size: number }[];
  /** The kept snapshots of cached steps that no image holds: how many, and their layers' content bytes. */
  snapshots: { count: number; size: number };
  /** All of it, caches and snapshots. */
  size: number;
}

const keptLayers = (storeRoot: string) => new KeptLayers(join(storeRoot, 'shale', 'snapshots'));

export async function cacheMountUsage(storeRoot: string): Promise<CacheMountUsage> {
  const dir = cacheMountsDir(storeRoot);
  const caches: { id: string; size: number }[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const id = (await readFile(join(dir, name, 'id'), 'utf8').catch(() => name)).trim();
    caches.push({ id, size: await bytesBelow(join(dir, name)) });
  }
  const kept = keptLayers(storeRoot);
  const snapshots = { count: 0, size: 0 };
  for (const name of await kept.unadopted()) {
    snapshots.count++;
    snapshots.size += await kept.contentSize(name);
  }
  return { caches, snapshots, size: caches.reduce((a, c) => a + c.size, snapshots.size) };
}

/** Removes every cache mount and every cached step record; returns what was there. */
export async function pruneBuildCache(storeRoot: string): Promise<CacheMountUsage & { steps: number }> {
  const usage = await cacheMountUsage(storeRoot);
  await rm(cacheMountsDir(storeRoot), { recursive: true, force: true });
  const stepsDir = join(storeRoot, 'shale', 'build-cache');
  const steps = (await readdir(stepsDir).catch(() => [] as string[])).length;
  await rm(stepsDir, { recursive: true, force: true });
  // the steps' snapshots no image holds go with them
  await keptLayers(storeRoot).removeUnadopted();
  return { ...usage, steps };
}
