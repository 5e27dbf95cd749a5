/**
 * The Debian base of the apt tests: the bookworm minbase rootfs tar that bench/debian-rootfs.sh makes once
 * with debootstrap and keeps (concurrent callers wait for one run).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from './shale.js';
import { requireTool } from './tools.js';

export const CACHED_DEBIAN_ROOTFS = join(REPO_ROOT, 'bench', '.cache', 'debian-bookworm-minbase.tar');

/** The rootfs tar's path; undefined (a skip, a failure in CI) when it is not there and debootstrap is missing. */
export function debianRootfsTar(t: Pick<TestContext, 'skip'>): string | undefined {
  if (!existsSync(CACHED_DEBIAN_ROOTFS) && !requireTool(t, 'debootstrap')) return undefined;
  return execFileSync('bash', [join(REPO_ROOT, 'bench', 'debian-rootfs.sh')], { encoding: 'utf8', timeout: 600_000 }).trim();
}
