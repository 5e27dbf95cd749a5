import { access, constants, lstat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hasErrno, ShaleError } from './errors.js';

/** Kernel pseudo-filesystems (statfs f_type): they hold no data, and creating directories there fails or spins. */
const PSEUDO_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x1cd1, 'devpts'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0xf97cff8c, 'selinuxfs'],
  [0x65735543, 'fusectl'],
]);

/** The path itself when it exists, else its nearest existing ancestor. */
async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    try {
      await lstat(p);
      return p;
    } catch (e) {
      if (!hasErrno(e, 'ENOENT') && !hasErrno(e, 'ENOTDIR')) throw e;
      if (dirname(p) === p) return p;
    }
  }
}

/**
 * Refuses a directory that shale is about to create or write into when it lies on a kernel
 * pseudo-filesystem (/proc, /sys, ...) or a read-only filesystem, naming `what` and the reason.
 * `path` must be absolute; it need not exist yet.
 */
export async function assertWritableLocation(path: string, what: string): Promise<void> {
  const existing = await nearestExisting(path);
  const { type } = await statfs(existing);
  const pseudo = PSEUDO_FILESYSTEMS.get(type);
  if (pseudo !== undefined) {
    throw new ShaleError('INVALID_ARGUMENT', `${what} ${path} is on ${pseudo}, a kernel pseudo-filesystem that cannot hold files`, {
      hint: 'choose a directory on a disk (--root DIR or $SHALE_ROOT)',
    });
  }
  try {
    await access(existing, constants.W_OK);
  } catch (e) {
    if (hasErrno(e, 'EROFS')) {
      throw new ShaleError('FAILED_PRECONDITION', `${what} ${path} is on a read-only filesystem`, {
        hint: 'choose a directory on a writable filesystem (--root DIR or $SHALE_ROOT)',
      });
    }
    // permission problems are reported by the operation that meets them, with its own path
  }
}
