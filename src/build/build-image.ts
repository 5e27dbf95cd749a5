import { mkdir, mkdtemp, rm, writeFile, chmod, lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { decompress } from '../layer/index.js';
import { ShaleError } from '../internal/errors.js';
import { BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION, normalizeReference, type Descriptor, type Digest, type History, type ImageConfig } from '../oci/index.js';
import { createdNow, hostPlatform, type Image } from '../image/index.js';
import { putImage, putLayer, type Store } from '../store/index.js';
import { chooseSnapshotter, cleanupStale, unpackLayer, type LayerRef, type Snapshotter, type SnapshotterPreference } from '../snapshot/index.js';
import { initLayer, makeRuntimeSpec, resolveUser, runcRun, type BindMount } from '../runtime/index.js';
import { parseDockerfile, parseTrigger } from '../dockerfile/dockerfile.js';
import type { BuildArgValues } from '../dockerfile/expand.js';
import { planBuild, stageLabel, type Stage } from '../dockerfile/plan.js';
import { StageSteps, type PreparedStep } from '../dockerfile/stage-steps.js';
import { toDockerConfigJson, type ContainerConfig } from '../dockerfile/apply-instruction.js';
import { BuildCache, type CachedStep } from './build-cache.js';
import { runScheduled, stageParallelism } from './stage-scheduler.js';
import { SourceTree } from './build-context.js';
import { copyIntoRootfs, type SourcePath } from './copy-files.js';
import { resolveInRoot } from '../snapshot/index.js';
import type { BuildListener } from './build-progress.js';
import type { Instruction } from '../dockerfile/instructions.js';
import { heredocBody } from '../dockerfile/instructions.js';

export interface BuildOptions {
  contextDir: string;
  /** The Dockerfile; `<context>/Dockerfile` when absent. */
  dockerfile?: string;
  tags?: string[];
  buildArgs?: BuildArgValues;
  target?: string;
  noCache?: boolean;
  network?: 'host' | 'none';
  snapshotter?: SnapshotterPreference;
  onEvent?: BuildListener;
  signal?: AbortSignal;
  /** How many stages run at once; SHALE_BUILD_PARALLELISM, else the CPU count (`stageParallelism`). */
  parallelism?: number;
}

export interface BuildResult {
  id: Digest;
  manifestDigest: Digest;
  tags: string[];
}

/** A stage's image as the build goes: config, layers and the cache key of everything so far. */
interface StageImage {
  config: ImageConfig;
  layers: { descriptor: Descriptor; diffId: Digest }[];
  cacheKey: string;
  /** The image ID of the base (for the config's `Image` field). */
  parentId?: string;
  /** The store image the stage's chain of FROMs starts at: recorded as the manifest's base annotations. */
  base?: { name: string; manifestDigest: Digest };
}

const emptyImage = (): StageImage => ({
  config: { ...hostPlatform(), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
  layers: [],
  cacheKey: 'scratch',
});

const fromStoreImage = (image: Image, ref?: string): StageImage => ({
  base: ref ? { name: normalizeReference(ref), manifestDigest: image.manifestDigest } : undefined,
  config: image.config,
  layers: image.layers.map((l) => ({ descriptor: l.descriptor, diffId: l.diffId })),
  cacheKey: image.id,
  parentId: image.id,
});

/**
 * Builds a Dockerfile as Docker's classic builder does: each RUN runs in runc over a snapshot of the
 * image so far, each RUN/COPY/ADD/WORKDIR that changes files becomes one layer, metadata instructions
 * become empty-layer history entries; only the stages the target needs are built, each once the stages
 * it depends on are done, independent ones at the same time (`runScheduled`; the first failure stops the
 * others); steps are reused from the cache when their parent chain, instruction and sources are the same,
 * and a step that another stage of this build is already making is awaited, not made twice.
 */
export async function buildImage(store: Store, options: BuildOptions): Promise<BuildResult> {
  const emit = options.onEvent ?? (() => undefined);
  const dockerfilePath = options.dockerfile ?? join(options.contextDir, 'Dockerfile');
  const text = await readFile(dockerfilePath, 'utf8').catch(() => {
    throw new ShaleError('NOT_FOUND', `Dockerfile ${dockerfilePath} not found`);
  });
  const dockerfile = parseDockerfile(text, { file: posix.basename(dockerfilePath) });
  const plan = planBuild(dockerfile, { target: options.target, buildArgs: options.buildArgs });
  const parallelism = options.parallelism ?? stageParallelism();
  const context = await SourceTree.context(options.contextDir);
  // chosen on first use: a fully cached build never mounts anything
  let chosen: Promise<Snapshotter> | undefined;
  const snapshotsRoot = join(store.root, 'shale', 'snapshots');
  const snapshotter = () =>
    (chosen ??= cleanupStale(snapshotsRoot).then(() => chooseSnapshotter(snapshotsRoot, options.snapshotter ?? 'auto')));
  const cache = new BuildCache(join(store.root, 'shale', 'build-cache'));
  // aborted by Ctrl-C or by the first failing stage: the other stages' steps stop
  const stop = new AbortController();
  const interrupt = () => stop.abort(new ShaleError('FAILED_PRECONDITION', 'build interrupted'));
  if (options.signal?.aborted) interrupt();
  options.signal?.addEventListener('abort', interrupt, { once: true });
  const runner = new StepRunner(store, snapshotter, { ...options, signal: stop.signal }, emit);
  const results = new Map<number, StageImage>();
  // each step key is made once per build: a stage reaching a key that another stage is making awaits it
  // (as BuildKit merges identical steps), so parallel stages give what one-by-one stages give
  const making = new Map<string, Promise<{ step: CachedStep; cached: boolean }>>();
  const once = (key: string, make: () => Promise<{ step: CachedStep; cached: boolean }>) => {
    const shared = making.get(key);
    if (shared) return shared.then((r) => ({ ...r, cached: true }));
    const p = make();
    making.set(key, p);
    return p;
  };
  let stepCount = 0; // step numbers are unique across the stages running at once

  const buildStage = async (stage: Stage): Promise<void> => {
    let image = await baseImage(store, stage, results);
    const steps = new StageSteps({ buildArgs: plan.buildArgs, baseConfig: image.config.config as ContainerConfig, escape: dockerfile.escape, file: dockerfile.file });
    emit({ type: 'step', step: ++stepCount, stage: stageLabel(stage), line: stage.from.line, text: stage.from.original.split('\n')[0]! });
    // ONBUILD triggers come from the base image, not from a line of this Dockerfile
    const sourceLine = (inst: Instruction): string | undefined => (stage.instructions.includes(inst) ? `${dockerfile.file}:${inst.line}` : undefined);
    const instructions: Instruction[] = [...steps.triggers.map((t) => parseTrigger(t, { file: dockerfile.file })), ...stage.instructions];
    for (const inst of instructions) {
      if (stop.signal.aborted) throw new ShaleError('FAILED_PRECONDITION', 'build interrupted');
      const prepared = steps.prepare(inst);
      const config = { ...image.config, author: steps.state.author ?? image.config.author, config: steps.state.config as Record<string, unknown> };
      image = { ...image, config };
      if (prepared.kind === 'metadata') {
        // cached too, so a rebuild keeps each entry's time and so the image ID
        const key = BuildCache.key(image.cacheKey, 'meta', JSON.stringify(prepared.history), JSON.stringify(steps.state.config));
        const { step: result } = await once(key, async () => {
          const hit = options.noCache ? undefined : await cache.get(key);
          const made = hit ?? { history: { created: createdNow(), ...prepared.history } };
          if (!hit) await cache.put(key, made);
          return { step: made, cached: !!hit };
        });
        image = applyStep(image, result, key, sourceLine(inst));
        continue;
      }
      const step = ++stepCount;
      emit({ type: 'step', step, stage: stageLabel(stage), line: inst.line, text: inst.original.split('\n')[0]! });
      const started = Date.now();
      const sources = prepared.kind === 'copy' ? await copySources(prepared, inst, context, results, plan.stages, store, runner, stage) : undefined;
      let result: CachedStep;
      let key: string;
      try {
        const sourceName = sources ? await sources.tree.sourceName(sources.list) : '';
        const history = prepared.kind === 'copy' ? prepared.history(sourceName) : prepared.history;
        // COPY/ADD flags change the files but not created_by: they are part of the key
        const copyFlags = inst.kind === 'COPY' || inst.kind === 'ADD' ? JSON.stringify([inst.chown, inst.chmod, inst.exclude, inst.link, inst.kind === 'COPY' && inst.parents]) : '';
        key = BuildCache.key(image.cacheKey, JSON.stringify(history.created_by), JSON.stringify(steps.state.config), options.network ?? 'host', sourceName, copyFlags);
        const made = await once(key, async () => {
          const cached = options.noCache ? undefined : await usableCache(store, cache, key);
          if (cached) return { step: cached, cached: true };
          const layer = await runner.execute(step, prepared, image, sources, steps.state.config);
          const entry = { created: createdNow(), ...history };
          const r: CachedStep = layer ? { layer, history: entry } : { history: { ...entry, empty_layer: true } };
          await cache.put(key, r);
          return { step: r, cached: false };
        });
        result = made.step;
        if (made.cached) emit({ type: 'cached', step });
      } finally {
        await sources?.release();
      }
      image = applyStep(image, result, key, sourceLine(inst));
      emit({ type: 'done', step, seconds: (Date.now() - started) / 1000, layerBytes: result.layer ? (await store.layerInfo(result.layer.descriptor.digest)).contentSize : undefined });
    }
    results.set(stage.index, image);
  };
  try {
    await runScheduled(plan.order, buildStage, { parallelism, controller: stop });
  } finally {
    options.signal?.removeEventListener('abort', interrupt);
  }

  const final = results.get(plan.target.index)!;
  const c = final.config;
  const containerConfig = toDockerConfigJson({ ...(c.config as ContainerConfig), Image: final.parentId ?? '' });
  const config: ImageConfig = {
    architecture: c.architecture,
    ...(c.author ? { author: c.author } : {}),
    config: containerConfig as Record<string, unknown>,
    // the last step's time: a fully cached rebuild gives the same image ID
    created: c.history?.[c.history.length - 1]?.created ?? createdNow(),
    history: c.history,
    os: c.os,
    rootfs: { type: 'layers', diff_ids: final.layers.map((l) => l.diffId) },
  };
  const tags = options.tags ?? [];
  const annotations = final.base ? { [BASE_NAME_ANNOTATION]: final.base.name, [BASE_DIGEST_ANNOTATION]: final.base.manifestDigest } : undefined;
  const { id, manifestDigest } = await putImage(store, config, final.layers.map((l) => l.descriptor), tags, annotations);
  emit({ type: 'image', id, tags });
  return { id, manifestDigest, tags };
}

async function baseImage(store: Store, stage: Stage, results: Map<number, StageImage>): Promise<StageImage> {
  if (stage.base.kind === 'scratch') return emptyImage();
  if (stage.base.kind === 'stage') return results.get(stage.base.index)!;
  try {
    return fromStoreImage((await store.resolve(stage.base.ref)).image, stage.base.ref);
  } catch (e) {
    if (e instanceof ShaleError && e.code === 'NOT_FOUND') {
      throw new ShaleError('NOT_FOUND', `${stage.from.line ? `Dockerfile:${stage.from.line}: ` : ''}FROM ${stage.base.ref}: image not found in the store`, {
        hint: 'make it with `shale import` or `shale load` first',
      });
    }
    throw e;
  }
}

const withHistory = (image: StageImage, h: History): StageImage => ({
  ...image,
  config: { ...image.config, history: [...(image.config.history ?? []), h] },
});

/**
 * Adds the step's history entry, its comment naming the Dockerfile line (`Dockerfile:7`) so analysis can
 * point at it. The line is not part of the cache key: a moved line reuses the step.
 */
function applyStep(image: StageImage, step: CachedStep, key: string, line: string | undefined): StageImage {
  const next = withHistory(image, line ? { ...step.history, comment: line } : step.history);
  return { ...next, layers: step.layer ? [...image.layers, step.layer] : image.layers, cacheKey: key };
}

/** A cached step whose layer is still in the store (a prune may have taken it). */
async function usableCache(store: Store, cache: BuildCache, key: string): Promise<CachedStep | undefined> {
  const hit = await cache.get(key);
  if (!hit) return undefined;
  if (hit.layer && !(await store.content.has(hit.layer.descriptor.digest))) return undefined;
  if (hit.layer) await store.lease([hit.layer.descriptor.digest]);
  return hit;
}

/** The sources of a COPY/ADD step, from the context, another stage or an image, with a release for snapshots. */
async function copySources(
  prepared: Extract<PreparedStep, { kind: 'copy' }>,
  raw: Instruction,
  context: SourceTree,
  results: Map<number, StageImage>,
  stages: Stage[],
  store: Store,
  runner: StepRunner,
  stage: Stage,
): Promise<{ tree: SourceTree; list: SourcePath[]; release: () => Promise<void> }> {
  const inst = prepared.instruction;
  let tree = context;
  let release = async () => undefined as void;
  // the plan keys COPY --from by the instruction as parsed, not as expanded
  const from = raw.kind === 'COPY' ? stage.copyFrom.get(raw) : undefined;
  if (from) {
    const image = from.kind === 'stage' ? results.get(from.index) : fromStoreImage((await store.resolve(from.ref)).image);
    if (!image) throw new ShaleError('FAILED_PRECONDITION', `COPY --from=${stageLabel(stages[(from as { index: number }).index]!)}: stage not built`);
    const view = await runner.view(image);
    tree = await SourceTree.rootfs(view.rootfs, `stage ${inst.kind === 'COPY' ? inst.from : ''}`);
    release = view.remove;
  }
  if (inst.sources.some((s) => /^https?:\/\//.test(s))) {
    throw new ShaleError('UNSUPPORTED', `Dockerfile:${inst.line}: ADD from a URL is not supported (no network fetch during builds)`, {
      hint: 'download the file into the build context and COPY it',
    });
  }
  let list: SourcePath[];
  try {
    list = await tree.resolve(inst.sources, { parents: inst.kind === 'COPY' && inst.parents, exclude: inst.exclude });
  } catch (e) {
    await release();
    throw e;
  }
  if (inst.heredocs.length > 0) {
    const dir = await mkdtemp(join(store.root, 'shale', 'tmp-heredoc-'));
    const prev = release;
    release = async () => {
      await prev();
      await rm(dir, { recursive: true, force: true });
    };
    for (const h of inst.heredocs) {
      await writeFile(join(dir, h.name), heredocBody(h));
      await chmod(join(dir, h.name), 0o644);
      list = [...list, { hostPath: join(dir, h.name), rel: h.name, inline: true }];
    }
  }
  return { tree, list, release };
}

/** Runs the steps that change files: each in a fresh snapshot over the image's layers. */
class StepRunner {
  private initRef?: Promise<LayerRef>;

  constructor(
    private readonly store: Store,
    private readonly snapshotter: () => Promise<Snapshotter>,
    private readonly options: BuildOptions,
    private readonly emit: BuildListener,
  ) {}

  private layerRefs(image: StageImage): LayerRef[] {
    return image.layers.map((l) => {
      const layer = this.store.layer(l.descriptor, l.diffId);
      return { diffId: l.diffId, open: () => layer.open() };
    });
  }

  private init(): Promise<LayerRef> {
    this.initRef ??= initLayer().then(({ diffId, bytes }) => ({ diffId, open: async function* () { yield bytes; } }));
    return this.initRef;
  }

  /** A read-only use of an image's root filesystem (COPY --from). */
  async view(image: StageImage): Promise<{ rootfs: string; remove: () => Promise<void> }> {
    const snap = await (await this.snapshotter()).prepare(`view-${randomBytes(6).toString('hex')}`, this.layerRefs(image));
    return { rootfs: snap.rootfs, remove: () => snap.remove() };
  }

  /** Executes one file-changing step; returns its layer, or undefined when it changed nothing. */
  async execute(
    step: number,
    prepared: Exclude<PreparedStep, { kind: 'metadata' }>,
    image: StageImage,
    sources: { tree: SourceTree; list: SourcePath[] } | undefined,
    config: ContainerConfig,
  ): Promise<{ descriptor: Descriptor; diffId: Digest } | undefined> {
    const lowers = this.layerRefs(image);
    if (prepared.kind === 'run') lowers.push(await this.init());
    const key = `build-${randomBytes(6).toString('hex')}`;
    const snap = await (await this.snapshotter()).prepare(key, lowers);
    try {
      if (prepared.kind === 'workdir') {
        await mkdir(await resolveInRoot(snap.rootfs, prepared.workingDir), { recursive: true, mode: 0o755 });
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
        if (inst.kind === 'COPY' && inst.parents) {
          // each source is a directory whose selected contents land below dest, paths kept
          for (const src of plain) await copyIntoRootfs(snap.rootfs, [src], dest, copyOptions);
        } else if (plain.length > 0) await copyIntoRootfs(snap.rootfs, plain, dest, copyOptions);
        for (const [i, src] of list.entries()) {
          if (!archives[i]) continue;
          // ADD of a local archive: its contents go into the destination directory
          const into = await resolveInRoot(snap.rootfs, dest);
          await mkdir(into, { recursive: true });
          await unpackLayer(decompress(createReadStream(src.hostPath), { what: `ADD ${src.rel}` }), into, { format: 'plain', what: `ADD ${src.rel}` });
        }
      } else {
        // each VOLUME is a directory in the RUN's layer, with an empty volume over it: writes there are dropped
        for (const volume of Object.keys(config.Volumes ?? {})) await mkdir(await resolveInRoot(snap.rootfs, volume), { recursive: true });
        await this.run(step, prepared, snap.rootfs, config);
      }
      const { descriptor, info } = await putLayer(this.store, snap.diff(), `step ${step} layer`);
      if (info.entries === 0) return undefined;
      await snap.commitAs?.(info.diffId);
      return { descriptor, diffId: info.diffId };
    } finally {
      await snap.remove();
    }
  }

  private async run(step: number, prepared: Extract<PreparedStep, { kind: 'run' }>, rootfs: string, config: ContainerConfig): Promise<void> {
    const id = `shale-${randomBytes(8).toString('hex')}`;
    const bundleDir = join(this.store.root, 'shale', 'bundles', id);
    await mkdir(bundleDir, { recursive: true });
    const network = prepared.instruction.network === 'none' ? 'none' : prepared.instruction.network === 'host' ? 'host' : (this.options.network ?? 'host');
    try {
      const binds: BindMount[] = [];
      await writeFile(join(bundleDir, 'hostname'), `${id.slice(6, 18)}\n`);
      binds.push({ source: join(bundleDir, 'hostname'), destination: '/etc/hostname', readonly: true });
      if (network === 'host') {
        for (const f of ['/etc/resolv.conf', '/etc/hosts']) {
          if (await lstat(f).then(() => true, () => false)) binds.push({ source: f, destination: f, readonly: true });
        }
      }
      for (const [i, volume] of Object.keys(config.Volumes ?? {}).entries()) {
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
      const spec = makeRuntimeSpec({
        rootfs,
        args: prepared.argv,
        env: prepared.env,
        cwd: config.WorkingDir || '/',
        user,
        hostname: id.slice(6, 18),
        network,
        binds,
      });
      const output: Buffer[] = [];
      const { exitCode } = await runcRun({
        stateRoot: join(this.store.root, 'shale', 'runc'),
        bundleDir,
        id,
        spec,
        stdio: 'pipe',
        signal: this.options.signal,
        onOutput: (chunk) => {
          output.push(chunk);
          this.emit({ type: 'output', step, data: chunk.toString('utf8') });
        },
      });
      if (this.options.signal?.aborted) throw new ShaleError('FAILED_PRECONDITION', 'build interrupted');
      if (exitCode !== 0) {
        const message = `Dockerfile:${prepared.instruction.line}: RUN ${prepared.argv.join(' ')} returned a non-zero code: ${exitCode}`;
        this.emit({ type: 'failed', step, message, output: Buffer.concat(output).toString('utf8') });
        throw new ShaleError('COMMAND_FAILED', message);
      }
    } finally {
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
