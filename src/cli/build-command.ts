import { buildImage, parseBuildArgList, type BuildEvent } from '../build/index.js';
import { humanSize } from '../report/index.js';
import type { Store } from '../store/index.js';
import type { CommandResult } from './output.js';

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
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await buildImage(store, {
      contextDir: context,
      dockerfile: flags.file,
      tags: flags.tag,
      buildArgs: parseBuildArgList(flags.buildArg),
      target: flags.target,
      noCache: flags.noCache,
      network: flags.network,
      snapshotter: flags.snapshotter,
      onEvent: renderer(flags),
      signal: controller.signal,
    });
    return { data: result, text: result.id };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
