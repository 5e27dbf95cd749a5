import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION, normalizeReference, type Digest, type History, type ImageConfig, type PlatformSpec } from '../oci/index.js';
import { findBaseImage, type BaseLookup, type BasePuller } from './base-images.js';
import { buildPlatforms, requireRunnable, stagePlatform } from './build-platforms.js';
import { createdNow, type Image } from '../image/index.js';
import { putImage, writeBuildLines, type Store } from '../store/index.js';
import { chooseSnapshotter, cleanupStale, KeptLayers, type Snapshotter, type SnapshotterPreference } from '../snapshot/index.js';
import { parseDockerfile, parseTrigger } from '../dockerfile/dockerfile.js';
import type { BuildArgValues } from '../dockerfile/expand.js';
import { planBuild, stageLabel, type Stage } from '../dockerfile/plan.js';
import { StageSteps, type PreparedStep } from '../dockerfile/stage-steps.js';
import { toDockerConfigJson, type ContainerConfig } from '../dockerfile/apply-instruction.js';
import { fillBuildkitCreated, toBuildkitConfigJson, type BuildMode } from '../dockerfile/buildkit-output.js';
import { BuildCache, type CachedStep } from './build-cache.js';
import { LayerStorer, type BuildLayer, type StoredLayer } from './layer-storer.js';
import { cacheArtifact, cacheRecords, type CacheTarget, type MadeStep } from './cache-export.js';
import { ImportedCache, type CacheSource } from './cache-import.js';
import { sourceDateEpoch, stampCreated } from './source-date-epoch.js';
import { runScheduled, stageParallelism } from './stage-scheduler.js';
import { SourceTree } from './build-context.js';
import { type SourcePath } from './copy-files.js';
import { copyFromSourceName } from './copy-from-key.js';
import type { BuildListener } from './build-progress.js';
import type { Instruction } from '../dockerfile/instructions.js';
import { heredocBody } from '../dockerfile/instructions.js';
import { parseRunMounts, type RunMount } from '../dockerfile/run-mount.js';
import { expandWord } from '../dockerfile/shell-lexer.js';
import { BuildSecrets } from './build-secrets.js';
import { mountsCacheKey, type RunMountInputs } from './run-mounts.js';
import { StepRunner } from './step-runner.js';

export interface BuildOptions {
  contextDir: string;
  /** The Dockerfile; `<context>/Dockerfile` when absent. */
  dockerfile?: string;
  /** The Dockerfile's text, when it was not read from a file (`-f -`); `dockerfile` then only names it. */
  dockerfileText?: string;
  /** `--label K=V`: set in the final image's config over the Dockerfile's LABELs. */
  labels?: Record<string, string>;
  tags?: string[];
  buildArgs?: BuildArgValues;
  target?: string;
  noCache?: boolean;
  network?: 'host' | 'none';
  snapshotter?: SnapshotterPreference;
  onEvent?: BuildListener;
  signal?: AbortSignal;
  /** The classic builder's output (Docker 20.10) instead of BuildKit's. */
  classic?: boolean;
  /** `--secret` and `--ssh`, for RUN --mount=type=secret|ssh. */
  secrets?: BuildSecrets;
  /** `--platform`: the target platform (default: this machine's); the config's os/architecture/variant follow it. */
  platform?: string;
  /** `--pull`: FROM images are pulled again even when stored. */
  pull?: boolean;
  /** Pulls a FROM image the store lacks for the platform (the CLI's registry pull); absent, that is an error. */
  pullBase?: BasePuller;
  /** How many stages run at once; SHALE_BUILD_PARALLELISM, else the CPU count (`stageParallelism`). */
  parallelism?: number;
  /** `--cache-from`: caches other builds exported, used where the local cache has no step. */
  cacheFrom?: CacheSource[];
  /** `--cache-to`: where this build's steps go, written before the image (a failure fails the build). */
  cacheTo?: CacheTarget[];
  /** Non-fatal problems (an imported layer refused): one line each. */
  warn?: (message: string) => void;
}

export interface BuildResult {
  id: Digest;
  manifestDigest: Digest;
  tags: string[];
}

/** A stage's image as the build goes: config, layers and the cache key of everything so far. */
interface StageImage {
  config: ImageConfig;
  layers: BuildLayer[];
  cacheKey: string;
  /** The image ID of the base (for the config's `Image` field). */
  parentId?: string;
  /** The store image the stage's chain of FROMs starts at: recorded as the manifest's base annotations. */
  base?: { name: string; manifestDigest: Digest };
  /** The Dockerfile line of each history entry this build added, by history index. */
  lines: Map<number, string>;
  /** How many history entries come from the store image the chain starts at (SOURCE_DATE_EPOCH keeps their times). */
  baseEntries: number;
}

const emptyImage = (platform: PlatformSpec): StageImage => ({
  config: { ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
  layers: [],
  cacheKey: 'scratch',
  lines: new Map(),
  baseEntries: 0,
});

const fromStoreImage = (image: Image, ref?: string): StageImage => ({
  base: ref ? { name: normalizeReference(ref), manifestDigest: image.manifestDigest } : undefined,
  config: image.config,
  layers: image.layers.map((l) => ({ descriptor: l.descriptor, diffId: l.diffId })),
  cacheKey: image.id,
  parentId: image.id,
  lines: new Map(),
  baseEntries: image.config.history?.length ?? 0,
});

/**
 * Builds a Dockerfile as `docker build` does (BuildKit's output; with `classic`, the classic builder's):
 * each RUN runs in runc over a snapshot of the image so far, each RUN/COPY/ADD/WORKDIR becomes one layer
 * (classic: only when it changes files), metadata instructions become empty-layer history entries; only
 * the stages the target needs are built, each once the stages it depends on are done, independent ones at
 * the same time (`runScheduled`; the first failure stops the others); steps are reused from the cache when
 * their parent chain, instruction and sources are the same, and a step that another stage of this build is
 * already making is awaited, not made twice. Each entry's Dockerfile line is kept beside the image.
 */
export async function buildImage(store: Store, options: BuildOptions): Promise<BuildResult> {
  const emit = options.onEvent ?? (() => undefined);
  const dockerfilePath = options.dockerfile ?? join(options.contextDir, 'Dockerfile');
  const epoch = sourceDateEpoch(options.buildArgs);
  const text = options.dockerfileText ?? await readFile(dockerfilePath, 'utf8').catch(() => {
    throw new ShaleError('NOT_FOUND', `Dockerfile ${dockerfilePath} not found`);
  });
  const dockerfile = parseDockerfile(text, { file: posix.basename(dockerfilePath) });
  const platforms = buildPlatforms(options.platform);
  // the classic builder (Docker 20.10) defines no automatic platform ARGs
  const plan = planBuild(dockerfile, { target: options.target, buildArgs: options.buildArgs, platforms: options.classic ? undefined : platforms });
  const bases = { puller: options.pullBase, always: options.pull };
  const stagePlatforms = new Map<number, PlatformSpec>();
  const parallelism = options.parallelism ?? stageParallelism();
  const context = await SourceTree.context(options.contextDir);
  // chosen on first use: a fully cached build never mounts anything
  let chosen: Promise<Snapshotter> | undefined;
  const snapshotsRoot = join(store.root, 'shale', 'snapshots');
  const snapshotter = () =>
    (chosen ??= cleanupStale(snapshotsRoot).then(() => chooseSnapshotter(snapshotsRoot, options.snapshotter ?? 'auto')));
  const cache = new BuildCache(join(store.root, 'shale', 'build-cache'));
  const mode: BuildMode = options.classic ? 'classic' : 'buildkit';
  // aborted by Ctrl-C or by the first failing stage: the other stages' steps stop
  const stop = new AbortController();
  const interrupt = () => stop.abort(new ShaleError('FAILED_PRECONDITION', 'build interrupted'));
  if (options.signal?.aborted) interrupt();
  options.signal?.addEventListener('abort', interrupt, { once: true });
  const kept = new KeptLayers(snapshotsRoot);
  const imported = options.cacheFrom?.length ? new ImportedCache(store, cache, options.cacheFrom, options.warn ?? (() => undefined)) : undefined;
  const storer = new LayerStorer(store, kept, cache, imported);
  // every step made or reused, for --cache-to
  const made: MadeStep[] = [];
  // the stages the image is made of (the target and the stages it is FROM): their layers are tarred while the build goes on
  const imageStages = new Set<number>();
  for (let s: Stage | undefined = plan.target; s; s = s.base.kind === 'stage' ? plan.stages[s.base.index] : undefined) imageStages.add(s.index);
  const runner = new StepRunner(store, snapshotter, kept, storer, { ...options, signal: stop.signal }, emit, mode);
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
  const usedCaches = new Set<string>(); // the cache mounts RUN steps of this build opened

  const buildStage = async (stage: Stage): Promise<void> => {
    // a stage on another stage runs that stage's programs: its platform unless FROM --platform says otherwise
    const inherited = stage.base.kind === 'stage' && !stage.platform ? stagePlatforms.get(stage.base.index) : undefined;
    const platform = inherited ?? stagePlatform(stage, platforms.target, dockerfile.file);
    stagePlatforms.set(stage.index, platform);
    let image = await baseImage(store, stage, results, platform, platforms.target, { ...bases, what: `${dockerfile.file}:${stage.from.line}: FROM ${stage.image}` });
    const baseConfig = stage.base.kind === 'scratch' ? undefined : (image.config.config as ContainerConfig);
    const steps = new StageSteps({ buildArgs: plan.buildArgs, baseConfig, escape: dockerfile.escape, file: dockerfile.file, mode });
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
        if (!prepared.history) continue;
        // classic: cached too, so a rebuild keeps each entry's time and so the image ID (BuildKit's
        // entries take their time from the layers around them at the end)
        const key = BuildCache.key(image.cacheKey, 'meta', JSON.stringify(prepared.history), JSON.stringify(steps.state.config));
        const entry = prepared.history;
        const { step: result } = await once(key, async () => {
          const hit = options.noCache || mode === 'buildkit' ? undefined : await cache.get(key);
          const made = hit ?? { history: mode === 'buildkit' ? entry : { created: createdNow(), ...entry } };
          if (!hit && mode === 'classic') await cache.put(key, made);
          return { step: made, cached: !!hit };
        });
        if (mode === 'classic') made.push({ key, stage: stage.index, step: result });
        image = applyStep(image, result, key, sourceLine(inst));
        continue;
      }
      const step = ++stepCount;
      emit({ type: 'step', step, stage: stageLabel(stage), line: inst.line, text: inst.original.split('\n')[0]! });
      const started = Date.now();
      // a BuildKit COPY --from is keyed by its source's key: the source is mounted only when the step runs
      const fromName = prepared.kind === 'copy' ? copyFromSourceName(prepared.instruction, mode, await copyFromKey(inst, stage, results, store)) : undefined;
      const readSources = () => copySources(prepared as Extract<PreparedStep, { kind: 'copy' }>, inst, context, results, plan.stages, store, runner, stage, mode);
      let sources = prepared.kind === 'copy' && fromName === undefined ? await readSources() : undefined;
      let result: CachedStep;
      let key: string;
      const mounts = inst.kind === 'RUN' && inst.mounts.length > 0 ? runMountsOf(inst, steps, dockerfile.file, dockerfile.escape) : [];
      const mountInputs = mountInputsFor(store, context, options, results, stage, runner, `${dockerfile.file}:${inst.line}`, usedCaches);
      try {
        const sourceName = fromName ?? (sources ? await sources.tree.sourceName(sources.list) : '');
        const history = prepared.kind === 'copy' ? prepared.history(sourceName) : prepared.history;
        // COPY/ADD flags and a RUN's mounts change the files but not created_by: they are part of the key
        const copyFlags = inst.kind === 'COPY' || inst.kind === 'ADD' ? JSON.stringify([inst.chown, inst.chmod, inst.exclude, inst.link, inst.kind === 'COPY' && inst.parents]) : await mountsCacheKey(mounts, mountInputs);
        key = BuildCache.key(image.cacheKey, mode, JSON.stringify(history.created_by), JSON.stringify(steps.state.config), options.network ?? 'host', sourceName, copyFlags);
        // an imported step whose blob is refused runs later, over the image as it is here
        const before = image;
        const stepConfig = structuredClone(steps.state.config);
        const rerun = async () => {
          const s = prepared.kind === 'copy' ? await readSources() : undefined;
          try {
            return await runner.execute(step, prepared, before, s, stepConfig, { mounts, inputs: mountInputs });
          } finally {
            await s?.release();
          }
        };
        const outcome = await once(key, async () => {
          const cached = options.noCache ? undefined : (await usableCache(store, kept, cache, key)) ?? imported?.lookup(key, rerun);
          if (cached) return { step: cached, cached: true };
          if (prepared.kind === 'run') await requireRunnable(platform, `${dockerfile.file}:${inst.line}`);
          if (fromName !== undefined) sources = await readSources();
          const layer = await runner.execute(step, prepared, image, sources, steps.state.config, { mounts, inputs: mountInputs });
          const entry = { created: createdNow(), ...history };
          const r: CachedStep = !layer ? { history: { ...entry, empty_layer: true } } : 'kept' in layer ? { kept: layer.kept, history: entry } : { layer, history: entry };
          await cache.put(key, r);
          return { step: r, cached: false };
        });
        result = outcome.step;
        if (outcome.cached) emit({ type: 'cached', step });
      } finally {
        await sources?.release();
      }
      made.push({ key, stage: stage.index, step: result });
      image = applyStep(image, result, key, sourceLine(inst));
      if (result.kept && imageStages.has(stage.index)) storer.start({ kept: result.kept, key });
      // an imported layer not downloaded (yet): its blob's size
      const layerBytes = result.layer && 'remoteKey' in result.layer ? result.layer.descriptor.size : result.layer ? (await store.layerInfo(result.layer.descriptor.digest)).contentSize : result.kept ? await kept.contentSize(result.kept) : undefined;
      emit({ type: 'done', step, seconds: (Date.now() - started) / 1000, layerBytes });
    }
    results.set(stage.index, image);
  };
  let final: Omit<StageImage, 'layers'> & { layers: StoredLayer[] };
  const exports: { target: CacheTarget; records: Awaited<ReturnType<typeof cacheRecords>> }[] = [];
  try {
    await runScheduled(plan.order, buildStage, { parallelism, controller: stop });
    const target = results.get(plan.target.index)!;
    final = { ...target, layers: await storer.stored(target.layers) };
    for (const to of options.cacheTo ?? []) exports.push({ target: to, records: await cacheRecords(made, to.mode, imageStages, storer) });
  } finally {
    options.signal?.removeEventListener('abort', interrupt);
    await storer.close();
  }

  const c = final.config;
  const history = mode === 'buildkit' ? fillBuildkitCreated(c.history ?? []) : c.history;
  const labels = options.labels && Object.keys(options.labels).length > 0 ? { Labels: { ...(c.config as ContainerConfig).Labels, ...options.labels } } : {};
  const stageConfig = { ...(c.config as ContainerConfig), ...labels };
  const containerConfig = mode === 'buildkit' ? toBuildkitConfigJson(stageConfig) : toDockerConfigJson({ ...stageConfig, Image: final.parentId ?? '' });
  // BuildKit: with --platform the config names the target platform; without, the stage's base image's
  const p = options.platform !== undefined ? platforms.target : { os: c.os, architecture: c.architecture, variant: c.variant };
  const built: ImageConfig = {
    architecture: p.architecture,
    ...(c.author ? { author: c.author } : {}),
    config: containerConfig as Record<string, unknown>,
    // the last step's time: a fully cached rebuild gives the same image ID
    created: history?.[history.length - 1]?.created ?? createdNow(),
    history,
    os: p.os,
    rootfs: { type: 'layers', diff_ids: final.layers.map((l) => l.diffId) },
    ...(p.variant ? { variant: p.variant } : {}),
  };
  const config = epoch === undefined ? built : stampCreated(built, final.baseEntries, epoch);
  const tags = options.tags ?? [];
  const annotations = final.base ? { [BASE_NAME_ANNOTATION]: final.base.name, [BASE_DIGEST_ANNOTATION]: final.base.manifestDigest } : undefined;
  // as buildx: the cache is exported before the image is written, and a failed export fails the build
  for (const e of exports) await e.target.write(await cacheArtifact(store, e.records, e.target.mode, [...usedCaches].sort()));
  const { id, manifestDigest } = await putImage(store, config, final.layers.map((l) => l.descriptor), tags, annotations);
  await writeBuildLines(store, id, (history ?? []).map((_, i) => final.lines.get(i) ?? null));
  emit({ type: 'image', id, tags });
  return { id, manifestDigest, tags };
}

/** A RUN's `--mount` specs, expanded with the step's ARGs and ENV, relative targets below its WORKDIR. */
function runMountsOf(inst: Extract<Instruction, { kind: 'RUN' }>, steps: StageSteps, file: string, escape: '\\' | '`'): RunMount[] {
  const lookup = steps.args.lookup(steps.state.config.Env ?? []);
  return parseRunMounts(inst.mounts, { file, line: inst.line }, { expand: (w) => expandWord(w, lookup, escape), workdir: steps.state.config.WorkingDir || '/' });
}

/** What RUN --mount reads: the context, the secrets, and the stage or image a `from=` names. */
function mountInputsFor(store: Store, context: SourceTree, options: BuildOptions, results: Map<number, StageImage>, stage: Stage, runner: StepRunner, where: string, usedCaches: Set<string>): RunMountInputs {
  const imageOf = async (from: string): Promise<StageImage> => {
    const source = stage.mountFrom.get(from) ?? { kind: 'image' as const, ref: from };
    if (source.kind === 'stage') return results.get(source.index)!;
    return fromStoreImage((await store.resolve(source.ref)).image);
  };
  return {
    storeRoot: store.root,
    usedCaches,
    context,
    secrets: options.secrets ?? new BuildSecrets(),
    where,
    sourceKey: async (from) => (await imageOf(from)).cacheKey,
    source: async (from) => {
      const image = await imageOf(from);
      const view = await runner.view(image);
      return { rootfs: view.rootfs, remove: view.remove };
    },
  };
}

/** A stage's base for `platform` (its FROM --platform, else the target); scratch is the target platform's (as BuildKit). */
async function baseImage(store: Store, stage: Stage, results: Map<number, StageImage>, platform: PlatformSpec, target: PlatformSpec, lookup: BaseLookup): Promise<StageImage> {
  if (stage.base.kind === 'scratch') return emptyImage(target);
  if (stage.base.kind === 'stage') return results.get(stage.base.index)!;
  return fromStoreImage(await findBaseImage(store, stage.base.ref, platform, lookup), stage.base.ref);
}

const withHistory = (image: StageImage, h: History): StageImage => ({
  ...image,
  config: { ...image.config, history: [...(image.config.history ?? []), h] },
});

/**
 * Adds the step's history entry and notes its Dockerfile line (`Dockerfile:7`) so analysis can point at
 * it. The line is not part of the cache key: a moved line reuses the step.
 */
function applyStep(image: StageImage, step: CachedStep, key: string, line: string | undefined): StageImage {
  const next = withHistory(image, step.history);
  const lines = new Map(image.lines);
  if (line) lines.set((next.config.history ?? []).length - 1, line);
  const layer: BuildLayer | undefined = step.layer ?? (step.kept ? { kept: step.kept, key } : undefined);
  return { ...next, layers: layer ? [...image.layers, layer] : image.layers, cacheKey: key, lines };
}

/** A cached step whose layer is still there, as a blob or kept (a prune may have taken either). */
async function usableCache(store: Store, kept: KeptLayers, cache: BuildCache, key: string): Promise<CachedStep | undefined> {
  const hit = await cache.get(key);
  if (!hit) return undefined;
  if (hit.layer && (await store.content.has(hit.layer.descriptor.digest))) {
    await store.lease([hit.layer.descriptor.digest]);
    return { history: hit.history, layer: hit.layer };
  }
  if (hit.kept && (await kept.has(hit.kept))) return { history: hit.history, kept: hit.kept };
  return hit.layer || hit.kept ? undefined : hit;
}

/** The key of the stage or image a COPY --from reads (undefined for COPY from the context). */
async function copyFromKey(raw: Instruction, stage: Stage, results: Map<number, StageImage>, store: Store): Promise<string | undefined> {
  const from = raw.kind === 'COPY' ? stage.copyFrom.get(raw) : undefined;
  if (!from) return undefined;
  if (from.kind === 'stage') return results.get(from.index)?.cacheKey;
  return (await store.resolve(from.ref)).image.id;
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
  mode: BuildMode,
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
    list = await tree.resolve(inst.sources, { parents: inst.kind === 'COPY' && inst.parents, exclude: inst.exclude, allowEmptyWildcard: mode === 'buildkit' });
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
