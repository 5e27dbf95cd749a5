import { mkdir, rm, unlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { activeRoot, scratchName } from './active-dir.js';
import { CopySnapshotter } from './copy-snapshotter.js';
import { mountOverlay, unmountUnder } from './mount-table.js';
import { OverlaySnapshotter } from './overlay-snapshotter.js';
import type { Snapshotter } from './snapshotter.js';

export type SnapshotterPreference = 'overlayfs' | 'copy' | 'auto';

/** Whether overlayfs works under a root, and whether it takes the `volatile` option there. */
export type OverlayProbe = { ok: true; volatile: boolean } | { ok: false; reason: string };

const probes = new Map<string, Promise<OverlayProbe>>();

/**
 * Whether overlayfs can be mounted with its upperdir under `root` and makes whiteouts there: one real
 * mount in a scratch directory, unmounted and deleted again. The answer is kept for the process.
 */
export function probeOverlay(root: string): Promise<OverlayProbe> {
  let p = probes.get(root);
  if (!p) {
    p = runProbe(root);
    probes.set(root, p);
  }
  return p;
}

async function runProbe(root: string): Promise<OverlayProbe> {
  const dir = join(activeRoot(root), scratchName('probe', 'overlay'));
  try {
    for (const sub of ['lower', 'upper', 'work', 'merged']) await mkdir(join(dir, sub), { recursive: true });
    await writeFile(join(dir, 'lower', 'f'), 'x');
    const mount = (volatile: boolean) => mountOverlay({ cwd: dir, lowers: ['lower'], upper: 'upper', work: 'work', target: 'merged', volatile });
    // a kernel before 5.10 refuses `volatile`: then without it
    const volatile = await mount(true).then(() => true, async () => {
      await mount(false);
      return false;
    });
    await unlink(join(dir, 'merged', 'f'));
    const wh = await lstat(join(dir, 'upper', 'f'));
    if (!wh.isCharacterDevice() || wh.rdev !== 0) return { ok: false, reason: 'deleting a lower file did not leave a 0:0 whiteout in the upperdir' };
    return { ok: true, volatile };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await unmountUnder(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * A snapshotter for `root`: `overlayfs` (UNSUPPORTED when it cannot be mounted here), `copy`, or `auto`
 * (the default): overlayfs when a probe mount works, else copy.
 */
export async function chooseSnapshotter(root: string, preference: SnapshotterPreference = 'auto'): Promise<Snapshotter> {
  if (preference === 'copy') return new CopySnapshotter(root);
  const probe = await probeOverlay(root);
  if (probe.ok) return new OverlaySnapshotter(root, { volatile: probe.volatile });
  if (preference === 'overlayfs') {
    throw new ShaleError('UNSUPPORTED', `overlayfs cannot be used under ${root}: ${probe.reason}`, {
      hint: 'run as root on a kernel with overlayfs and a store on ext4/xfs/tmpfs, or use the copy snapshotter',
    });
  }
  return new CopySnapshotter(root);
}
