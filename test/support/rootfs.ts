/** Minimal root filesystems for tests: a static busybox with its applet symlinks, and tar via the system tar. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';

/** The applets linked into bin/: what the tests' shell commands use. */
export const BUSYBOX_APPLETS = [
  'sh', 'ls', 'cat', 'echo', 'rm', 'dd', 'mkdir', 'ln', 'chmod', 'chown', 'true', 'false', 'mkfifo', 'touch',
  'cp', 'mv', 'env', 'test', 'stat', 'sleep', 'id', 'printf', 'head', 'wc', 'sha256sum', 'find', 'grep',
] as const;

/**
 * Lays out a minimal rootfs in `dir`: bin/busybox (a copy of `busybox`, /bin/busybox by default) plus relative
 * symlinks for the applets, an etc/ with passwd and group, and tmp/. Returns `dir`.
 */
export function makeBusyboxRootfs(dir: string, busybox = BUSYBOX): string {
  mkdirSync(join(dir, 'bin'), { recursive: true, mode: 0o755 });
  mkdirSync(join(dir, 'etc'), { recursive: true, mode: 0o755 });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  execFileSync('chmod', ['1777', join(dir, 'tmp')]);
  copyFileSync(busybox, join(dir, 'bin', 'busybox'));
  execFileSync('chmod', ['0755', join(dir, 'bin', 'busybox')]);
  for (const a of BUSYBOX_APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nuser:x:1000:\n');
  return dir;
}

/** `tar -C dir -cf out .` with the system tar; returns `out`. */
export function tarDir(dir: string, out: string): string {
  execFileSync('tar', ['-C', dir, '-cf', out, '.'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}
