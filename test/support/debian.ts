/**
 * The Debian base of the apt tests: the bookworm minbase rootfs tar that bench/debian-rootfs.sh makes once
 * with debootstrap and keeps (concurrent callers wait for one run).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT, shaleOk, tempDir, tempStore, uniqueSuffix } from './shale.js';
import { requireTool } from './tools.js';

export const CACHED_DEBIAN_ROOTFS = join(REPO_ROOT, 'bench', '.cache', 'debian-bookworm-minbase.tar');

/**
 * Files whose bytes depend on when the build ran, not on what it installed; their type, mode and owner are
 * still compared, and the logs are compared with their timestamps masked:
 * - dpkg.log, apt/history.log, apt/term.log: one line per action, each stamped with the wall clock;
 * - apt's pkgcache.bin / srcpkgcache.bin: binary caches that record the mtimes of the index files in
 *   /var/lib/apt/lists (apt sets those from the mirror's Last-Modified, but the cache's own header and
 *   hash tables differ from run to run);
 * - ldconfig's aux-cache: keyed by each library's inode, size and ctime (ctime is the unpack time).
 * The package lists themselves (/var/lib/apt/lists) are compared byte for byte: both sides fetched the
 * same mirror state minutes apart.
 */
export const TIME_DEPENDENT = ['var/cache/apt/pkgcache.bin', 'var/cache/apt/srcpkgcache.bin', 'var/cache/ldconfig/aux-cache'];
export const TIMESTAMPED_LOGS = ['var/log/dpkg.log', 'var/log/apt/history.log', 'var/log/apt/term.log'];

/** The rootfs tar's path; undefined (a skip, a failure in CI) when it is not there and debootstrap is missing. */
export function debianRootfsTar(t: Pick<TestContext, 'skip'>): string | undefined {
  if (!existsSync(CACHED_DEBIAN_ROOTFS) && !requireTool(t, 'debootstrap')) return undefined;
  return execFileSync('bash', [join(REPO_ROOT, 'bench', 'debian-rootfs.sh')], { encoding: 'utf8', timeout: 600_000 }).trim();
}

/**
 * A scratch store holding the Debian base as `NAME:base` (NAME is `prefix` made unique), and a work
 * directory; null (a skip, a failure in CI) without runc or the rootfs.
 */
export function debianBaseStore(t: TestContext, prefix: string): { work: string; root: string; name: string } | null {
  if (!requireTool(t, 'runc')) return null;
  const rootfsTar = debianRootfsTar(t);
  if (!rootfsTar) return null;
  const work = tempDir(t);
  const root = tempStore(t);
  const name = `${prefix}-${uniqueSuffix()}`;
  shaleOk(['import', rootfsTar, `${name}:base`], { root, timeoutMs: 300_000 });
  return { work, root, name };
}
