import { lstat, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { ShaleError, hasErrno } from '../internal/errors.js';

/**
 * The host path of `containerPath` inside `rootfs`, resolving symlinks the way the container would see
 * them (absolute targets from the container's root, `..` never above it), so writing to the result can
 * never reach outside `rootfs`. Components that do not exist yet are kept as they are.
 */
export async function resolveInRoot(rootfs: string, containerPath: string): Promise<string> {
  const pending = posix.normalize(`/${containerPath}`).split('/').filter(Boolean);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = posix.join(rootfs, ...resolved, part);
    let link: string | undefined;
    try {
      if ((await lstat(host)).isSymbolicLink()) link = await readlink(host);
    } catch (e) {
      if (!hasErrno(e, 'ENOENT') && !hasErrno(e, 'ENOTDIR')) throw e;
    }
    if (link === undefined) {
      resolved.push(part);
      continue;
    }
    if (++hops > 255) throw new ShaleError('INVALID_ARGUMENT', `too many levels of symbolic links in ${containerPath}`);
    if (link.startsWith('/')) resolved.length = 0;
    pending.unshift(...link.split('/').filter(Boolean));
  }
  return posix.join(rootfs, ...resolved);
}
