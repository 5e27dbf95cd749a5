import { readFileSync } from 'node:fs';
import { ShaleError } from './errors.js';

/** One line of /proc/self/uid_map or gid_map: ids `inner..inner+count-1` here are `outer..` in the parent. */
export interface IdRange {
  inner: number;
  outer: number;
  count: number;
}

/** The identity map of the initial user namespace: every id is itself. */
const WHOLE_RANGE = 4294967295;

export function parseIdMap(text: string): IdRange[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isFinite))
    .map(([inner, outer, count]) => ({ inner: inner!, outer: outer!, count: count! }));
}

let cached: IdRange[] | undefined;

/** This process's uid map (read once: a process never changes its user namespace here). */
export function uidMap(): IdRange[] {
  cached ??= (() => {
    try {
      return parseIdMap(readFileSync('/proc/self/uid_map', 'latin1'));
    } catch {
      return [{ inner: 0, outer: 0, count: WHOLE_RANGE }];
    }
  })();
  return cached;
}

/**
 * True inside a user namespace (shale without root runs in one): ids are mapped to other ids outside, so
 * overlayfs needs `userxattr`, runc runs rootless, and ids without a mapping cannot be given to a file.
 */
export function inUserNamespace(): boolean {
  const map = uidMap();
  return !(map.length === 1 && map[0]!.inner === 0 && map[0]!.outer === 0 && map[0]!.count === WHOLE_RANGE);
}

/** True when the namespace maps a single id (no /etc/subuid range): files can be owned by 0 only. */
export function mapsSingleId(): boolean {
  return inUserNamespace() && uidMap().reduce((n, r) => n + r.count, 0) === 1;
}

/**
 * Whether a file owned by `uid` (as lstat shows it here) belongs to an id of this namespace. An owner with no
 * mapping shows as the overflow id (65534), so that id counts as foreign too.
 */
export function isOwnedInNamespace(uid: number): boolean {
  let overflow = 65534;
  try {
    overflow = Number(readFileSync('/proc/sys/kernel/overflowuid', 'latin1').trim());
  } catch {}
  return uid !== overflow && uidMap().some((r) => uid >= r.inner && uid < r.inner + r.count);
}

/** What the single-id map cannot do, and where the missing range comes from. */
export const SUBUID_HINT = 'shale without root maps only your own id because /etc/subuid and /etc/subgid have no range for you: add one (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER) and install uidmap';

/**
 * Turns EINVAL from a chown to an id the namespace does not map into an error that says why and what to
 * change: `step` names what did it, paths under `root` are shown as the image sees them. Other errors
 * come back unchanged.
 */
export function explainUnmappedOwner(e: unknown, where: { step?: string; root?: string } = {}): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err?.code !== 'EINVAL' || !/chown$/.test(err.syscall ?? '') || !inUserNamespace()) return e;
  const path = where.root && err.path?.startsWith(`${where.root}/`) ? err.path.slice(where.root.length) : err.path;
  return new ShaleError('FAILED_PRECONDITION', `${where.step ? `${where.step}: ` : ''}cannot give ${path ?? 'a file'} its owner: this user namespace does not map that id (see /etc/subuid)`, {
    hint: SUBUID_HINT,
    cause: e,
  });
}
