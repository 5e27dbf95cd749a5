import { chmod, lstat, mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { resolveInRoot } from '../snapshot/index.js';

const exists = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);

/**
 * Lays out a RUN's mount points in its root filesystem the way a BuildKit RUN leaves them (Docker 26,
 * measured): /proc, /sys and /dev, which runc makes, are made (0755) when missing and stay in the layer,
 * except /dev when BuildKit itself mounts below it (`devStub`, a `#!` heredoc under /dev/pipes/). A
 * missing file a bind mount needs (`files`, e.g. /etc/hosts) is made as an empty stub. The returned
 * cleanup removes the stubs and the directories made for them, so the only trace of those is their
 * parent directory touched.
 */
export async function prepareRunMountPoints(rootfs: string, files: readonly string[], devStub: boolean): Promise<() => Promise<void>> {
  const made: { path: string; dir: boolean }[] = [];
  for (const dir of ['/proc', '/sys', '/dev']) {
    const host = await resolveInRoot(rootfs, dir);
    if (await exists(host)) continue;
    await mkdir(host);
    await chmod(host, 0o755);
    if (dir === '/dev' && devStub) made.push({ path: host, dir: true });
  }
  for (const file of files) {
    const parent = await resolveInRoot(rootfs, posix.dirname(file));
    if (!(await exists(parent))) {
      await mkdir(parent, { mode: 0o755 });
      made.push({ path: parent, dir: true });
    }
    const host = await resolveInRoot(rootfs, file);
    if (await exists(host)) continue;
    await writeFile(host, '');
    made.push({ path: host, dir: false });
  }
  return async () => {
    for (const m of made.reverse()) {
      // a directory the RUN wrote into stays
      if (m.dir) await rmdir(m.path).catch(() => undefined);
      else await rm(m.path, { force: true });
    }
  };
}
