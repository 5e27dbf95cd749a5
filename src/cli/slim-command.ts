import { parseBuildArgList } from '../dockerfile/index.js';
import { slimDockerfile, type SlimReport } from '../optimize/index.js';
import { humanSize } from '../report/index.js';
import type { Store } from '../store/index.js';
import type { CommandResult } from './output.js';

export interface SlimFlags {
  file?: string;
  output?: string;
  verify?: boolean;
  tag: string[];
  buildArg: string[];
  risky?: boolean;
  cacheMounts?: boolean;
}

function renderSlim(r: SlimReport, wroteTo: string | undefined): string {
  const lines: string[] = [];
  if (!wroteTo) lines.push(r.diff.trimEnd(), '');
  else lines.push(`wrote ${wroteTo}`);
  for (const c of r.changes) lines.push(`${c.applied ? 'applied ' : 'proposed'}  line ${c.lines.join(', ')}: ${c.description}`);
  if (r.changes.length === 0) lines.push('nothing to slim: no change found');
  if (r.verification) {
    const v = r.verification;
    lines.push('', `verify: ${r.before!.layers} layers, ${humanSize(r.before!.sizeBytes)} -> ${r.after!.layers} layers, ${humanSize(r.after!.sizeBytes)}: saved ${humanSize(r.savedBytes!)}`);
    if (v.removedCaches.length) lines.push(`  caches and temp paths left out: ${v.removedCaches.length}${v.removedCaches.length <= 10 ? ` (${v.removedCaches.join(', ')})` : ''}`);
    if (v.cacheDifferences.length) lines.push(`  in cache mounts, out of the rewrite's layers: ${v.cacheDifferences.length}${v.cacheDifferences.length <= 10 ? ` (${v.cacheDifferences.join(', ')})` : ''}`);
    if (v.volatile.length) lines.push(`  differ in any two builds (ignored): ${v.volatile.join(', ')}`);
    for (const d of v.differences.slice(0, 20)) lines.push(`  DIFFERENT ${d}`);
    if (v.differences.length > 20) lines.push(`  ... and ${v.differences.length - 20} more`);
    for (const f of v.configDifferences) lines.push(`  DIFFERENT config ${f}`);
    lines.push(r.equivalent ? 'equivalent: yes' : 'equivalent: NO');
  }
  return lines.join('\n');
}

/** `shale slim CONTEXT`: the rewritten Dockerfile (a diff, or `-o FILE`), and with `--verify` the proof. */
export async function slimCommand(store: Store, context: string, flags: SlimFlags): Promise<CommandResult> {
  const report = await slimDockerfile(store, {
    contextDir: context,
    dockerfile: flags.file,
    output: flags.output,
    verify: flags.verify,
    tags: flags.tag,
    risky: flags.risky,
    cacheMounts: flags.cacheMounts,
    buildArgs: parseBuildArgList(flags.buildArg),
    onEvent: (e) => {
      if (e.type === 'failed') process.stderr.write(`verify: step ${e.step} failed\n`);
    },
  });
  const data = {
    dockerfile: report.dockerfile,
    changes: report.changes,
    rewritten: report.rewritten,
    before: report.before,
    after: report.after,
    savedBytes: report.savedBytes,
    equivalent: report.equivalent,
    verification: report.verification,
  };
  return { data, text: renderSlim(report, flags.output), exitCode: report.equivalent === false ? 1 : 0 };
}
