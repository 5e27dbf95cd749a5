import { lexWords } from '../dockerfile/words.js';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import { ShaleError } from '../internal/errors.js';
import { minifyImage, type MinifyResult } from '../optimize/minify-image.js';
import type { Probe } from '../optimize/minify-probes.js';
import { humanSize } from '../report/index.js';
import type { Store } from '../store/index.js';
import type { CommandResult } from './output.js';

export interface MinifyFlags {
  tag: string;
  probeCmd: string[];
  probeHttp: string[];
  probeHttpStatus?: string;
  probeScript: string[];
  probeTimeout: string;
  include: string[];
  exclude: string[];
  keepBase?: boolean;
  fromScratch?: boolean;
  report?: string;
}

/** The probes the flags ask for; the image's own command when none is given. */
export function parseProbes(flags: Pick<MinifyFlags, 'probeCmd' | 'probeHttp' | 'probeHttpStatus' | 'probeScript'>): Probe[] {
  const probes: Probe[] = [];
  for (const c of flags.probeCmd) {
    const args = Array.from(lexWords(c, { unquote: true }), (w) => w.text);
    if (args.length === 0) throw new ShaleError('INVALID_ARGUMENT', '--probe-cmd needs a command');
    probes.push({ kind: 'cmd', args });
  }
  let status: number | undefined;
  if (flags.probeHttpStatus !== undefined) {
    status = Number(flags.probeHttpStatus);
    if (!/^\d{3}$/.test(flags.probeHttpStatus)) throw new ShaleError('INVALID_ARGUMENT', `--probe-http-status "${flags.probeHttpStatus}" is not an HTTP status`);
    if (flags.probeHttp.length === 0) throw new ShaleError('INVALID_ARGUMENT', '--probe-http-status needs --probe-http');
  }
  for (const h of flags.probeHttp) {
    const m = /^(\d{1,5})(\/.*)?$/.exec(h);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new ShaleError('INVALID_ARGUMENT', `--probe-http "${h}" is not PORT/PATH (e.g. 8000/ or 8080/health)`);
    probes.push({ kind: 'http', port: Number(m[1]), path: m[2] ?? '/', ...(status !== undefined ? { status } : {}) });
  }
  for (const file of flags.probeScript) probes.push({ kind: 'script', file });
  if (probes.length === 0) probes.push({ kind: 'cmd' });
  return probes;
}

/** Kept paths that are not simply part of a kept base layer. */
const chosenPaths = (r: MinifyResult): number => r.kept.filter((k) => k.reasons.some((why) => why !== 'base')).length;

function render(r: MinifyResult): string {
  return [
    `${r.ref}: ${r.before.layers} layer${r.before.layers === 1 ? '' : 's'} (${humanSize(r.before.sizeBytes)}) -> ${r.after.layers} layer${r.after.layers === 1 ? '' : 's'} (${humanSize(r.after.sizeBytes)}), saved ${humanSize(r.savedBytes)}` +
      (r.mode === 'keep-base' ? `; kept ${r.keptBaseLayers} base layer${r.keptBaseLayers === 1 ? '' : 's'}, ${humanSize(r.newLayerBytes)} to pull over the base` : ''),
    `kept ${chosenPaths(r)} paths; verified: ${r.probes.map((p) => p.probe).join(', ')}`,
    r.id,
  ].join('\n');
}

/** `shale minify IMAGE -t NEW`: keep only what the probes use, verified by running them again. */
export async function minifyCommand(store: Store, image: string, flags: MinifyFlags): Promise<CommandResult> {
  if (flags.keepBase && flags.fromScratch) throw new ShaleError('INVALID_ARGUMENT', '--keep-base and --from-scratch cannot be used together');
  const timeout = Number(flags.probeTimeout);
  if (!/^\d+(\.\d+)?$/.test(flags.probeTimeout) || timeout <= 0) throw new ShaleError('INVALID_ARGUMENT', `--probe-timeout "${flags.probeTimeout}" is not a number of seconds`);
  const probes = parseProbes(flags);
  const r = await minifyImage(store, image, {
    tag: flags.tag,
    probes,
    timeoutMs: timeout * 1000,
    keepBase: flags.keepBase === true,
    include: flags.include,
    exclude: flags.exclude,
    onProgress: (line) => process.stderr.write(`minify: ${line}\n`),
  });
  if (flags.report) await writeFileAtomic(flags.report, `${JSON.stringify({ image, ...r }, null, 2)}\n`);
  const { kept, ...summary } = r;
  return { data: { ...summary, keptPaths: chosenPaths(r) }, text: render(r) };
}
