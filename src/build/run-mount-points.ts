import { chmod, lstat, mkdir } from 'node:fs/promises';
import { resolveInRoot } from '../snapshot/index.js';
import { MountStubs } from './mount-stubs.js';

/**
 * Lays out a RUN's mount points in its root filesystem the way a BuildKit RUN leaves them (Docker 26,
 * measured): /proc, /sys and /dev, which runc makes, are made (0755) when missing and stay in the layer,
 * except /dev when BuildKit itself mounts below it (`devStub`, a `#!` heredoc under /dev/pipes/). A
 * missing file a bind mount needs (`files`, e.g. /etc/hosts) is a stub. The returned cleanup removes the
 * stubs, so the only trace of those is their parent directory touched.
 */
export async function prepareRunMountPoints(rootfs: string, files: readonly string[], devStub: boolean): Promise<() => Promise<void>> {
  const stubs = new MountStubs(rootfs);
  for (const dir of ['/proc', '/sys', '/dev']) {
    if (dir === '/dev' && devStub) {
      await stubs.make(dir, 'dir');
      continue;
    }
    const host = await resolveInRoot(rootfs, dir);
    if (await lstat(host).then(() => true, () => false)) continue;
    await mkdir(host);
    await chmod(host, 0o755);
  }
  for (const file of files) await stubs.make(file, 'file');
  return () => stubs.remove();
}
