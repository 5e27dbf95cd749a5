import { mkdir, readdir, rename, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { hasErrno } from '../internal/errors.js';
import { digestHex, parseDigest } from '../oci/index.js';
import { activeRoot, checkKey, createActiveDir, deleteActiveDir, scratchName } from './active-dir.js';
import { contentSize } from './changes-to-tar.js';
import { diffDirectory } from './diff-directory.js';
import { scanTree } from './scan-tree.js';
import { mountOverlay, mountsUnder, OVERLAY_MAX_LOWERS, unmountUnder } from './mount-table.js';
import { ShaleError } from '../internal/errors.js';
import { openVerified } from './open-verified.js';
import { forgetOverlayProbe } from './overlay-probe.js';
import { isKept, type ActiveSnapshot, type LayerRef, type PrepareOptions, type Snapshotter } from './snapshotter.js';
import { runTool } from './run-tool.js';
import { KeptLayers, newKeptName } from './kept-layers.js';
import { unpackLayer } from './unpack-layer.js';

/**
 * Kernel overlayfs. Each layer is unpacked once (overlay format) into `ROOT/layers/DIFFIDHEX/`, through a
 * scratch directory renamed into place when complete, so a crash never leaves a half layer under its name;
 * a snapshot's changes kept by `keep` are an upperdir renamed to `ROOT/layers/kept-HEX/` (see KeptLayers).
 * A snapshot `ROOT/active/KEY/` holds `l/N` (short symlinks to the layers, N = 0 for the bottom one),
 * `upper/`, `work/`, and `merged/` where the overlay is mounted; the mount runs in that directory so its
 * options stay short (`lowerdir=l/2:l/1:l/0`) whatever the store's path.
 */
export class OverlaySnapshotter implements Snapshotter {
  readonly kind = 'overlayfs' as const;
  readonly keeps = true;
  /** Unpacks under way in this process: two snapshots over one new layer (parallel stages) unpack it once. */
  private readonly unpacking = new Map<string, Promise<string>>();
  /** `volatile`: snapshots that are not persistent are mounted with overlayfs's `volatile` (see OverlayMount). */
  constructor(
    readonly root: string,
    private readonly options: { volatile?: boolean } = {},
  ) {}

  /** The unpacked directory of a layer, unpacking it first when it is not cached. */
  ensureLayer(layer: LayerRef): Promise<string> {
    if (isKept(layer)) return this.keptLayer(layer.kept);
    const hex = digestHex(parseDigest(layer.diffId, 'layer diffId'));
    let p = this.unpacking.get(hex);
    if (!p) {
      p = this.unpackOnce(layer, hex).finally(() => this.unpacking.delete(hex));
      this.unpacking.set(hex, p);
    }
    return p;
  }

  private async keptLayer(name: string): Promise<string> {
    const kept = new KeptLayers(this.root);
    if (!(await kept.has(name))) throw new ShaleError('NOT_FOUND', `kept layer "${name}" is not in ${join(this.root, 'layers')}`);
    return kept.pathOf(name);
  }


  private async unpackOnce(layer: Exclude<LayerRef, { kept: string }>, hex: string): Promise<string> {
    const layers = join(this.root, 'layers');
    const dest = join(layers, hex);
    if (await stat(dest).then(() => true, () => false)) return dest;
    await mkdir(layers, { recursive: true });
    const scratch = join(layers, scratchName('unpack', hex.slice(0, 12)));
    await mkdir(scratch);
    try {
      await unpackLayer(openVerified(layer), scratch, { format: 'overlay', what: `layer ${layer.diffId}` });
      await rename(scratch, dest).catch((e: unknown) => {
        if (!hasErrno(e, 'ENOTEMPTY') && !hasErrno(e, 'EEXIST')) throw e; // another process unpacked it first
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    return dest;
  }

  async prepare(key: string, layers: LayerRef[], options: PrepareOptions = {}): Promise<ActiveSnapshot> {
    if (layers.length > OVERLAY_MAX_LOWERS) {
      throw new ShaleError('LIMIT_EXCEEDED', `overlayfs stacks at most ${OVERLAY_MAX_LOWERS} layers; this image has ${layers.length}`, {
        hint: 'squash the image, or use the copy snapshotter',
      });
    }
    for (const layer of layers) await this.ensureLayer(layer);
    // overlayfs refuses a directory twice in one stack (ELOOP); an identical layer lower down adds nothing
    // that its topmost copy does not already put above it, so only that copy is stacked
    const names = layers.map(layerDirName);
    const topmost = new Map(names.map((n, i) => [n, i]));
    const stacked = names.map((_, i) => i).filter((i) => topmost.get(names[i]!) === i);
    const active = await createActiveDir(this.root, key, this.kind, options.persistent);
    let dir: string;
    try {
      for (const sub of ['upper', 'work', 'merged', 'l']) await mkdir(join(active.dir, sub));
      for (const i of stacked) {
        await symlink(`../../../layers/${names[i]}`, join(active.dir, 'l', String(i)));
      }
      if (layers.length === 0) await mkdir(join(active.dir, 'empty'));
      dir = await active.commit();
    } catch (e) {
      await active.discard();
      throw e;
    }
    const lowers = layers.length === 0 ? ['empty'] : stacked.map((i) => `l/${i}`).reverse();
    try {
      await mountOverlay({ cwd: dir, lowers, upper: 'upper', work: 'work', target: 'merged', volatile: this.options.volatile && !options.persistent });
    } catch (e) {
      await forgetOverlayProbe(this.root);
      await deleteActiveDir(dir, key);
      throw e;
    }
    return new OverlaySnapshot(key, dir, join(this.root, 'layers'));
  }

  async reopen(key: string, options: { mount?: boolean } = {}): Promise<ActiveSnapshot> {
    checkKey(key);
    const dir = join(activeRoot(this.root), key);
    const lowers = await readdir(join(dir, 'l')).catch((e: unknown) => {
      if (hasErrno(e, 'ENOENT')) throw new ShaleError('NOT_FOUND', `snapshot "${key}" does not exist`);
      throw e;
    });
    if (options.mount !== false && (await mountsUnder(dir)).length === 0) {
      const names = lowers.length === 0 ? ['empty'] : lowers.map(Number).sort((a, b) => b - a).map((i) => `l/${i}`);
      await mountOverlay({ cwd: dir, lowers: names, upper: 'upper', work: 'work', target: 'merged' });
    }
    return new OverlaySnapshot(key, dir, join(this.root, 'layers'));
  }
}

/** A layer's directory name under `ROOT/layers/`: its kept name, or its diffId's hex. */
const layerDirName = (layer: LayerRef): string => (isKept(layer) ? layer.kept : digestHex(parseDigest(layer.diffId, 'layer diffId')));

class OverlaySnapshot implements ActiveSnapshot {
  readonly rootfs: string;
  /** Mounted by this object (prepare, reopen): unmounted directly, without reading the mount table. */
  private mounted = true;
  constructor(
    readonly key: string,
    private readonly dir: string,
    private readonly layersDir: string,
  ) {
    this.rootfs = join(dir, 'merged');
  }

  /** The upperdir is already a layer in overlay format: it moves under the layers, named, and the rest goes. */
  async keep(): Promise<string> {
    await this.unmount();
    const name = newKeptName();
    await mkdir(this.layersDir, { recursive: true }); // a stack of no layers (FROM scratch) made none yet
    await rename(join(this.dir, 'upper'), join(this.layersDir, name));
    await this.remove();
    return name;
  }

  diff(): AsyncIterable<Buffer> {
    return diffDirectory(join(this.dir, 'upper'));
  }

  async changedSize(): Promise<number> {
    // the upperdir holds exactly the changes; whiteouts (0:0 devices) and opaque marks carry no content
    return contentSize((await scanTree(join(this.dir, 'upper'))).entries.values());
  }

  private async unmount(): Promise<void> {
    if (!this.mounted) return;
    await runTool('umount', [this.rootfs]).catch(async () => {
      await unmountUnder(this.dir); // something else is mounted below the root too
    });
    this.mounted = false;
  }

  async remove(): Promise<void> {
    await this.unmount().catch((e: unknown) => {
      if (!hasErrno(e, 'ENOENT')) throw e;
    });
    await deleteActiveDir(this.dir, this.key);
  }
}
