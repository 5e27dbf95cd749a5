import { writeFile } from 'node:fs/promises';
import {
  analyzeImage,
  checkLimit,
  compareImages,
  evaluateCiRules,
  readCiConfig,
  type Analysis,
  type CiLimits,
  type CiRuleName,
  type ImageComparison,
} from '../analyze/index.js';
import { ShaleError } from '../internal/errors.js';
import { humanSize, renderAnalysisHtml, renderAnalysisText } from '../report/index.js';
import { findBaseLayers, openSource, type Store } from '../store/index.js';
import type { CommandResult } from './output.js';
import { registrySource } from './registry-commands.js';

export interface AnalyzeFlags {
  format: 'table' | 'json' | 'html';
  output?: string;
  ci?: boolean;
  ciConfig?: string;
  lowestEfficiency?: string;
  highestWastedBytes?: string;
  highestUserWastedPercent?: string;
  platform?: string;
  compare?: string;
  baseLayers?: string;
}

/** CI limits: dive's defaults, then the config file (`.dive-ci` when present), then the flags. */
async function ciLimits(flags: AnalyzeFlags): Promise<CiLimits> {
  const limits = await readCiConfig(flags.ciConfig ?? '.dive-ci', flags.ciConfig !== undefined, (m) => process.stderr.write(`warning: ${m}\n`));
  const fromFlags: [CiRuleName, string | undefined, string][] = [
    ['lowestEfficiency', flags.lowestEfficiency, '--lowest-efficiency'],
    ['highestWastedBytes', flags.highestWastedBytes, '--highest-wasted-bytes'],
    ['highestUserWastedPercent', flags.highestUserWastedPercent, '--highest-user-wasted-percent'],
  ];
  for (const [name, value, flag] of fromFlags) {
    if (value === undefined) continue;
    checkLimit(name, value, flag);
    limits[name] = value;
  }
  return limits;
}

function renderComparison(c: ImageComparison): string {
  const lines = [`${c.a} -> ${c.b}: ${c.added.length} added, ${c.removed.length} removed, ${c.changed.length} changed, ${c.deltaBytes >= 0 ? '+' : '-'}${humanSize(Math.abs(c.deltaBytes))}`];
  for (const a of c.added) lines.push(`A ${a.path} (${humanSize(a.size)})`);
  for (const r of c.removed) lines.push(`D ${r.path} (${humanSize(r.size)})`);
  for (const ch of c.changed) lines.push(`C ${ch.path} (${humanSize(ch.before)} -> ${humanSize(ch.after)}; ${ch.what.join(', ')})`);
  return lines.join('\n');
}

/** dive turns CI mode on when the environment says CI (a Go boolean: true, 1, t, ...), as CI services do. */
const ciFromEnvironment = (): boolean => ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(process.env.CI ?? '');

/** `shale analyze SOURCE`: where the bytes go, dive's metrics, CI rules; or `--compare A` against SOURCE. */
export async function analyzeCommand(store: Store, spec: string, flags: AnalyzeFlags): Promise<CommandResult> {
  if (flags.baseLayers !== undefined && !/^\d+$/.test(flags.baseLayers)) {
    throw new ShaleError('INVALID_ARGUMENT', `--base-layers "${flags.baseLayers}" is not a layer count`);
  }
  const wantCi =
    flags.ci ??
    (ciFromEnvironment() || flags.ciConfig !== undefined || flags.lowestEfficiency !== undefined || flags.highestWastedBytes !== undefined || flags.highestUserWastedPercent !== undefined);
  const limits = wantCi ? await ciLimits(flags) : undefined;
  const source = await openSource(store, spec, { platform: flags.platform, registry: registrySource, inPlace: true });
  try {
    if (flags.compare !== undefined) {
      const other = await openSource(store, flags.compare, { platform: flags.platform, registry: registrySource, inPlace: true });
      try {
        const comparison = await compareImages({ name: flags.compare, image: other.image }, { name: spec, image: source.image });
        return emit({ data: comparison, text: renderComparison(comparison) }, flags);
      } finally {
        await other.close();
      }
    }
    const baseLayers = flags.baseLayers !== undefined ? Number(flags.baseLayers) : await findBaseLayers([store, source.store], source.image);
    const analysis: Analysis = await analyzeImage(source.image, { name: source.refs[0] ?? spec, baseLayers, files: flags.format === 'html' });
    if (limits) analysis.ci = evaluateCiRules(analysis.dive, limits);
    const exitCode = analysis.ci && !analysis.ci.pass ? 1 : 0;
    if (flags.format === 'html') return emit({ data: analysis, text: renderAnalysisHtml(analysis), exitCode }, flags);
    const data = { ...analysis, layers: analysis.layers.map(({ files: _files, ...l }) => l) };
    return emit({ data, text: renderAnalysisText(analysis), exitCode }, flags);
  } finally {
    await source.close();
  }
}

/** With `-o FILE` the rendering goes to the file (JSON for `--format json`) and stdout stays empty. */
async function emit(result: CommandResult, flags: AnalyzeFlags): Promise<CommandResult> {
  if (!flags.output) return result;
  const body = flags.format === 'json' ? `${JSON.stringify(result.data, null, 2)}\n` : `${result.text ?? ''}\n`;
  await writeFile(flags.output, body);
  return { ...result, written: true };
}
