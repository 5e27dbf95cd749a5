/**
 * What a CI user of hadolint sets, read the way hadolint reads it: `.hadolint.yaml` (`ignored`,
 * `failure-threshold`, `override`, `no-fail`, `disable-ignore-pragma`), and `# hadolint ignore=...`
 * (or `# shale ignore=...`) pragmas on the line above an instruction, `# hadolint stage ignore=...` above
 * a FROM for its stage, or `# hadolint global ignore=...` for the whole file. A pragma with anything but
 * rule IDs in its list is no pragma (as in hadolint). A rule is named by its shale ID (SL1003) or its hadolint ID (DL3009).
 */
import { parse as parseYaml } from 'yaml';
import { ShaleError } from '../internal/errors.js';
import type { Finding, Severity } from './lint-rules.js';

import { FAILURE_THRESHOLDS, SEVERITIES, type FailureThreshold } from './lint-choices.js';

export { FAILURE_THRESHOLDS, SEVERITIES, type FailureThreshold };

export interface LintSettings {
  /** Rules whose findings are dropped. */
  ignored: string[];
  /** Rules whose findings take another severity. */
  override: Partial<Record<Severity, string[]>>;
  failureThreshold?: FailureThreshold;
  noFail?: boolean;
  /** Pragmas in the Dockerfile are not read. */
  disableIgnorePragma?: boolean;
}

export const emptyLintSettings = (): LintSettings => ({ ignored: [], override: {} });

/** True when the ID names the finding's rule, by shale's ID or hadolint's. */
export const namesFinding = (id: string, f: Finding): boolean => id === f.rule || id === f.hadolint;

export function parseFailureThreshold(value: string, what = '--failure-threshold'): FailureThreshold {
  if ((FAILURE_THRESHOLDS as readonly string[]).includes(value)) return value as FailureThreshold;
  throw new ShaleError('INVALID_ARGUMENT', `${what} "${value}" is not one of ${FAILURE_THRESHOLDS.join(', ')}`);
}

const RULE_ID = /^(DL|SL|SC)\d{4}$/;

/** Reads a hadolint config file's text. Keys shale does not read come back as warnings (hadolint ignores unknown keys too). */
export function parseLintConfig(text: string, file: string): { settings: LintSettings; warnings: string[] } {
  const bad = (message: string) => new ShaleError('INVALID_ARGUMENT', `lint config ${file}: ${message}`);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw bad(`not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const settings = emptyLintSettings();
  const warnings: string[] = [];
  if (doc === null || doc === undefined) return { settings, warnings };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw bad('expected a mapping of keys');
  const ruleList = (key: string, value: unknown): string[] => {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw bad(`${key} must be a list of rule IDs`);
    for (const id of value as string[]) if (!RULE_ID.test(id)) throw bad(`${key}: "${id}" is not a rule ID (DLxxxx or SLxxxx)`);
    return value as string[];
  };
  const flag = (key: string, value: unknown): boolean => {
    if (typeof value !== 'boolean') throw bad(`${key} must be true or false`);
    return value;
  };
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    switch (key) {
      case 'ignored':
        settings.ignored.push(...ruleList(key, value ?? []));
        break;
      case 'failure-threshold':
        if (typeof value !== 'string') throw bad('failure-threshold must be a string');
        settings.failureThreshold = parseFailureThreshold(value, `${file}: failure-threshold`);
        break;
      case 'override': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('override must map error/warning/info/style to lists of rule IDs');
        for (const [level, ids] of Object.entries(value as Record<string, unknown>)) {
          if (!(SEVERITIES as readonly string[]).includes(level)) throw bad(`override: "${level}" is not one of ${SEVERITIES.join(', ')}`);
          settings.override[level as Severity] = ruleList(`override.${level}`, ids ?? []);
        }
        break;
      }
      case 'no-fail':
        settings.noFail = flag(key, value);
        break;
      case 'disable-ignore-pragma':
        settings.disableIgnorePragma = flag(key, value);
        break;
      default:
        warnings.push(`lint config ${file}: "${key}" is not read by shale lint; ignored`);
    }
  }
  return { settings, warnings };
}

const PRAGMA = /^\s*#\s*(?:hadolint|shale)\s+(?:(global|stage)\s+)?ignore\s*=\s*([A-Z0-9]+(?:\s*,\s*[A-Z0-9]+)*)\s*(?:#.*)?$/;
const FROM_LINE = /^\s*FROM\s/i;

export interface IgnorePragmas {
  /** Per instruction line (the line after the comment). */
  byLine: Map<number, Set<string>>;
  /** Per stage, by the line of its FROM. */
  byStage: Map<number, Set<string>>;
  /** The whole file. */
  global: Set<string>;
  /** The lines of the file's FROM instructions, ascending. */
  fromLines: number[];
}

/** The ignore pragmas of a Dockerfile. */
export function ignorePragmas(text: string): IgnorePragmas {
  const pragmas: IgnorePragmas = { byLine: new Map(), byStage: new Map(), global: new Set(), fromLines: [] };
  const add = (map: Map<number, Set<string>>, line: number, ids: string[]) => map.set(line, new Set([...(map.get(line) ?? []), ...ids]));
  text.split(/\r?\n/).forEach((line, i) => {
    if (FROM_LINE.test(line)) pragmas.fromLines.push(i + 1);
    const m = PRAGMA.exec(line);
    if (!m) return;
    const ids = m[2]!.split(',').map((s) => s.trim());
    if (m[1] === 'global') ids.forEach((id) => pragmas.global.add(id));
    else add(m[1] === 'stage' ? pragmas.byStage : pragmas.byLine, i + 2, ids);
  });
  return pragmas;
}

const NO_PRAGMAS: IgnorePragmas = { byLine: new Map(), byStage: new Map(), global: new Set(), fromLines: [] };

/** Findings with the settings applied: pragmas and `ignored` drop findings, `override` changes severities. */
export function applyLintSettings(findings: readonly Finding[], text: string, settings: LintSettings): Finding[] {
  const pragmas = settings.disableIgnorePragma ? NO_PRAGMAS : ignorePragmas(text);
  const stageOf = (line: number): number | undefined => pragmas.fromLines.filter((l) => l <= line).at(-1);
  const ignoredBy = (ids: Iterable<string> | undefined, f: Finding) => [...(ids ?? [])].some((id) => namesFinding(id, f));
  const ignored = (f: Finding) =>
    ignoredBy(settings.ignored, f) || ignoredBy(pragmas.global, f) || ignoredBy(pragmas.byLine.get(f.line), f) || ignoredBy(pragmas.byStage.get(stageOf(f.line) ?? 0), f);
  return findings
    .filter((f) => !ignored(f))
    .map((f) => {
      const severity = SEVERITIES.find((s) => (settings.override[s] ?? []).some((id) => namesFinding(id, f)));
      return severity ? { ...f, severity } : f;
    });
}
