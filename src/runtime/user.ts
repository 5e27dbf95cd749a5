import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';

/** Reads a file of the container's root filesystem without following a symlink out of it. */
async function readRootFile(rootfs: string, path: string): Promise<string | undefined> {
  const full = join(rootfs, path);
  try {
    if (!(await lstat(full)).isFile()) return undefined;
    return await readFile(full, 'utf8');
  } catch {
    return undefined;
  }
}

const parseDb = (text: string | undefined): string[][] =>
  (text ?? '')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));

/**
 * Resolves a Docker USER value (`name`, `uid`, `name:group`, `uid:gid`) against the image's /etc/passwd
 * and /etc/group, as Docker does: a numeric uid need not exist; a name must.
 */
export async function resolveUser(rootfs: string, spec: string): Promise<{ uid: number; gid: number; additionalGids: number[] }> {
  const [userPart = '', groupPart] = (spec || '0').split(':');
  const passwd = parseDb(await readRootFile(rootfs, 'etc/passwd'));
  const groups = parseDb(await readRootFile(rootfs, 'etc/group'));
  let uid: number;
  let gid = 0;
  let name: string | undefined;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const row = passwd.find((r) => Number(r[2]) === uid);
    if (row) {
      gid = Number(row[3]);
      name = row[0];
    }
  } else {
    const row = passwd.find((r) => r[0] === userPart);
    if (!row) throw new ShaleError('INVALID_ARGUMENT', `unable to find user ${userPart}: no matching entries in passwd file`);
    uid = Number(row[2]);
    gid = Number(row[3]);
    name = row[0];
  }
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const row = groups.find((r) => r[0] === groupPart);
      if (!row) throw new ShaleError('INVALID_ARGUMENT', `unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(row[2]);
    }
  }
  // as Docker: the primary group, then the user's supplementary groups
  const supplementary = groupPart === undefined && name ? groups.filter((r) => (r[3] ?? '').split(',').includes(name!)).map((r) => Number(r[2])) : [];
  const additionalGids = [...new Set([gid, ...supplementary])];
  return { uid, gid, additionalGids };
}
