import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, posix } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { explainUnmappedOwner, mapsSingleId, SUBUID_HINT } from '../internal/user-namespace.js';
import { decompress } from '../layer/index.js';
import { putLayer, type Store } from '../store/index.js';
import { resolveInRoot, unpackLayer, type KeptLayerRef, type KeptLayers, type LayerRef, type Snapshotter } from '../snapshot/index.js';
import { hostNetworkFiles, initLayer, resolveUser, storeRunc, type BindMount } from '../runtime/index.js';
import type { PreparedStep } from '../dockerfile/stage-steps.js';
import type { ContainerConfig } from '../dockerfile/apply-instruction.js';
import type { BuildMode } from '../dockerfile/buildkit-output.js';
import type { RunMount } from '../dockerfile/run-mount.js';
import type { BuildOptions } from './build-image.js';
import type { BuildListener } from './build-progress.js';
import type { SourceTree } from './build-context.js';
import { copyIntoRootfs, type SourcePath } from './copy-files.js';
import type { BuildLayer, LayerStorer, StoredLayer } from './layer-storer.js';
import { prepareRunMountPoints } from './run-mount-points.js';
import { withRunMounts, type RunMountInputs } from './run-mounts.js';

/**
 * Runs the steps that change files (RUN, COPY/ADD, WORKDIR): each in a fresh snapshot over the image's
 * layers, ending as a kept snapshot (BuildKit mode, overlayfs) or a stored layer; and gives read-only
 * views of an image's tree (COPY --from, RUN --mount from=).
 */
export class StepRunner {
  private initRef?: Promise<LayerRef>;

  constructor(
    private readonly store: Store,
    private readonly snapshotter: () => Promise<Snapshotter>,
    private readonly kept: KeptLayers,
    private readonly storer: LayerStorer,
    private readonly options: BuildOptions,
    private readonly emit: BuildListener,
    private readonly mode: BuildMode,
  ) {}

  /** The image's layers to stack; kept ones are stored first for a snapshotter that cannot stack them (copy). */
  private async layerRefs(image: { layers: BuildLayer[] }): Promise<LayerRef[]> {
    const layers = (await this.snapshotter()).keeps ? await this.storer.present(image.layers) : await this.storer.stored(image.layers);
    return layers.map((l) => {
      if ('kept' in l) return { kept: l.kept };
      const layer = this.store.layer(l.descriptor, l.diffId);
      return { diffId: l.diffId, open: () => layer.open() };
    });
  }

  private init(): Promise<LayerRef> {
    this.initRef ??= initLayer().then(({ diffId, bytes }) => ({ diffId, open: async function* () { yield bytes; } }));
    return this.initRef;
  }

  /** A read-only use of an image's root filesystem (COPY --from). */
  async view(image: { layers: BuildLayer[] }): Promise<{ rootfs: string; remove: () => Promise<void> }> {
    const snap = await (await this.snapshotter()).prepare(`view-${randomBytes(6).toString('hex')}`, await this.layerRefs(image));
    return { rootfs: snap.rootfs, remove: () => snap.remove() };
  }

  /**
   * Executes one file-changing step; returns its layer (kept unpacked where the snapshotter can keep it,
   * else stored), or undefined when it changed nothing (classic).
   */
  async execute(
    step: number,
    prepared: Exclude<PreparedStep, { kind: 'metadata' }>,
    image: { layers: BuildLayer[] },
    sources: { tree: SourceTree; list: SourcePath[] } | undefined,
    config: ContainerConfig,
    runMounts?: { mounts: RunMount[]; inputs: RunMountInputs },
  ): Promise<StoredLayer | KeptLayerRef | undefined> {
    const lowers = await this.layerRefs(image);
    // BuildKit runs over the image itself: no init layer (see runMountPoints)
    if (prepared.kind === 'run' && this.mode === 'classic') lowers.push(await this.init());
    const key = `build-${randomBytes(6).toString('hex')}`;
    const snap = await (await this.snapshotter()).prepare(key, lowers);
    try {
      if (prepared.kind === 'workdir') {
        const dir = await resolveInRoot(snap.rootfs, prepared.workingDir);
        const first = await mkdir(dir, { recursive: true, mode: 0o755 });
        // BuildKit makes the directories as the USER (when it resolves in the image)
        const owner = this.mode === 'buildkit' && first && config.User ? await resolveUser(snap.rootfs, config.User).catch(() => undefined) : undefined;
        for (let d = dir; owner && first && d.length >= first.length; d = posix.dirname(d)) await chown(d, owner.uid, owner.gid);
      } else if (prepared.kind === 'copy') {
        const inst = prepared.instruction;
        const dest = inst.dest.startsWith('/') ? inst.dest : posix.join(config.WorkingDir || '/', inst.dest) + (inst.dest.endsWith('/') ? '/' : '');
        const owner = inst.chown ? await chownOf(snap.rootfs, inst.chown) : undefined;
        const mode = inst.chmod ? Number.parseInt(inst.chmod, 8) : undefined;
        if (mode !== undefined && !(mode >= 0 && mode <= 0o7777)) throw new ShaleError('DOCKERFILE_SYNTAX', `Dockerfile:${inst.line}: invalid --chmod=${inst.chmod}`);
        const list = sources?.list ?? [];
        const archives = inst.kind === 'ADD' ? await Promise.all(list.map((s) => isTarArchive(s.hostPath))) : list.map(() => false);
        const plain = list.filter((_, i) => !archives[i]);
        const copyOptions = { owner, mode, exclude: sources?.tree.excluded };
        try {
          if (inst.kind === 'COPY' && inst.parents) {
            // each source is a directory whose selected contents land below dest, paths kept
            for (const src of plain) await copyIntoRootfs(snap.rootfs, [src], dest, copyOptions);
          } else if (plain.length > 0) await copyIntoRootfs(snap.rootfs, plain, dest, copyOptions);
        } catch (e) {
          throw explainUnmappedOwner(e, { step: `Dockerfile:${inst.line}: ${inst.kind}`, root: snap.rootfs });
        }
        for (const [i, src] of list.entries()) {
          if (!archives[i]) continue;
          // ADD of a local archive: its contents go into the destination directory
          const into = await resolveInRoot(snap.rootfs, dest);
          await mkdir(into, { recursive: true });
          await unpackLayer(decompress(createReadStream(src.hostPath), { what: `ADD ${src.rel}` }), into, { format: 'plain', what: `ADD ${src.rel}` });
        }
      } else {
        // classic: each VOLUME is a directory in the RUN's layer, with an empty volume over it, so writes
        // there are dropped (BuildKit treats VOLUME as metadata only)
        const volumes = this.mode === 'classic' ? Object.keys(config.Volumes ?? {}) : [];
        for (const volume of volumes) await mkdir(await resolveInRoot(snap.rootfs, volume), { recursive: true });
        await this.run(step, prepared, snap.rootfs, config, runMounts);
      }
      // BuildKit keeps a step that changed nothing as an empty layer; classic drops it, so it needs the tar now
      if (this.mode === 'buildkit' && snap.keep) return { kept: await snap.keep() };
      const { descriptor, info } = await putLayer(this.store, snap.diff(), `step ${step} layer`);
      if (info.entries === 0 && this.mode === 'classic') return undefined;
      // the snapshot's changes are that layer unpacked: kept under its diffId, the next step need not unpack it
      if (snap.keep) await this.kept.adopt(await snap.keep(), info.diffId);
      return { descriptor, diffId: info.diffId };
    } finally {
      await snap.remove();
    }
  }

  private async run(step: number, prepared: Extract<PreparedStep, { kind: 'run' }>, rootfs: string, config: ContainerConfig, runMounts?: { mounts: RunMount[]; inputs: RunMountInputs }): Promise<void> {
    const id = `shale-${randomBytes(8).toString('hex')}`;
    const bundleDir = join(this.store.root, 'shale', 'bundles', id);
    await mkdir(bundleDir, { recursive: true });
    const network = prepared.instruction.network === 'none' ? 'none' : prepared.instruction.network === 'host' ? 'host' : (this.options.network ?? 'host');
    let cleanupMountPoints: (() => Promise<void>) | undefined;
    try {
      const binds: BindMount[] = [];
      if (this.mode === 'classic') {
        await writeFile(join(bundleDir, 'hostname'), `${id.slice(6, 18)}\n`);
        binds.push({ source: join(bundleDir, 'hostname'), destination: '/etc/hostname', readonly: true });
      }
      if (network === 'host' || this.mode === 'buildkit') binds.push(...(await hostNetworkFiles()));
      for (const [i, volume] of (this.mode === 'classic' ? Object.keys(config.Volumes ?? {}) : []).entries()) {
        const dir = join(bundleDir, `volume-${i}`);
        await mkdir(dir);
        binds.push({ source: dir, destination: volume });
      }
      for (const f of prepared.inlineFiles) {
        const host = join(bundleDir, `inline-${posix.basename(f.path)}`);
        await writeFile(host, f.data);
        await chmod(host, f.mode);
        binds.push({ source: host, destination: f.path, readonly: true });
      }
      const user = await resolveUser(rootfs, config.User ?? '');
      const etcBinds = binds.map((b) => b.destination).filter((d) => d.startsWith('/etc/'));
      cleanupMountPoints = this.mode === 'buildkit' ? await prepareRunMountPoints(rootfs, etcBinds, prepared.inlineFiles.length > 0) : undefined;
      const output: Buffer[] = [];
      const { exitCode } = await withRunMounts(runMounts?.mounts ?? [], rootfs, bundleDir, runMounts?.inputs as RunMountInputs, (mounted) => storeRunc(this.store).run({
        bundleDir,
        id,
        spec: {
          rootfs,
          args: prepared.argv,
          env: [...prepared.env, ...mounted.env],
          cwd: config.WorkingDir || '/',
          user,
          hostname: id.slice(6, 18),
          network,
          binds,
          extraMounts: mounted.mounts,
        },
        stdio: 'pipe',
        signal: this.options.signal,
        onOutput: (chunk) => {
          output.push(chunk);
          this.emit({ type: 'output', step, data: chunk.toString('utf8') });
        },
      }));
      if (this.options.signal?.aborted) throw new ShaleError('FAILED_PRECONDITION', 'build interrupted');
      if (exitCode !== 0) {
        const message = `Dockerfile:${prepared.instruction.line}: RUN ${prepared.argv.join(' ')} returned a non-zero code: ${exitCode}`;
        this.emit({ type: 'failed', step, message, output: Buffer.concat(output).toString('utf8') });
        throw new ShaleError('COMMAND_FAILED', message, mapsSingleId() ? { hint: SUBUID_HINT } : {});
      }
    } finally {
      await cleanupMountPoints?.();
      await rm(bundleDir, { recursive: true, force: true });
    }
  }
}

/** `--chown=user[:group]`, names resolved in the image; without a group the gid is the uid (Docker's rule). */
async function chownOf(rootfs: string, spec: string): Promise<{ uid: number; gid: number }> {
  const [u = '', g] = spec.split(':');
  const { uid } = await resolveUser(rootfs, u);
  if (g === undefined) return { uid, gid: uid };
  return { uid, gid: (await resolveUser(rootfs, `${uid}:${g}`)).gid };
}

/** True when a file is a tar archive, plain or compressed (ADD extracts those). */
async function isTarArchive(path: string): Promise<boolean> {
  let block = Buffer.alloc(0);
  try {
    for await (const c of decompress(createReadStream(path, { end: 1 << 20 }), { what: path })) {
      block = Buffer.concat([block, c]);
      if (block.length >= 512) break;
    }
  } catch {
    return false; // a truncated or corrupt compressed file is copied as it is
  }
  return block.length >= 512 && block.toString('latin1', 257, 262) === 'ustar';
}
