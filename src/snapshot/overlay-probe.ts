import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { lstat, mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import { activeRoot, scratchName } from './active-dir.js';
import { mountOverlay, unmountUnder } from './mount-table.js';

/** Whether overlayfs works under a root, and whether it takes the `volatile` option there. */
export type OverlayProbe = { ok: true; volatile: boolean } | { ok: false; reason: string };

const probes = new Map<string, Promise<OverlayProbe>>();

/**
 * Whether overlayfs can be mounted with its upperdir under `root` and makes whiteouts there: one real
 * mount in a scratch directory, unmounted and deleted again. The answer is kept for the process, and a
 * yes also in `ROOT/overlay-probe.json` for later commands (a probe costs two mount-program runs), as
 * long as the kernel, the file system under `root` and the user namespace are the ones it was made in.
 */
export function probeOverlay(root: string): Promise<OverlayProbe> {
  let p = probes.get(root);
  if (!p) {
    p = recalledProbe(root);
    probes.set(root, p);
  }
  return p;
}

/** Drops a remembered yes (an overlay mount failed after all): the next command probes again. */
export async function forgetOverlayProbe(root: string): Promise<void> {
  probes.delete(root);
  await rm(probeFile(root), { force: true });
}

const probeFile = (root: string) => join(root, 'overlay-probe.json');

/** What a remembered probe answer holds for: kernel, file system (device of `root`), user namespace. */
function probeContext(root: string): string | undefined {
  const st = statSync(root, { throwIfNoEntry: false });
  if (!st) return undefined;
  return JSON.stringify([release(), st.dev, readlinkSync('/proc/self/ns/user'), process.getuid?.()]);
}

async function recalledProbe(root: string): Promise<OverlayProbe> {
  // read synchronously: two small reads on every command that makes a snapshot
  const context = probeContext(root);
  if (context !== undefined) {
    const saved = readSavedProbe(root);
    if (saved?.context === context && typeof saved.volatile === 'boolean') return { ok: true, volatile: saved.volatile };
  }
  const probe = await runProbe(root);
  const now = probeContext(root);
  // not durable: a lost answer only costs the next command a probe
  if (probe.ok && now !== undefined) await writeFileAtomic(probeFile(root), JSON.stringify({ context: now, volatile: probe.volatile }), 0o644, { durable: false }).catch(() => undefined);
  return probe;
}

function readSavedProbe(root: string): { context?: string; volatile?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(probeFile(root), 'utf8')) as { context?: string; volatile?: unknown };
  } catch {
    return undefined;
  }
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
