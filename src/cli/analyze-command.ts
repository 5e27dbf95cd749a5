import {
  analyzeImage,
  checkLimit,
  compareImages,
  evaluateCiRules,
  readCiConfig,
  type Analysis,
  type CiLimits,
  type CiRuleName,
} from '../analyze/index.js';
import { ShaleError } from '../internal/errors.js';
import { writeStreamAtomic } from '../internal/fs-atomic.js';
import { normalizeReference } from '../oci/index.js';
import { renderAnalysisHtml, renderAnalysisText, renderComparisonHtml, renderComparisonText } from '../report/index.js';
import { findBaseLayers, openSource, readBuildLines, type Store } from '../store/index.js';
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

/**
 * The name a report gives its image: the reference the user typed (with its default tag), not another tag
 * of the same image; for an image ID or an archive, the image's first name when it has one.
 */
function displayName(spec: string, refs: string[]): string {
  const byId = /^(sha256:)?[a-f0-9]{12,64}$/.test(spec);
  const transport = /^(docker-archive|oci-archive|oci|docker-daemon|docker):/.test(spec);
  if (byId || transport) return refs[0] ?? spec;
  return normalizeReference(spec);
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
        const comparison = await compareImages({ name: displayName(flags.compare, other.refs), image: other.image }, { name: displayName(spec, source.refs), image: source.image });
        return emit({ data: comparison, text: flags.format === 'html' ? renderComparisonHtml(comparison) : renderComparisonText(comparison) }, flags);
      } finally {
        await other.close();
      }
    }
    // a registry image has no store of its own: bases are looked for in the user's store
    const baseLayers = flags.baseLayers !== undefined ? Number(flags.baseLayers) : await findBaseLayers([store, source.store ?? store], source.image);
    const lines = source.store && (await readBuildLines(source.store, source.image.id));
    const analysis: Analysis = await analyzeImage(source.image, { name: displayName(spec, source.refs), baseLayers, files: flags.format === 'html', lines });
    if (limits) analysis.ci = evaluateCiRules(analysis.dive, limits);
    const exitCode = analysis.ci && !analysis.ci.pass ? 1 : 0;
    if (flags.format === 'html') return emit({ data: analysis, text: renderAnalysisHtml(analysis), exitCode }, flags);
    const data = { ...analysis, layers: analysis.layers.map(({ files: _files, ...l }) => l) };
    return emit({ data, text: renderAnalysisText(analysis), exitCode }, flags);
  } finally {
    await source.close();
  }
}

/** With `-o FILE` the rendering goes to the file (JSON for `--format json`) and stdout stays empty; `-o -` is stdout. */
async function emit(result: CommandResult, flags: AnalyzeFlags): Promise<CommandResult> {
  if (!flags.output || flags.output === '-') return result;
  const text = result.text ?? '';
  const body = flags.format === 'json' ? `${JSON.stringify(result.data, null, 2)}\n` : text.endsWith('\n') ? text : `${text}\n`;
  await writeStreamAtomic(flags.output, [Buffer.from(body)]);
  return { ...result, written: true };
}
