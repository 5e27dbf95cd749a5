import { lstat, mkdir, readdir, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { resolveInRoot } from '../snapshot/index.js';

/**
 * The mount points a RUN step needs in its root filesystem and does not find there: made before the step
 * (directories 0755, files empty), removed after it when still empty, deepest first, as BuildKit does, so
 * they leave nothing in the layer but their parent directory's change (its times kept).
 */
export class MountStubs {
  private readonly made: string[] = [];
  constructor(private readonly rootfs: string) {}

  /** Makes `target` (and the directories above it) where missing. */
  async make(target: string, kind: 'dir' | 'file'): Promise<void> {
    const parts = target.split('/').filter(Boolean);
    const created: string[] = [];
    let rel = '';
    for (const [i, name] of parts.entries()) {
      rel = `${rel}/${name}`;
      const path = await resolveInRoot(this.rootfs, rel);
      if (await lstat(path).then(() => true, () => false)) continue;
      if (i === parts.length - 1 && kind === 'file') await writeFile(path, '');
      else await mkdir(path, { mode: 0o755 });
      created.unshift(path);
    }
    this.made.unshift(...created);
  }

  /** Removes what `make` made and the step left empty. */
  async remove(): Promise<void> {
    for (const path of this.made) {
      const st = await lstat(path).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory() ? (await readdir(path)).length > 0 : st.size > 0) continue;
      const parent = posix.dirname(path);
      const times = await stat(parent).catch(() => undefined);
      await (st.isDirectory() ? rmdir(path) : unlink(path)).catch(() => undefined);
      if (times) await utimes(parent, times.atime, times.mtime).catch(() => undefined);
    }
  }
}
