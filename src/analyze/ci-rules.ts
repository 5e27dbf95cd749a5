import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ShaleError, hasErrno } from '../internal/errors.js';
import type { CiRuleResult, CiVerdict, DiveMetrics } from './analysis.js';

export type CiRuleName = 'lowestEfficiency' | 'highestWastedBytes' | 'highestUserWastedPercent';

/** Each rule's limit as text ("0.9", "20MB", "disabled"). */
export type CiLimits = Record<CiRuleName, string>;

/** dive's defaults. */
export const DEFAULT_CI_LIMITS: CiLimits = { lowestEfficiency: '0.9', highestWastedBytes: 'disabled', highestUserWastedPercent: '0.1' };

const RULES: CiRuleName[] = ['highestUserWastedPercent', 'highestWastedBytes', 'lowestEfficiency'];
const normalizeKey = (k: string): string => k.toLowerCase().replace(/[-_]/g, '');

/**
 * Limits from a `.dive-ci` style YAML file (`rules:` with camelCase, snake_case or kebab-case keys), laid
 * over dive's defaults. A missing file is an error only when `required`. A key that names no rule (dive's
 * own sample has `plugin1/rule1`) is skipped, as dive skips it, and reported through `warn`.
 */
export async function readCiConfig(file: string, required: boolean, warn: (message: string) => void = () => {}): Promise<CiLimits> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (e) {
    if (!required && hasErrno(e, 'ENOENT')) return { ...DEFAULT_CI_LIMITS };
    throw new ShaleError(hasErrno(e, 'ENOENT') ? 'NOT_FOUND' : 'INVALID_ARGUMENT', `CI config ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(raw);
  } catch (e) {
    throw new ShaleError('INVALID_ARGUMENT', `CI config ${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  const limits = { ...DEFAULT_CI_LIMITS };
  const rules = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).rules : undefined;
  if (rules === undefined || rules === null) return limits;
  if (typeof rules !== 'object') throw new ShaleError('INVALID_ARGUMENT', `CI config ${file}: "rules" must be a mapping`);
  for (const [key, value] of Object.entries(rules as Record<string, unknown>)) {
    const name = RULES.find((r) => normalizeKey(r) === normalizeKey(key));
    if (!name) {
      warn(`CI config ${file}: ignoring unknown rule ${JSON.stringify(key)} (rules are ${RULES.join(', ')})`);
      continue;
    }
    limits[name] = String(value).trim();
    checkLimit(name, limits[name], `CI config ${file}`);
  }
  return limits;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, p: 1e15, pb: 1e15, e: 1e18, eb: 1e18,
  ki: 2 ** 10, kib: 2 ** 10, mi: 2 ** 20, mib: 2 ** 20, gi: 2 ** 30, gib: 2 ** 30, ti: 2 ** 40, tib: 2 ** 40,
  pi: 2 ** 50, pib: 2 ** 50, ei: 2 ** 60, eib: 2 ** 60,
};

/**
 * A byte count as go-humanize's ParseBytes reads one: a decimal number (".5", "1,000" with commas
 * dropped), then an optional unit: "20MB" (1000s), "20MiB" (1024s), up to exa; "1048576".
 */
export function parseByteLimit(text: string): number | undefined {
  const m = /^\s*([\d.,]+)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const digits = m[1]!.replaceAll(',', '');
  const unit = BYTE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined || !/^(\d+\.?\d*|\.\d+)$/.test(digits)) return undefined;
  return Math.floor(Number(digits) * unit);
}

/** A number as Go's ParseFloat reads the usual ones: "0.9", ".5", "+1", "1e-3". */
const isFloat = (text: string): boolean => /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text);

function parseLimit(name: CiRuleName, text: string): number | undefined {
  if (name === 'highestWastedBytes') return parseByteLimit(text);
  return isFloat(text) ? Number(text) : undefined;
}

/**
 * Throws INVALID_ARGUMENT naming `where` when a limit is neither "disabled" nor a value of its kind; the
 * two ratios must lie in 0-1, as dive requires.
 */
export function checkLimit(name: CiRuleName, text: string, where: string): void {
  if (text === 'disabled') return;
  const limit = parseLimit(name, text);
  if (limit === undefined) {
    throw new ShaleError('INVALID_ARGUMENT', `${where}: ${name} ${JSON.stringify(text)} is not a ${name === 'highestWastedBytes' ? 'byte size (e.g. 20MB)' : 'number'} or "disabled"`);
  }
  if (name !== 'highestWastedBytes' && (limit < 0 || limit > 1)) {
    throw new ShaleError('INVALID_ARGUMENT', `${where}: ${name} ${JSON.stringify(text)} is outside the allowed range (0-1)`);
  }
}

/** dive's CI rules over dive's metrics: one verdict per rule, sorted by name as dive prints them. */
export function evaluateCiRules(dive: DiveMetrics, limits: CiLimits): CiVerdict {
  const rules = RULES.map((name): CiRuleResult => {
    const limitText = limits[name];
    const actual = name === 'lowestEfficiency' ? dive.efficiency : name === 'highestWastedBytes' ? dive.wastedBytes : dive.userWastedPercent;
    if (limitText === 'disabled') return { name, limit: limitText, actual, pass: true, status: 'SKIP', message: 'rule disabled' };
    const limit = parseLimit(name, limitText)!;
    let message = '';
    if (name === 'lowestEfficiency' && limit > dive.efficiency) {
      message = `image efficiency is too low (efficiency=${dive.efficiency} < threshold=${limit})`;
    } else if (name === 'highestWastedBytes' && dive.wastedBytes > limit) {
      message = `too many bytes wasted (wasted-bytes=${dive.wastedBytes} > threshold=${limit})`;
    } else if (name === 'highestUserWastedPercent') {
      // no user bytes: dive divides by zero, and only wasted bytes make that exceed a limit
      const percent = dive.userWastedPercent ?? (dive.wastedBytes > 0 ? Infinity : 0);
      if (percent > limit) message = `too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=${percent} > threshold=${limit})`;
    }
    return { name, limit: limitText, actual, pass: message === '', status: message === '' ? 'PASS' : 'FAIL', message };
  });
  return { pass: rules.every((r) => r.pass), rules };
}
