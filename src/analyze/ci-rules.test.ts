import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ShaleError } from '../internal/errors.js';
import type { DiveMetrics } from './analysis.js';
import { DEFAULT_CI_LIMITS, checkLimit, evaluateCiRules, parseByteLimit, readCiConfig, type CiLimits } from './ci-rules.js';

const metrics = (efficiency: number, wastedBytes: number, userWastedPercent: number | null): DiveMetrics => ({
  efficiency,
  wastedBytes,
  userWastedPercent,
  sizeBytes: 0,
  userSizeBytes: 0,
  inefficientFiles: [],
  inefficientFileCount: 0,
});
const only = (name: keyof CiLimits, limit: string): CiLimits => ({
  lowestEfficiency: 'disabled',
  highestWastedBytes: 'disabled',
  highestUserWastedPercent: 'disabled',
  [name]: limit,
});
const rule = (v: ReturnType<typeof evaluateCiRules>, name: string) => v.rules.find((r) => r.name === name)!;

const isInvalid = (what: RegExp) => (e: unknown) => e instanceof ShaleError && e.code === 'INVALID_ARGUMENT' && what.test(e.message);

test("dive's defaults: lowestEfficiency 0.9, highestWastedBytes disabled, highestUserWastedPercent 0.1", () => {
  assert.deepEqual(DEFAULT_CI_LIMITS, { lowestEfficiency: '0.9', highestWastedBytes: 'disabled', highestUserWastedPercent: '0.1' });
  const pass = evaluateCiRules(metrics(0.95, 10, 0.05), DEFAULT_CI_LIMITS);
  assert.equal(pass.pass, true);
  assert.deepEqual(
    pass.rules.map((r) => [r.name, r.status]),
    [['highestUserWastedPercent', 'PASS'], ['highestWastedBytes', 'SKIP'], ['lowestEfficiency', 'PASS']],
  );
});

test('lowestEfficiency: fails only when the limit is above the efficiency', () => {
  assert.equal(rule(evaluateCiRules(metrics(0.9, 0, 0), only('lowestEfficiency', '0.9')), 'lowestEfficiency').status, 'PASS', 'equal passes');
  const fail = evaluateCiRules(metrics(0.5, 0, 0), only('lowestEfficiency', '0.9'));
  assert.equal(fail.pass, false);
  const r = rule(fail, 'lowestEfficiency');
  assert.deepEqual([r.status, r.pass, r.actual, r.limit], ['FAIL', false, 0.5, '0.9']);
  assert.match(r.message, /efficiency=0\.5 < threshold=0\.9/);
});

test('highestWastedBytes: fails only above the limit; byte units as go-humanize reads them', () => {
  // 20MB = 20,000,000 bytes
  assert.equal(evaluateCiRules(metrics(1, 20_000_000, 0), only('highestWastedBytes', '20MB')).pass, true);
  const fail = evaluateCiRules(metrics(1, 20_000_001, 0), only('highestWastedBytes', '20MB'));
  assert.equal(fail.pass, false);
  assert.match(rule(fail, 'highestWastedBytes').message, /wasted-bytes=20000001 > threshold=20000000/);
  // 20MiB = 20 * 1048576 = 20,971,520 bytes: 20,000,001 passes there
  assert.equal(evaluateCiRules(metrics(1, 20_000_001, 0), only('highestWastedBytes', '20MiB')).pass, true);
  assert.equal(evaluateCiRules(metrics(1, 20_971_521, 0), only('highestWastedBytes', '20MiB')).pass, false);
});

test('highestUserWastedPercent: fails above the ratio; no user bytes fails only when something is wasted', () => {
  assert.equal(evaluateCiRules(metrics(1, 10, 0.1), only('highestUserWastedPercent', '0.1')).pass, true, 'equal passes');
  const fail = evaluateCiRules(metrics(1, 10, 0.25), only('highestUserWastedPercent', '0.1'));
  assert.equal(fail.pass, false);
  assert.match(rule(fail, 'highestUserWastedPercent').message, /%-user-wasted-bytes=0\.25 > threshold=0\.1/);
  // dive divides by zero user bytes: x/0 is +Inf (fails) when x > 0, NaN (passes) when x = 0
  assert.equal(evaluateCiRules(metrics(1, 5, null), only('highestUserWastedPercent', '0.1')).pass, false);
  assert.equal(evaluateCiRules(metrics(1, 0, null), only('highestUserWastedPercent', '0.1')).pass, true);
});

test('"disabled" skips a rule whatever the metrics', () => {
  const v = evaluateCiRules(metrics(0, 1e12, 100), only('lowestEfficiency', 'disabled'));
  assert.equal(v.pass, true);
  assert.ok(v.rules.every((r) => r.status === 'SKIP' && r.pass && r.limit === 'disabled'));
});

test('parseByteLimit: plain numbers, SI and IEC units, any case, with or without a space', () => {
  assert.equal(parseByteLimit('20MB'), 20_000_000);
  assert.equal(parseByteLimit('20MiB'), 20 * 1024 * 1024);
  assert.equal(parseByteLimit('20 mb'), 20_000_000);
  assert.equal(parseByteLimit('20M'), 20_000_000);
  assert.equal(parseByteLimit('1.5KB'), 1500);
  assert.equal(parseByteLimit('1KiB'), 1024);
  assert.equal(parseByteLimit('2GB'), 2e9);
  assert.equal(parseByteLimit('1048576'), 1_048_576);
  assert.equal(parseByteLimit('7B'), 7);
  // as go-humanize: a leading dot, commas, peta and exa
  assert.equal(parseByteLimit('.5GB'), 500_000_000);
  assert.equal(parseByteLimit('1,000,000'), 1_000_000);
  assert.equal(parseByteLimit('2PB'), 2e15);
  assert.equal(parseByteLimit('1PiB'), 2 ** 50);
  assert.equal(parseByteLimit('1EB'), 1e18);
  for (const bad of ['', 'MB', 'abc', '-1MB', '20 parsecs', '1e3', '1.2.3MB', '.']) assert.equal(parseByteLimit(bad), undefined, bad);
});

test('checkLimit: numbers, byte sizes and "disabled" pass; anything else is INVALID_ARGUMENT naming where and what', () => {
  checkLimit('lowestEfficiency', '0.95', 'x');
  checkLimit('lowestEfficiency', 'disabled', 'x');
  checkLimit('highestUserWastedPercent', '1', 'x');
  checkLimit('highestWastedBytes', '20MB', 'x');
  checkLimit('highestWastedBytes', 'disabled', 'x');
  for (const n of ['.5', '+0.5', '1.', '1e-1', '0', '1', '-0']) checkLimit('lowestEfficiency', n, 'x');
  assert.throws(() => checkLimit('lowestEfficiency', 'high', '--lowest-efficiency'), isInvalid(/--lowest-efficiency.*"high"/));
  assert.throws(() => checkLimit('highestWastedBytes', '20 parsecs', '--highest-wasted-bytes'), isInvalid(/--highest-wasted-bytes.*byte size/));
  assert.throws(() => checkLimit('highestUserWastedPercent', '10%', 'cfg'), isInvalid(/highestUserWastedPercent "10%"/));
  assert.throws(() => checkLimit('lowestEfficiency', 'Disabled', 'cfg'), isInvalid(/Disabled/));
});

test('checkLimit: the two ratios must lie in 0-1, as dive requires; byte sizes have no upper bound', () => {
  for (const name of ['lowestEfficiency', 'highestUserWastedPercent'] as const) {
    for (const n of ['1.1', '-0.1', '2', '-1', '1e1', '1.0000001']) {
      assert.throws(() => checkLimit(name, n, '--flag'), isInvalid(new RegExp(`--flag: ${name} "${n.replace(/[.+]/g, '\\$&')}" is outside the allowed range \\(0-1\\)`)), `${name} ${n}`);
    }
    checkLimit(name, '0', 'x');
    checkLimit(name, '1', 'x');
    checkLimit(name, '1.0', 'x');
  }
  checkLimit('highestWastedBytes', '20EB', 'x');
});

/** A temporary directory (removed after the test) and a writer of files in it that returns their paths. */
function tempFiles(t: TestContext): { dir: string; write: (name: string, text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'shale-ci-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  return { dir, write };
}

test('readCiConfig: camelCase, snake_case and kebab-case keys over the defaults; a missing optional file is the defaults', async (t) => {
  const { dir, write } = tempFiles(t);
  assert.deepEqual(await readCiConfig(write('camel', 'rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: 0.20\n'), true), {
    lowestEfficiency: '0.95',
    highestWastedBytes: '20MB',
    highestUserWastedPercent: '0.2',
  });
  assert.deepEqual(await readCiConfig(write('snake', 'rules:\n  lowest_efficiency: 0.5\n  highest_wasted_bytes: 20MiB\n'), true), {
    lowestEfficiency: '0.5',
    highestWastedBytes: '20MiB',
    highestUserWastedPercent: '0.1',
  });
  assert.deepEqual(await readCiConfig(write('kebab', 'rules:\n  highest-user-wasted-percent: disabled\n'), true), {
    ...DEFAULT_CI_LIMITS,
    highestUserWastedPercent: 'disabled',
  });
  assert.deepEqual(await readCiConfig(write('empty', ''), true), DEFAULT_CI_LIMITS);
  assert.deepEqual(await readCiConfig(write('norules', 'other: 1\n'), true), DEFAULT_CI_LIMITS);
  assert.deepEqual(await readCiConfig(join(dir, 'absent'), false), DEFAULT_CI_LIMITS);
});

test('readCiConfig: a bad or out-of-range value, bad YAML or a missing required file are errors naming the file', async (t) => {
  const { dir, write } = tempFiles(t);
  const bad = write('bad-value', 'rules:\n  lowestEfficiency: very\n');
  await assert.rejects(readCiConfig(bad, true), isInvalid(new RegExp(`${bad}.*lowestEfficiency "very"`)));
  await assert.rejects(readCiConfig(write('bad-bytes', 'rules:\n  highest_wasted_bytes: lots\n'), false), isInvalid(/highestWastedBytes "lots"/));
  await assert.rejects(readCiConfig(write('range', 'rules:\n  lowestEfficiency: 1.1\n'), true), isInvalid(/range.*lowestEfficiency "1\.1" is outside the allowed range/));
  await assert.rejects(readCiConfig(write('negative', 'rules:\n  highest-user-wasted-percent: -0.1\n'), true), isInvalid(/highestUserWastedPercent "-0\.1" is outside the allowed range/));
  await assert.rejects(readCiConfig(write('yaml', 'rules: [\n'), true), isInvalid(/not valid YAML/));
  await assert.rejects(readCiConfig(write('scalar', 'rules: 3\n'), true), isInvalid(/"rules" must be a mapping/));
  await assert.rejects(readCiConfig(join(dir, 'absent'), true), (e: unknown) => e instanceof ShaleError && e.code === 'NOT_FOUND' && e.message.includes('absent'));
});

test("readCiConfig: keys that name no rule are skipped with a warning, as dive skips them (dive's sample .dive-ci)", async (t) => {
  const { write } = tempFiles(t);
  // the shape of dive's own sample: a plugins list beside the rules, a plugin's rule among them
  const sample = write(
    'dive-sample',
    ['plugins:', '  - plugin1', '', 'rules:', '  lowestEfficiency: 0.95', '  highestWastedBytes: 20Mb', '  highestUserWastedPercent: 0.5', '  plugin1/rule1: error', ''].join('\n'),
  );
  const warnings: string[] = [];
  assert.deepEqual(await readCiConfig(sample, true, (m) => warnings.push(m)), { lowestEfficiency: '0.95', highestWastedBytes: '20Mb', highestUserWastedPercent: '0.5' });
  assert.deepEqual(warnings, [`CI config ${sample}: ignoring unknown rule "plugin1/rule1" (rules are highestUserWastedPercent, highestWastedBytes, lowestEfficiency)`]);

  // a name dive's own configs use that is no rule of its .dive-ci: skipped, the defaults stay
  warnings.length = 0;
  const threshold = write('threshold', "rules:\n  lowest-efficiency-threshold: '0.10'\n  smallestImage: 1\n");
  assert.deepEqual(await readCiConfig(threshold, true, (m) => warnings.push(m)), DEFAULT_CI_LIMITS);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /ignoring unknown rule "lowest-efficiency-threshold"/);
  assert.match(warnings[1]!, /ignoring unknown rule "smallestImage"/);
  // a key with a line break in it is quoted on one line
  warnings.length = 0;
  await readCiConfig(write('multiline', 'rules:\n  ? "a\\nb"\n  : 1\n'), true, (m) => warnings.push(m));
  assert.deepEqual(warnings.map((w) => w.split('\n').length), [1]);
  assert.match(warnings[0]!, /"a\\nb"/);
  // without a listener the key is still skipped
  assert.deepEqual(await readCiConfig(sample, true), { lowestEfficiency: '0.95', highestWastedBytes: '20Mb', highestUserWastedPercent: '0.5' });
});
