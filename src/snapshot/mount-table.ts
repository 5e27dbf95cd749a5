import { readFile, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { OVERLAY_USERXATTR } from './overlay-marks.js';
import { runTool } from './run-tool.js';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
}

/** The kernel's `\ooo` escapes in mountinfo fields (space, tab, newline, backslash). */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** The mounts this process sees, from /proc/self/mountinfo. */
export async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [left, right] = line.split(' - ');
    const f = left!.split(' ');
    const r = (right ?? '').split(' ');
    out.push({ mountPoint: unescape(f[4]!), fsType: r[0] ?? '', source: unescape(r[1] ?? ''), superOptions: r[2] ?? '' });
  }
  return out;
}

/** Mount points at `dir` or below it, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const real = await realpath(dir).catch(() => resolve(dir));
  return (await readMounts())
    .map((m) => m.mountPoint)
    .filter((p) => p === real || p.startsWith(`${real}/`))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir`; a mount still in use is FAILED_PRECONDITION. */
export async function unmountUnder(dir: string): Promise<void> {
  for (;;) {
    const points = await mountsUnder(dir);
    if (points.length === 0) return;
    for (const p of points) {
      try {
        await runTool('umount', [p]);
      } catch (e) {
        throw new ShaleError('FAILED_PRECONDITION', `cannot unmount ${p}: ${(e as Error).message}`, {
          hint: 'a process may still use the snapshot; stop it first',
          cause: e,
        });
      }
    }
  }
}

/** The kernel refuses mount data longer than one page. */
export const MOUNT_DATA_LIMIT = 4096;
/** overlayfs stacks at most this many lowerdirs. */
export const OVERLAY_MAX_LOWERS = 500;

export interface OverlayMount {
  /** Directory the other paths are relative to (they stay short whatever the depth of the store). */
  cwd: string;
  /** Lower directories, top first; at least one. */
  lowers: string[];
  upper: string;
  work: string;
  target: string;
  /**
   * overlayfs's `volatile` (Linux 5.10+): no sync of the upper filesystem on fsync or unmount, which
   * otherwise writes back every dirty page of that filesystem at each unmount. For snapshots a crash
   * discards anyway.
   */
  volatile?: boolean;
}

/**
 * The mount options for an overlay whose upperdir shale can diff: no renamed-dir redirects, no index, no
 * metacopy. With `userxattr` (in a user namespace) the kernel refuses `redirect_dir=off` (which still
 * follows redirects): `nofollow` there, which neither makes nor follows them.
 */
export function overlayOptions(m: Omit<OverlayMount, 'cwd' | 'target'>): string {
  const redirects = OVERLAY_USERXATTR ? 'redirect_dir=nofollow' : 'redirect_dir=off';
  return `lowerdir=${m.lowers.join(':')},upperdir=${m.upper},workdir=${m.work},${redirects},index=off,metacopy=off${m.volatile ? ',volatile' : ''}${OVERLAY_USERXATTR ? ',userxattr' : ''}`;
}

/** Mounts overlayfs at `target` (run in `cwd` so relative paths stay short); LIMIT_EXCEEDED when the options would not fit. */
export async function mountOverlay(m: OverlayMount): Promise<void> {
  if (m.lowers.length === 0) throw new ShaleError('INVALID_ARGUMENT', 'an overlay mount needs at least one lowerdir');
  if (m.lowers.length > OVERLAY_MAX_LOWERS) {
    throw new ShaleError('LIMIT_EXCEEDED', `overlayfs stacks at most ${OVERLAY_MAX_LOWERS} layers; this image has ${m.lowers.length}`, {
      hint: 'squash the image, or use the copy snapshotter',
    });
  }
  const data = overlayOptions(m);
  if (data.length >= MOUNT_DATA_LIMIT) {
    throw new ShaleError('LIMIT_EXCEEDED', `overlay mount options are ${data.length} bytes; the kernel takes fewer than ${MOUNT_DATA_LIMIT}`);
  }
  await runTool('mount', ['-t', 'overlay', 'overlay', '-o', data, m.target], { cwd: m.cwd });
}
