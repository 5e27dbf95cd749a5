import { readdir, readlink, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hasErrno } from '../internal/errors.js';
import { digestHex, parseDigest, type Digest } from '../oci/index.js';
import { isWhiteout } from './overlay-marks.js';
import { scanTree } from './scan-tree.js';

const KEPT_NAME = /^kept-[0-9a-f]{24}$/;

/** A fresh name for a kept snapshot (what `KeptLayers` recognises as one). */
export const newKeptName = (): string => `kept-${randomBytes(12).toString('hex')}`;

/**
 * The snapshots an overlay snapshotter kept unpacked (`ActiveSnapshot.keep`), under `ROOT/layers/NAME`:
 * layers in overlayfs form that have no tar yet (`diffDirectory` of `pathOf` makes it when an image needs
 * it); `adopt` then names the directory by that layer's diffId, so stacking the stored layer does not unpack it.
 */
export class KeptLayers {
  constructor(private readonly root: string) {}

  /** The kept directory of `name`. */
  pathOf(name: string): string {
    return join(this.root, 'layers', name);
  }

  async has(name: string): Promise<boolean> {
    return KEPT_NAME.test(name) && (await stat(this.pathOf(name)).then((s) => s.isDirectory(), () => false));
  }

  /**
   * The bytes the layer's tar will count (LayerSummary.contentSize: files' sizes, a hard-linked file once,
   * symlinks' target lengths, whiteouts none), from the kept tree's metadata.
   */
  async contentSize(name: string): Promise<number> {
    let size = 0;
    const inodes = new Set<string>();
    for (const info of (await scanTree(this.pathOf(name))).entries.values()) {
      if (isWhiteout(info)) continue;
      if (info.kind === 'symlink') size += Buffer.byteLength(info.linkname ?? '');
      if (info.kind !== 'file' || inodes.has(`${info.dev}:${info.ino}`)) continue;
      if (info.nlink > 1) inodes.add(`${info.dev}:${info.ino}`);
      size += info.size;
    }
    return size;
  }

  /**
   * Makes the kept directory the unpacked form of the stored layer `diffId` (the tar `diff` gave):
   * `ROOT/layers/DIFFIDHEX` becomes a symlink to it, unless that layer is unpacked already. The kept
   * directory never moves, so a snapshot being mounted over it meanwhile is not disturbed.
   */
  async adopt(name: string, diffId: Digest): Promise<void> {
    await symlink(name, this.pathOf(digestHex(parseDigest(diffId, 'layer diffId')))).catch((e: unknown) => {
      if (!hasErrno(e, 'EEXIST')) throw e;
    });
  }

  /** The kept layers no stored layer adopted: build cache only, which `removeUnadopted` may delete. */
  async unadopted(): Promise<string[]> {
    const names = await readdir(join(this.root, 'layers')).catch(() => [] as string[]);
    const adopted = new Set<string>();
    for (const n of names) {
      if (!KEPT_NAME.test(n)) adopted.add(await readlink(this.pathOf(n)).catch(() => ''));
    }
    return names.filter((n) => KEPT_NAME.test(n) && !adopted.has(n));
  }

  /** Deletes the kept layers no stored layer adopted; returns how many there were. */
  async removeUnadopted(): Promise<number> {
    const doomed = await this.unadopted();
    for (const n of doomed) await rm(this.pathOf(n), { recursive: true, force: true });
    return doomed.length;
  }
}
