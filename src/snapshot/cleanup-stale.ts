import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hasErrno } from '../internal/errors.js';
import { isProcessAlive } from '../internal/lock.js';
import { activeRoot, ownerIsAlive, readOwner, scratchPid } from './active-dir.js';
import { unmountUnder } from './mount-table.js';

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) return [];
    throw e;
  }
}

/**
 * Unmounts and deletes what killed processes left under `root`: active snapshots whose owner process is
 * gone (pid and start time recorded at prepare), and scratch directories of dead pids (half-made
 * snapshots, half-unpacked layers, probes, half-removed snapshots). Snapshots of live processes, this one
 * included, are left alone. Returns the names removed, under `active/` and `layers/`.
 */
export async function cleanupStale(root: string): Promise<string[]> {
  const removed: string[] = [];
  const active = activeRoot(root);
  for (const name of await list(active)) {
    const dir = join(active, name);
    const pid = scratchPid(name);
    let stale: boolean;
    if (pid !== undefined) stale = pid !== process.pid && !isProcessAlive(pid);
    else {
      const owner = await readOwner(dir);
      stale = owner === undefined || (!owner.persistent && !(await ownerIsAlive(owner)));
    }
    if (!stale) continue;
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
    removed.push(`active/${name}`);
  }
  const layers = join(root, 'layers');
  for (const name of await list(layers)) {
    const pid = scratchPid(name);
    if (pid === undefined || pid === process.pid || isProcessAlive(pid)) continue;
    await rm(join(layers, name), { recursive: true, force: true });
    removed.push(`layers/${name}`);
  }
  return removed;
}
