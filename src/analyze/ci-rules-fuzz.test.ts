/** Property tests of the `.dive-ci` reader: any file gives limits every rule accepts, or a coded error. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectParsedOrRefusedAsync, fuzzParameters } from '../internal/fuzz-fixtures.js';
import { checkLimit, evaluateCiRules, readCiConfig, type CiRuleName } from './ci-rules.js';

const KEYS = ['lowestEfficiency', 'highest_wasted_bytes', 'highest-user-wasted-percent', 'plugin1/rule1', 'lowest-efficiency-threshold', '"a\\nb"', 'x', '? [1]', '!!binary'];
const VALUES = ['0.9', '1.1', '-0.1', '20MB', '20Mb', '1,000', 'disabled', 'off', '', '~', '[1, 2]', '{a: 1}', '.nan', '.inf', '1e400', '0x1F', '&a 1', '*a', '!!str 5', '"0.5"', "'x'", '|\n    0.3'];

const yamlArb = fc.oneof(
  fc
    .array(fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES)), { maxLength: 6 })
    .map((pairs) => `plugins:\n  - plugin1\nrules:\n${pairs.map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`),
  fc.array(fc.constantFrom('rules', ':', ' ', '\n', '  ', '- ', '[', ']', '{', '}', '"', "'", '#', '&a', '*a', '<<: *a', '---', '...', '0.5', '%YAML 1.2', '\t'), { maxLength: 30 }).map((t) => t.join('')),
  fc.string({ unit: 'binary', maxLength: 120 }),
);

const metrics = { efficiency: 0.5, wastedBytes: 10, userWastedPercent: 0.5, sizeBytes: 20, userSizeBytes: 20, inefficientFiles: [], inefficientFileCount: 0 };

test('readCiConfig: any file gives limits each rule accepts and evaluates, or an INVALID_ARGUMENT error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-ci-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, '.dive-ci');
  await fc.assert(
    fc.asyncProperty(yamlArb, async (text) => {
      writeFileSync(file, text);
      const warnings: string[] = [];
      const limits = await expectParsedOrRefusedAsync(() => readCiConfig(file, true, (m) => warnings.push(m)), ['INVALID_ARGUMENT']);
      for (const w of warnings) assert.ok(!w.includes('\n'), w);
      if (!limits) return;
      for (const [name, value] of Object.entries(limits)) checkLimit(name as CiRuleName, value, 'limits read');
      const verdict = evaluateCiRules(metrics, limits);
      assert.equal(verdict.rules.length, 3);
    }),
    fuzzParameters(300),
  );
});
