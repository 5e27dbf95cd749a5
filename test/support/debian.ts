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
