import { readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { MergedTree, TreeNode } from '../layer/index.js';
import { ShaleError } from '../internal/errors.js';
import { normalizeReference, type Digest } from '../oci/index.js';
import { Containers } from '../runtime/index.js';
import { discardImage, findBaseLayers, putImage, putLayer, tagImage, type Store } from '../store/index.js';
import { keepLoaderNeeds, keepPath, KeptPaths } from './kept-paths.js';
import { checkTracer, outcomeDifference, probeFailure, probeLabel, runProbe, type Probe, type ProbeOutcome } from './minify-probes.js';
import type { TouchedPath } from './strace-trace.js';
import { squashLayersTar } from './squash-changes.js';
import { squashedConfig } from './squash-image.js';

export interface MinifyOptions {
  tag: string;
  /** At least one. */
  probes: Probe[];
  /** Per probe run. */
  timeoutMs: number;
  /** Keep the base layers as they are and rewrite only the layers above them (else one layer from scratch). */
  keepBase?: boolean;
  /** Container paths kept whatever the probes did (a directory with everything below it). */
  include?: string[];
  /** Container paths (and everything below) left out whatever the probes did. */
  exclude?: string[];
  /** Progress lines for people. */
  onProgress?: (line: string) => void;
}

/** One kept path of the result and why it is kept. */
export interface KeptEntry {
  path: string;
  type: string;
  size: number;
  /**
   * `probe N: ...`, `loader`, `include`, `runtime` (read by the runtime before the container starts: the
   * user databases, the working directory), `base` (a layer kept as it is), or `parent` (a directory above a kept path).
   */
  reasons: string[];
  /** How the probes touched the path itself: exec, open, stat, readlink, access, list, chdir, other. */
  accesses?: string[];
}

export interface MinifyResult {
  id: Digest;
  ref: string;
  mode: 'from-scratch' | 'keep-base';
  keptBaseLayers: number;
  before: { sizeBytes: number; layers: number };
  after: { sizeBytes: number; layers: number };
  savedBytes: number;
  /** Bytes a pull of the result transfers when the kept base layers are already there (the new layer's). */
  newLayerBytes: number;
  probes: { probe: string; original: ProbeOutcome; minified: ProbeOutcome }[];
  kept: KeptEntry[];
}

/** Fails with exit status 1: the minified image does not behave as the original; nothing was tagged. */
export class MinifyVerificationError extends ShaleError {
  constructor(message: string) {
    super('COMMAND_FAILED', message, { exitCode: 1, hint: 'the original image is unchanged; keep the missing path with --include PATH' });
  }
}

/**
 * `minify`: runs every probe on the image under the tracer and keeps what they touched (with symlink
 * chains, the directories above and what the loader needs), writes the minified image, runs the probes
 * again on it and tags it only when each gives the original's stdout and exit status (HTTP status and
 * body). A failure takes the new image back out of the store.
 */
export async function minifyImage(store: Store, spec: string, o: MinifyOptions): Promise<MinifyResult> {
  const ref = normalizeReference(o.tag);
  if (ref.includes('@')) throw new ShaleError('INVALID_ARGUMENT', `cannot tag with a digest reference "${o.tag}"`);
  if (o.probes.length === 0) throw new ShaleError('INVALID_ARGUMENT', 'minify needs at least one probe');
  for (const p of [...(o.include ?? []), ...(o.exclude ?? [])]) {
    if (!p.startsWith('/')) throw new ShaleError('INVALID_ARGUMENT', `--include and --exclude take absolute container paths: "${p}"`);
  }
  for (const p of o.probes) {
    if (p.kind === 'script' && !(await stat(p.file).then((s) => s.isFile(), () => false))) throw new ShaleError('NOT_FOUND', `probe script ${p.file} does not exist or is not a file`);
  }
  checkTracer();
  const { image } = await store.resolve(spec);
  const keptLayers = o.keepBase ? await findBaseLayers([store], image) : 0;
  if (o.keepBase && keptLayers === 0) {
    throw new ShaleError('FAILED_PRECONDITION', `no base image of ${spec} is in the store`, { hint: 'keep-base needs the image it was built FROM in the store; or minify --from-scratch' });
  }
  const containers = new Containers(store);
  const scratchDir = await store.scratchRoot();

  const runConfig = (image.config.config ?? {}) as { Env?: string[]; WorkingDir?: string };
  const env = runConfig.Env ?? [];
  const workdir = runConfig.WorkingDir || '/';
  const libraryPath = (env.find((e) => e.startsWith('LD_LIBRARY_PATH='))?.slice('LD_LIBRARY_PATH='.length) ?? '').split(':').filter((d) => d.startsWith('/'));
  // each probe's touched paths, then all of them resolved in one pristine root filesystem of the image
  // (not the probe's container, where a probe may have deleted or replaced what it used)
  const touched: { reason: string; paths: TouchedPath[] }[] = [];
  const originals: ProbeOutcome[] = [];
  for (const [i, probe] of o.probes.entries()) {
    const reason = `probe ${i + 1}: ${probeLabel(probe)}`;
    o.onProgress?.(`tracing ${reason}`);
    const outcome = await runProbe(containers, image.id, probe, { timeoutMs: o.timeoutMs, scratchDir, workdir, onTrace: (paths) => touched.push({ reason, paths }) }).catch((e: unknown) => {
      // a probe that cannot run on the original is the caller's mistake (exit 2), whatever status its cause had
      if (e instanceof ShaleError && e.code !== 'FAILED_PRECONDITION') throw new ShaleError('FAILED_PRECONDITION', e.message.startsWith('probe ') ? `${e.message} (on the original image ${spec})` : `probe ${probeLabel(probe)} fails on the original image ${spec}: ${e.message}`, { hint: e.hint });
      throw e;
    });
    const failure = probeFailure(probe, outcome);
    if (failure) throw new ShaleError('FAILED_PRECONDITION', `probe ${probeLabel(probe)} fails on the original image ${spec}: ${failure}`, { hint: 'a probe must pass on the original image' });
    // the kernel runs a script's #! interpreter without a call the tracer sees (the script itself is bound in)
    const interpreter = probe.kind === 'script' ? await scriptInterpreter(probe.file) : undefined;
    if (interpreter) touched.push({ reason, paths: [{ path: interpreter, accesses: ['exec'] }] });
    originals.push(outcome);
  }
  const kept = new KeptPaths();
  const includeRoots = new Set<string>();
  await containers.withImageRootfs(image.id, async (rootfs) => {
    for (const { reason, paths } of touched) {
      for (const t of paths) if (await keepPath(rootfs, kept, t.path, reason)) kept.noteAccess(t.path, t.accesses);
    }
    // what the runtime reads before the container's process exists: the user and group databases (USER and
    // the groups of the user), and the working directory
    for (const p of ['/etc/passwd', '/etc/group', workdir]) await keepPath(rootfs, kept, p, 'runtime');
    for (const p of o.include ?? []) {
      const end = await keepPath(rootfs, kept, p, 'include');
      if (end) includeRoots.add(end.slice(1));
    }
    await keepLoaderNeeds(rootfs, kept, { libraryPath });
  });

  const excluded = (o.exclude ?? []).map((p) => posix.normalize(p).replace(/^\/+|\/+$/g, ''));
  const report: KeptEntry[] = [];
  const select = (full: MergedTree) => {
    pruneTree(full.root, '', {
      keep: (path) => kept.has(`/${path}`) || [...includeRoots].some((r) => r === '' || path === r || path.startsWith(`${r}/`)),
      excluded: (path) => excluded.some((x) => x === '' || path === x || path.startsWith(`${x}/`)),
      keptLayers,
    });
    for (const { path, node } of full.walk()) {
      const reasons = [...(kept.reasons.get(`/${path}`) ?? [])];
      if (reasons.length === 0) reasons.push(node.src && node.src.layer < keptLayers ? 'base' : 'parent');
      const accesses = kept.accesses.get(`/${path}`);
      report.push({ path: `/${path}`, type: node.type, size: node.size, reasons, ...(accesses ? { accesses: [...accesses] } : {}) });
    }
  };
  o.onProgress?.('writing the minified layer');
  const { descriptor, info } = await putLayer(store, squashLayersTar(image.layers, keptLayers, { scratchDir, select }), `minified layer of ${image.id}`);
  const config = squashedConfig(image.config, keptLayers, info.diffId);
  config.history?.splice(-1, 1, { ...config.history.at(-1)!, created_by: `shale minify${keptLayers > 0 ? ` of layers ${keptLayers}-${image.layers.length - 1}` : ''}` });
  const layers = [...image.manifest.layers.slice(0, keptLayers), descriptor];
  const { id, manifestDigest } = await putImage(store, config, layers, []);

  const probes: MinifyResult['probes'] = [];
  try {
    for (const [i, probe] of o.probes.entries()) {
      o.onProgress?.(`verifying probe ${i + 1}: ${probeLabel(probe)}`);
      let minified: ProbeOutcome;
      try {
        minified = await runProbe(containers, id, probe, { timeoutMs: o.timeoutMs, scratchDir });
      } catch (e) {
        throw new MinifyVerificationError(`verification failed: probe ${probeLabel(probe)} on the minified image: ${e instanceof Error ? e.message : String(e)}`);
      }
      const difference = outcomeDifference(originals[i]!, minified);
      if (difference) throw new MinifyVerificationError(`verification failed: probe ${probeLabel(probe)} on the minified image: ${difference}${minified.stderrTail ? ` (its stderr ends: ${minified.stderrTail})` : ''}`);
      probes.push({ probe: probeLabel(probe), original: originals[i]!, minified });
    }
  } catch (e) {
    await discardImage(store, manifestDigest, [manifestDigest, id, descriptor.digest]);
    throw e;
  }
  await tagImage(store, id, ref);

  const sizeOf = async (d: Digest) => (await store.layerInfo(d)).contentSize;
  let beforeBytes = 0;
  for (const l of image.layers) beforeBytes += await sizeOf(l.descriptor.digest);
  let afterBytes = info.contentSize;
  for (const l of layers.slice(0, keptLayers)) afterBytes += await sizeOf(l.digest);
  return {
    id,
    ref,
    mode: o.keepBase ? 'keep-base' : 'from-scratch',
    keptBaseLayers: keptLayers,
    before: { sizeBytes: beforeBytes, layers: image.layers.length },
    after: { sizeBytes: afterBytes, layers: layers.length },
    savedBytes: beforeBytes - afterBytes,
    newLayerBytes: descriptor.size,
    probes,
    kept: report,
  };
}

/** The absolute interpreter of a script's `#!` line, if it has one. */
async function scriptInterpreter(file: string): Promise<string | undefined> {
  const first = (await readFile(file, 'utf8')).split('\n')[0]!;
  const word = first.startsWith('#!') ? first.slice(2).trim().split(/\s+/)[0] : undefined;
  return word?.startsWith('/') ? word : undefined;
}

interface PruneRules {
  keep: (path: string) => boolean;
  excluded: (path: string) => boolean;
  /** Entries of the layers below this index stay (a kept base) unless excluded. */
  keptLayers: number;
}

/**
 * Removes from a merged tree what the minified image leaves out: entries neither kept nor of the kept
 * base, excluded paths with everything below, and directories left empty that nothing keeps.
 */
function pruneTree(node: TreeNode, path: string, rules: PruneRules): boolean {
  for (const [name, child] of node.children ?? []) {
    const p = path === '' ? name : `${path}/${name}`;
    if (!pruneTree(child, p, rules)) node.children!.delete(name);
  }
  if (path === '') return true;
  if (rules.excluded(path)) return false;
  if (rules.keep(path) || (node.src !== undefined && node.src.layer < rules.keptLayers)) return true;
  return (node.children?.size ?? 0) > 0;
}
