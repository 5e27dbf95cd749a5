import { buildImage, progressStatusLine, BuildSecrets, type BuildEvent } from '../build/index.js';
import { parseBuildArgList } from '../dockerfile/index.js';
import { humanSize } from '../report/index.js';
import type { Store } from '../store/index.js';
import type { CommandResult } from './output.js';
import { basePuller } from './registry-commands.js';
import { buildResults } from './build-outputs.js';
import { buildInput, type BuildInput } from './build-stdin.js';
import { openCacheTransfer, parseCacheSpec, type BuildCacheTransfer } from './build-cache-transfer.js';

export interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  noCache?: boolean;
  network: 'host' | 'none';
  progress: 'auto' | 'plain' | 'json';
  quiet?: boolean;
  snapshotter: 'auto' | 'overlayfs' | 'copy';
  classic?: boolean;
  secret?: string[];
  ssh?: string[];
  platform?: string;
  pull?: boolean;
  label: string[];
  output: string[];
  iidfile?: string;
  metadataFile?: string;
  cacheTo?: string[];
  cacheFrom?: string[];
}

/**
 * A live view for a terminal: the running step (the latest started, when stages run at once) stays on the
 * last line with its elapsed time ticking; finished steps and RUN output scroll above it.
 */
function liveRenderer(): { render: (e: BuildEvent) => void; close: () => void } {
  const out = process.stderr;
  // by step; a stage runs one step at a time, so a stage's new step ends its last (a FROM has no DONE)
  type Running = { step: number; stage: string; text: string; started: number };
  const running = new Map<number, Running>();
  let current: Running | undefined;
  const status = () => (current ? progressStatusLine(current.step, current.text, (Date.now() - current.started) / 1000, out.columns) : '');
  const redraw = () => out.write(`\r\x1b[2K${status()}`);
  const above = (line: string) => out.write(`\r\x1b[2K${line}\n${status()}`);
  const timer = setInterval(redraw, 100);
  timer.unref();
  return {
    render: (e) => {
      switch (e.type) {
        case 'step':
          for (const r of running.values()) if (r.stage === e.stage) running.delete(r.step);
          current = { step: e.step, stage: e.stage, text: `[${e.stage}] ${e.text}`, started: Date.now() };
          running.set(e.step, current);
          redraw();
          break;
        case 'output':
          for (const line of e.data.split('\n').filter((l) => l !== '')) above(`#${e.step} | ${line}`);
          break;
        case 'cached':
        case 'done':
        case 'failed': {
          const text = running.get(e.step)?.text ?? '';
          const tail = e.type === 'cached' ? 'CACHED' : e.type === 'failed' ? 'FAILED' : `DONE ${e.seconds.toFixed(1)}s${e.layerBytes !== undefined ? `, layer ${humanSize(e.layerBytes)}` : ''}`;
          if (e.type !== 'cached') {
            running.delete(e.step);
            current = [...running.values()].pop();
          }
          if (e.type !== 'cached') above(`#${e.step} ${text} ${tail}`);
          else above(`#${e.step} ${text} CACHED`);
          break;
        }
        case 'image':
          running.clear();
          current = undefined;
          above(`writing image ${e.id}${e.tags.length ? ` as ${e.tags.join(', ')}` : ''}`);
          break;
      }
    },
    close: () => {
      clearInterval(timer);
      out.write('\r\x1b[2K');
    },
  };
}

/** Renders build events on stderr: one line per step (plain), or one JSON object per line. */
function renderer(flags: BuildFlags): (e: BuildEvent) => void {
  // quiet: only a failing step's output; its error line is the CLI's
  if (flags.quiet) return (e) => e.type === 'failed' && process.stderr.write(e.output);
  if (flags.progress === 'json') return (e) => process.stderr.write(`${JSON.stringify(e)}\n`);
  return (e) => {
    switch (e.type) {
      case 'step':
        process.stderr.write(`#${e.step} [${e.stage}] ${e.text}\n`);
        break;
      case 'cached':
        process.stderr.write(`#${e.step} CACHED\n`);
        break;
      case 'output':
        for (const line of e.data.split('\n').filter((l) => l !== '')) process.stderr.write(`#${e.step} | ${line}\n`);
        break;
      case 'done':
        process.stderr.write(`#${e.step} DONE ${e.seconds.toFixed(1)}s${e.layerBytes !== undefined ? `, layer ${humanSize(e.layerBytes)}` : ', no layer'}\n`);
        break;
      case 'failed':
        process.stderr.write(`#${e.step} FAILED\n`);
        break;
      case 'image':
        process.stderr.write(`writing image ${e.id}${e.tags.length ? ` as ${e.tags.join(', ')}` : ''}\n`);
        break;
    }
  };
}

/** `shale build`: the image ID is the last line of stdout; Ctrl-C stops the step and cleans up. */
export async function buildCommand(store: Store, context: string, flags: BuildFlags): Promise<CommandResult> {
  const secrets = await BuildSecrets.load(flags.secret ?? [], flags.ssh ?? [], process.env);
  const live = flags.progress === 'auto' && !flags.quiet && process.stderr.isTTY ? liveRenderer() : undefined;
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let input: BuildInput | undefined;
  let caches: BuildCacheTransfer | undefined;
  const warn = (m: string) => process.stderr.write(`warning: ${m}\n`);
  try {
    const cacheTo = (flags.cacheTo ?? []).map((s) => parseCacheSpec(s, 'to'));
    const cacheFrom = (flags.cacheFrom ?? []).map((s) => parseCacheSpec(s, 'from'));
    const buildArgs = parseBuildArgList(flags.buildArg, process.env);
    // as buildx: SOURCE_DATE_EPOCH from the environment is the build arg unless one is given
    if (!('SOURCE_DATE_EPOCH' in buildArgs) && process.env.SOURCE_DATE_EPOCH) buildArgs.SOURCE_DATE_EPOCH = process.env.SOURCE_DATE_EPOCH;
    const results = buildResults(store, flags, buildArgs);
    input = await buildInput(store, context, flags.file);
    caches = await openCacheTransfer(store, cacheFrom, cacheTo, warn);
    const result = await buildImage(store, {
      contextDir: input.contextDir,
      dockerfile: input.dockerfile,
      dockerfileText: input.dockerfileText,
      labels: results.labels,
      tags: flags.tag,
      buildArgs,
      target: flags.target,
      noCache: flags.noCache,
      network: flags.network,
      snapshotter: flags.snapshotter,
      classic: flags.classic,
      platform: flags.platform,
      pull: flags.pull,
      pullBase: basePuller(store, { quiet: flags.quiet }),
      onEvent: live?.render ?? renderer(flags),
      signal: controller.signal,
      secrets,
      cacheFrom: caches.sources,
      cacheTo: caches.targets,
      warn,
    });
    const written = await results.write(result);
    return { data: result, text: result.id, written };
  } finally {
    await input?.release();
    caches?.close();
    live?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
