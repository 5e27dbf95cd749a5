import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createActiveDir, deleteActiveDir } from './active-dir.js';
import { ChangesTar, contentSize, sourceDateEpochFromEnv, type Change } from './changes-to-tar.js';
import { compareTrees, type TreeRecord } from './compare-trees.js';
import { unmountUnder } from './mount-table.js';
import { openVerified } from './open-verified.js';
import { scanTree } from './scan-tree.js';
import { separateHardLinks } from './separate-hard-links.js';
import { isKept, type ActiveSnapshot, type LayerRef, type PrepareOptions, type Snapshotter } from './snapshotter.js';
import { ShaleError } from '../internal/errors.js';
import { unpackLayer } from './unpack-layer.js';
import { readXattrTree } from './xattr-tree.js';

/** Records a tree's metadata: every path's lstat and every xattr (one getfattr for the whole tree). */
export async function recordTree(dir: string): Promise<TreeRecord> {
  const [scan, xattrs] = await Promise.all([scanTree(dir), readXattrTree(dir)]);
  return { scan, xattrs };
}

/**
 * Works anywhere (no mounts): a snapshot is a full copy of the merged tree in `ROOT/active/KEY/rootfs`,
 * made by applying each layer in plain format, with a record of every path's metadata taken at prepare.
 * `diff()` compares the tree with that record (see compareTrees for what counts as a change).
 * Hard links of the layers become separate copies at prepare (one inode a name): a change through one
 * name then changes only that name, as overlayfs's copy-up does, where a shared inode would change all
 * its names and put every one of them in the layer. Hard links made after prepare stay links.
 */
export class CopySnapshotter implements Snapshotter {
  readonly kind = 'copy' as const;
  readonly keeps = false;
  constructor(readonly root: string) {}

  async prepare(key: string, layers: LayerRef[], options: PrepareOptions = {}): Promise<ActiveSnapshot> {
    const active = await createActiveDir(this.root, key, this.kind, options.persistent);
    let dir: string;
    try {
      await mkdir(join(active.dir, 'rootfs'));
      for (const layer of layers) {
        // this snapshotter never keeps a snapshot (it has no `keep`), so no kept layer can name it
        if (isKept(layer)) throw new ShaleError('UNSUPPORTED', `the copy snapshotter cannot stack the kept layer "${layer.kept}"`);
        await unpackLayer(openVerified(layer), join(active.dir, 'rootfs'), { format: 'plain', what: `layer ${layer.diffId}` });
      }
      dir = await active.commit();
    } catch (e) {
      await active.discard();
      throw e;
    }
    try {
      const rootfs = join(dir, 'rootfs');
      let record = await recordTree(rootfs);
      if ((await separateHardLinks(rootfs, record)).length > 0) record = await recordTree(rootfs);
      return new CopySnapshot(key, dir, record);
    } catch (e) {
      await deleteActiveDir(dir, key);
      throw e;
    }
  }

  /** The record of the tree at prepare lives in memory only, so a copy snapshot cannot be reopened. */
  async reopen(key: string): Promise<ActiveSnapshot> {
    throw new ShaleError('UNSUPPORTED', `snapshot "${key}": the copy snapshotter cannot reopen a snapshot from another process`, {
      hint: 'containers that outlive one shale command need the overlayfs snapshotter',
    });
  }
}

class CopySnapshot implements ActiveSnapshot {
  readonly rootfs: string;
  constructor(
    readonly key: string,
    private readonly dir: string,
    private readonly before: TreeRecord,
  ) {
    this.rootfs = join(dir, 'rootfs');
  }

  diff(): ChangesTar {
    return new ChangesTar(async () => ({ changes: await this.changes(), options: { sourceDateEpoch: sourceDateEpochFromEnv() } }));
  }

  async changedSize(): Promise<number> {
    return contentSize((await this.changes()).flatMap((c) => (c.kind === 'entry' ? [c.info] : [])));
  }

  private async changes(): Promise<Change[]> {
    return compareTrees(this.before, await recordTree(this.rootfs), this.rootfs);
  }

  async remove(): Promise<void> {
    // A runtime may have mounted things inside (proc, binds); they go first.
    await unmountUnder(this.dir);
    await deleteActiveDir(this.dir, this.key);
  }
}
