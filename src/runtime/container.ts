import { compareStrings } from '../internal/compare.js';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { hasErrno, ShaleError } from '../internal/errors.js';
import { selfCommand } from '../internal/self-command.js';
import { appendLayerToConfig, createdNow, type Image } from '../image/index.js';
import type { Digest, ImageConfig } from '../oci/index.js';
import { exportMergedTar, MergedTree, parseWhiteout, readTar } from '../layer/index.js';
import { putImage, putLayer, type Store } from '../store/index.js';
import { chooseSnapshotter, resolveInRoot, type ActiveSnapshot, type LayerRef, type Snapshotter, type SnapshotterPreference } from '../snapshot/index.js';
import { ContainerRecords, type ContainerRecord } from './container-records.js';
import { initLayer } from './init-layer.js';
import { hostNetworkFiles, type BindMount, type SpecOptions } from './runtime-spec.js';
import { storeRunc, type Runc, type RunResult } from './runc.js';
import { resolveUser } from './user.js';

export interface RunOptions {
  image: string;
  /** Replaces the image's CMD when not empty. */
  command: string[];
  name?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  network?: 'host' | 'none';
  volumes?: string[];
  detach?: boolean;
  autoRemove?: boolean;
  tty?: boolean;
  /** How the container's root filesystem is made: overlayfs, copies, or the first that works (auto). */
  snapshotter?: SnapshotterPreference;
  /** Replaces the image's ENTRYPOINT (an empty list clears it). */
  entrypoint?: string[];
  /**
   * Runs the container with its output handed here (not the terminal), no signal forwarding, and no
   * record kept afterwards: a container of shale's own (a probe), always removed when it ends.
   */
  capture?: CapturedRun;
}

/** How a captured container runs (see RunOptions.capture). */
export interface CapturedRun {
  onOutput: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Aborting kills the container. */
  signal?: AbortSignal;
  /** A program runc runs under (a tracer). */
  wrapper?: string[];
}

/** Everything about containers: records, their persistent snapshots (overlayfs or copies) and runc. */
export class Containers {
  readonly records: ContainerRecords;
  private readonly runc: Runc;
  private readonly snapshotters = new Map<SnapshotterPreference, Promise<Snapshotter>>();

  constructor(readonly store: Store) {
    this.records = new ContainerRecords(join(store.root, 'shale', 'containers'));
    this.runc = storeRunc(store);
  }

  private snapshotter(preference: SnapshotterPreference): Promise<Snapshotter> {
    let s = this.snapshotters.get(preference);
    if (!s) {
      s = chooseSnapshotter(join(this.store.root, 'shale', 'snapshots'), preference);
      this.snapshotters.set(preference, s);
    }
    return s;
  }

  private layerRefs(image: Image): LayerRef[] {
    return image.layers.map((l) => ({ diffId: l.diffId, open: () => l.open() }));
  }

  /**
   * Settles containers whose shale process was killed: the runc container it left is killed and deleted
   * and the record marked exited (137), so nothing keeps running unseen. Commands call it first.
   */
  async reconcile(): Promise<void> {
    for (const r of await this.records.list()) {
      if (r.exitCode !== undefined || r.pid === undefined || this.records.status(r) === 'running') continue;
      this.runc.delete(r.id);
      await this.records.save({ ...r, exitCode: 137, finished: createdNow() });
    }
  }

  /** Creates a container over the image and runs it: in the foreground (returns its exit code) or detached. */
  async run(o: RunOptions): Promise<{ id: string; exitCode?: number }> {
    const { image, entry } = await this.store.resolve(o.image);
    const cfg = (image.config.config ?? {}) as { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string };
    const args = [...(o.entrypoint ?? cfg.Entrypoint ?? []), ...(o.command.length > 0 ? o.command : o.entrypoint ? [] : (cfg.Cmd ?? []))];
    if (args.length === 0) throw new ShaleError('INVALID_ARGUMENT', `no command specified: image ${o.image} has no CMD or ENTRYPOINT`);
    const id = randomBytes(32).toString('hex');
    const name = o.name ?? `shale_${id.slice(0, 8)}`;
    if (o.name && (await this.records.list()).some((r) => r.name === o.name)) {
      throw new ShaleError('ALREADY_EXISTS', `the container name "${o.name}" is already in use`);
    }
    const binds = await checkBindMounts(o.volumes ?? []);
    const init = await initLayer();
    const snapshotKey = `ctr-${id.slice(0, 32)}`;
    const snapshotter = await this.snapshotter(o.snapshotter ?? 'auto');
    const record: ContainerRecord = {
      id,
      name,
      image: o.image,
      imageId: image.id,
      manifestDigest: entry.descriptor.digest,
      args,
      created: createdNow(),
      snapshotKey,
      snapshotter: snapshotter.kind,
      detached: o.detach === true,
      autoRemove: o.autoRemove === true,
    };
    let created = false;
    let snap: ActiveSnapshot | undefined;
    // A failure once the container exists leaves it `Created` (as Docker does), or removes it with --rm;
    // a failure while it is being made removes whatever part of it was made.
    const fail = async (e: unknown): Promise<never> => {
      if (!created || o.autoRemove) await this.removeRecorded(record, snap);
      throw e;
    };
    let spec: SpecOptions;
    try {
      snap = await snapshotter.prepare(snapshotKey, [...this.layerRefs(image), { diffId: init.diffId, open: async function* () { yield init.bytes; } }], { persistent: true });
      await settleAll([this.store.pin(`container-${id}`, [entry.descriptor.digest, image.id, ...image.layers.map((l) => l.descriptor.digest)]), this.records.save(record)]);
      created = true;
      binds.push(...(await this.containerFiles(id, o.network ?? 'host')));
      spec = {
        rootfs: snap.rootfs,
        args,
        env: mergeEnv(cfg.Env ?? [], o.env ?? []),
        cwd: o.workdir ?? (cfg.WorkingDir || '/'),
        user: await resolveUser(snap.rootfs, o.user ?? cfg.User ?? ''),
        hostname: id.slice(0, 12),
        network: o.network ?? 'host',
        terminal: o.tty === true,
        binds,
      };
      // a command bound into the container (a probe script) is there only once runc has mounted it
      if (!binds.some((b) => b.destination === spec.args[0])) await checkExecutable(snap.rootfs, spec.args[0]!, spec.env, spec.cwd);
    } catch (e) {
      return fail(e);
    }
    const bundleDir = this.records.pathOf(id, 'bundle');
    if (o.capture) return this.runCaptured(record, snap!, spec, o.capture);
    if (o.detach) {
      const pid = await this.runc.runDetached({
        bundleDir,
        id,
        spec,
        logFile: this.records.pathOf(id, 'log'),
        exitFile: this.records.pathOf(id, 'exit-code'),
        afterExit: o.autoRemove ? { argv: [...selfCommand(), '--root', this.store.root, 'rm', id], when: this.records.pathOf(id, 'recorded') } : undefined,
      });
      await this.records.save({ ...record, pid });
      // the --rm of a container that ended at once waits for this: it would otherwise remove the container
      // before the save above and see it come back
      if (o.autoRemove) await writeFile(this.records.pathOf(id, 'recorded'), '');
      return { id };
    }
    // foreground: signals to shale go to the container (a second Ctrl-C kills it); the record carries
    // shale's pid so `ps`, `stop` and `rm` see the container running
    await this.records.save({ ...record, pid: process.pid }, { durable: false });
    let interrupts = 0;
    let grace: NodeJS.Timeout | undefined;
    const kill = (name: string) => this.runc.killSync(id, name);
    const forward = (sig: NodeJS.Signals) => {
      kill(sig === 'SIGINT' && ++interrupts > 1 ? 'KILL' : sig.replace(/^SIG/, ''));
      // Ctrl-C stops the container: one that ignores SIGINT (a shell or sleep as PID 1) is killed after 3 s
      if (sig === 'SIGINT') grace ??= setTimeout(() => kill('KILL'), 3000);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    let result: RunResult;
    try {
      result = await this.runc.run({ bundleDir, id, spec, stdio: 'inherit' });
    } catch (e) {
      await this.records.save(record);
      return fail(e);
    } finally {
      clearTimeout(grace);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    }
    if (!result.started) {
      // runc printed why; the container never ran, so it stays `Created` (or goes, with --rm)
      await this.records.save(record);
      return fail(new ShaleError('COMMAND_FAILED', `the runtime could not start container ${name} (runc exited ${result.exitCode}; its message is above)`, { exitCode: 125 }));
    }
    const { exitCode } = result;
    await this.records.save({ ...record, exitCode, finished: createdNow() }, { durable: false });
    if (o.autoRemove) await this.removeRecorded(record, snap);
    return { id, exitCode };
  }

  /** Runs a container of shale's own to its end with its output captured, then removes it (see RunOptions.capture). */
  private async runCaptured(record: ContainerRecord, snap: ActiveSnapshot, spec: SpecOptions, c: CapturedRun): Promise<{ id: string; exitCode: number }> {
    try {
      const result = await this.runc.run({ bundleDir: this.records.pathOf(record.id, 'bundle'), id: record.id, spec, stdio: 'pipe', onOutput: c.onOutput, signal: c.signal, wrapper: c.wrapper });
      if (!result.started) throw new ShaleError('COMMAND_FAILED', `the runtime could not start a container of ${record.image} (runc exited ${result.exitCode})`, { exitCode: 125 });
      return { id: record.id, exitCode: result.exitCode };
    } finally {
      await this.removeRecorded(record, snap);
    }
  }

  /**
   * Runs `fn` on a throwaway root filesystem of an image (its layers as they are, nothing run in it), and
   * removes that afterwards: a place to read the image's files by path.
   */
  async withImageRootfs<T>(ref: string, fn: (rootfs: string) => Promise<T>): Promise<T> {
    const { image } = await this.store.resolve(ref);
    const snap = await (await this.snapshotter('auto')).prepare(`view-${randomBytes(16).toString('hex')}`, this.layerRefs(image));
    try {
      return await fn(snap.rootfs);
    } finally {
      await snap.remove();
    }
  }

  /** The files a container gets bound over its init layer: its hostname, and the host's DNS files with host networking. */
  private async containerFiles(id: string, network: 'host' | 'none'): Promise<BindMount[]> {
    const hostname = this.records.pathOf(id, 'hostname');
    await mkdir(this.records.pathOf(id), { recursive: true });
    await writeFile(hostname, `${id.slice(0, 12)}\n`);
    const binds: BindMount[] = [{ source: hostname, destination: '/etc/hostname', readonly: true }];
    if (network === 'host') binds.push(...(await hostNetworkFiles()));
    return binds;
  }

  private async snapshotOf(r: ContainerRecord, options?: { mount?: boolean }): Promise<ActiveSnapshot> {
    return (await this.snapshotter(r.snapshotter ?? 'overlayfs')).reopen(r.snapshotKey, options);
  }

  /** Stops a running container: SIGTERM, then SIGKILL after `timeoutSeconds`. */
  async stop(ref: string, timeoutSeconds = 10): Promise<ContainerRecord> {
    const r = await this.records.find(ref);
    if (this.records.status(r) !== 'running') return r;
    const kill = (sig: string) => this.runc.kill(r.id, sig);
    await kill('TERM');
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (Date.now() < deadline && this.records.status(await this.records.find(r.id)) === 'running') await sleep(100);
    if (this.records.status(await this.records.find(r.id)) === 'running') {
      await kill('KILL');
      while (this.records.status(await this.records.find(r.id)) === 'running') await sleep(50);
    }
    return this.records.find(r.id);
  }

  /** Removes a container and its writable layer; a running one only with `force` (it is killed). */
  async remove(ref: string, force = false): Promise<string> {
    const r = await this.records.find(ref);
    if (this.records.status(r) === 'running') {
      if (!force) throw new ShaleError('FAILED_PRECONDITION', `container ${r.name} is running`, { hint: 'stop it first or use rm -f' });
      await this.stop(r.id, 0);
    }
    await this.removeRecorded(r);
    return r.id;
  }

  /**
   * Deletes whatever exists of a container: runc's state, its snapshot (`mounted`: the one this process
   * holds, else it is reopened), its pin and its record.
   */
  private async removeRecorded(r: ContainerRecord, mounted?: ActiveSnapshot): Promise<void> {
    this.runc.delete(r.id);
    const snap = mounted ?? (await this.snapshotOf(r).catch(() => undefined));
    await snap?.remove();
    await this.store.unpin(`container-${r.id}`);
    await this.records.remove(r.id);
  }

  /** What the writable layer changed, as `docker diff` lists it: A added, C changed, D deleted. */
  async diff(ref: string): Promise<{ kind: 'A' | 'C' | 'D'; path: string }[]> {
    const r = await this.records.find(ref);
    const image = await this.store.image(r.manifestDigest as Digest);
    const lower = await MergedTree.build(image.layers);
    const init = new Set(['.dockerenv', 'dev', 'dev/console', 'dev/pts', 'dev/shm', 'etc/hostname', 'etc/hosts', 'etc/mtab', 'etc/resolv.conf', 'proc', 'sys']);
    const out: { kind: 'A' | 'C' | 'D'; path: string }[] = [];
    for await (const e of readTar((await this.snapshotOf(r, { mount: false })).diff())) {
      const path = e.header.name.replace(/\/+$/, '');
      const mark = parseWhiteout(path);
      if (mark?.kind === 'whiteout') out.push({ kind: 'D', path: `/${mark.target}` });
      else if (mark?.kind === 'opaque') {
        for (const name of lower.lookup(mark.dir)?.children?.keys() ?? []) out.push({ kind: 'D', path: `/${mark.dir}/${name}` });
      } else if (!init.has(path) || lower.lookup(path)) out.push({ kind: lower.lookup(path) ? 'C' : 'A', path: `/${path}` });
    }
    return out.sort((a, b) => compareStrings(a.path, b.path));
  }

  /** Bytes of the writable layer's content. */
  async size(r: ContainerRecord): Promise<number> {
    // only read: a mount here would race a `rm` of the container in another process (it unmounts, this
    // mounts again, it moves the directory away with the mount in it)
    const snap = await this.snapshotOf(r, { mount: false }).catch(() => undefined);
    if (!snap) return 0;
    try {
      return await snap.changedSize();
    } catch (e) {
      if (hasErrno(e, 'ENOENT')) return 0; // removed while it was read
      throw e;
    }
  }

  /**
   * The writable layer becomes a new layer on top of the container's image (which is not changed): a
   * history entry with the container's command and `message`, config changes from `edit`.
   */
  async commit(ref: string, target: string | undefined, options: { message?: string; author?: string; edit?: (c: ImageConfig) => ImageConfig } = {}): Promise<{ id: Digest }> {
    const r = await this.records.find(ref);
    const image = await this.store.image(r.manifestDigest as Digest);
    const { descriptor, info } = await putLayer(this.store, (await this.snapshotOf(r)).diff(), `container ${r.name} layer`);
    let config = appendLayerToConfig(image.config, info.diffId, {
      created: createdNow(),
      created_by: r.args.join(' '),
      ...(options.author ? { author: options.author } : {}),
      ...(options.message ? { comment: options.message } : {}),
    });
    if (options.edit) config = options.edit(config);
    const { id } = await putImage(this.store, config, [...image.manifest.layers, descriptor], target ? [target] : []);
    return { id };
  }

  /**
   * The container's root filesystem as `docker export` gives it: the image's layers, the init layer and
   * the writable layer merged (whiteouts applied), as one tar. A running container's writable layer is
   * read once, into a file of the store's scratch space, so the two passes of the merge see one state.
   */
  async *exportTree(ref: string): AsyncGenerator<Buffer> {
    const r = await this.records.find(ref);
    const image = await this.store.image(r.manifestDigest as Digest);
    const dir = await this.store.newScratchDir('export-');
    try {
      const writable = join(dir, 'writable.tar');
      await pipeline(Readable.from((await this.snapshotOf(r)).diff()), createWriteStream(writable));
      const init = await initLayer();
      yield* exportMergedTar([
        ...image.layers,
        { what: 'the init layer', open: async function* () { yield init.bytes; } },
        { what: `the writable layer of container ${r.name}`, open: () => createReadStream(writable) },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async logs(ref: string): Promise<Buffer> {
    const r = await this.records.find(ref);
    return readFile(this.records.pathOf(r.id, 'log')).catch(() => Buffer.alloc(0));
  }
}

/** Checks `-v SRC:DST[:ro|rw]` values (host paths that exist) before anything of the container is made. */
async function checkBindMounts(volumes: string[]): Promise<BindMount[]> {
  const binds: BindMount[] = [];
  for (const v of volumes) {
    const parts = v.split(':');
    const [src = '', dst = '', mode] = parts;
    if (parts.length < 2 || parts.length > 3 || !dst.startsWith('/') || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
      throw new ShaleError('INVALID_ARGUMENT', `invalid volume "${v}": use -v /host/path:/container/path[:ro]`);
    }
    if (!isAbsolute(src) && !src.startsWith('.')) throw new ShaleError('UNSUPPORTED', `named volume "${src}" is not supported: use a host path`);
    const host = resolve(src);
    await lstat(host).catch(() => {
      throw new ShaleError('NOT_FOUND', `bind source path does not exist: ${host}`);
    });
    binds.push({ source: host, destination: dst, readonly: mode === 'ro' });
  }
  return binds;
}

/** Waits for every one of `work`, then fails with the first failure: nothing is left running behind an error. */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  for (const r of await Promise.allSettled(work)) if (r.status === 'rejected') throw r.reason;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The image's environment with `-e` values over it (`-e K` takes K from shale's own environment). */
function mergeEnv(base: string[], overrides: string[]): string[] {
  const env = new Map(base.map((e) => [e.split('=')[0]!, e] as const));
  for (const o of overrides) {
    const [k] = o.split('=');
    if (!k) throw new ShaleError('INVALID_ARGUMENT', `invalid environment variable "${o}"`);
    if (o.includes('=')) env.set(k, o);
    else if (process.env[k] !== undefined) env.set(k, `${k}=${process.env[k]}`);
  }
  // as Docker: a container whose image sets no PATH gets the default one
  if (!env.has('PATH')) env.set('PATH', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...env.values()];
}

/**
 * Docker's check before it starts a process: a command not found exits 127, one that is not an
 * executable file 126 (instead of runc's generic failure).
 */
async function checkExecutable(rootfs: string, cmd: string, env: string[], cwd: string): Promise<void> {
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '';
  const candidates = cmd.includes('/') ? [posix.resolve(cwd, cmd)] : path.split(':').filter(Boolean).map((d) => posix.join(d, cmd));
  let found: string | undefined;
  for (const c of candidates) {
    const st = await stat(await resolveInRoot(rootfs, c)).catch(() => undefined);
    if (!st) continue;
    found = c;
    if (st.isFile() && (st.mode & 0o111) !== 0) return;
  }
  if (found) throw new ShaleError('COMMAND_FAILED', `exec: "${cmd}": permission denied (${found} is not an executable file)`, { exitCode: 126 });
  throw new ShaleError('COMMAND_FAILED', `exec: "${cmd}": executable file not found in $PATH`, { exitCode: 127 });
}
