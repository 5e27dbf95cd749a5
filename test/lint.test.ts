/**
 * `shale lint` end to end: the seed's split Dockerfile is flagged (consecutive RUNs, a file created and
 * removed in a later RUN, both naming lines 5 and 6) and the chained one is not; the JSON shape; exit
 * codes for --failure-threshold, a missing file and a bad Dockerfile; SARIF output checked against the
 * SARIF 2.1.0 JSON schema.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import AjvDraft04Module from 'ajv-draft-04';
import { assertCliError, REPO_ROOT, shale, tempDir } from './support/shale.js';

const SEED = join('examples', 'seed');
const SPLIT = join(SEED, 'Dockerfile.split');
const CHAINED = join(SEED, 'Dockerfile.chained');

interface JsonFinding {
  rule: string;
  hadolint?: string;
  line: number;
  lines?: number[];
  severity: 'error' | 'warning' | 'info';
  message: string;
  fix: string;
}

const lint = (args: string[], opts: { cwd?: string; root: string }) => shale(['lint', ...args], opts);
const lintJson = (args: string[], opts: { cwd?: string; root: string }) => {
  const r = lint([...args, '--format', 'json'], opts);
  assert.ok(r.status === 0 || r.status === 1, `exit ${r.status}: ${r.stderr}`);
  return { status: r.status, findings: JSON.parse(r.stdout) as JsonFinding[] };
};

test('lint: the split seed Dockerfile is flagged for its two RUNs (5 and 6), the chained one is not', (t) => {
  const root = tempDir(t);
  const split = lintJson(['-f', SPLIT], { root });
  assert.equal(split.status, 1);
  const byRule = new Map(split.findings.map((f) => [f.rule, f]));
  const consecutive = byRule.get('SL1001');
  const removed = byRule.get('SL1010');
  assert.ok(consecutive && removed, JSON.stringify(split.findings));
  assert.equal(consecutive.hadolint, 'DL3059');
  assert.deepEqual(consecutive.lines, [5, 6]);
  assert.deepEqual(removed.lines, [5, 6]);
  assert.equal(removed.line, 6);
  assert.match(removed.message, /50M\.file.*line 5.*line 6/);

  const chained = lintJson(['-f', CHAINED], { root });
  assert.deepEqual(chained.findings.filter((f) => f.rule === 'SL1001' || f.rule === 'SL1010'), []);
  assert.equal(chained.status, 0);

  const text = lint(['-f', SPLIT], { root });
  assert.equal(text.status, 1);
  assert.match(text.stdout, /^examples\/seed\/Dockerfile\.split:6 SL1001 \(DL3059\) info: /m);
  assert.match(text.stdout, /^examples\/seed\/Dockerfile\.split:6 SL1010 error: /m);
  assert.match(text.stdout, /^ {2}fix: /m);
});

test('lint --format json: an array of {rule, hadolint?, line, lines?, severity, message, fix}', (t) => {
  const root = tempDir(t);
  const dir = tempDir(t);
  writeFileSync(
    join(dir, 'Dockerfile'),
    ['FROM python:3.12', 'RUN apt-get update', 'RUN apt-get install -y gcc', 'ADD https://example.com/a.tgz /opt/', 'COPY . /app', 'RUN pip install -r /app/requirements.txt'].join('\n'),
  );
  const { findings } = lintJson([], { root, cwd: dir });
  assert.ok(Array.isArray(findings) && findings.length > 0);
  for (const f of findings) {
    assert.deepEqual(Object.keys(f).filter((k) => !['rule', 'hadolint', 'line', 'lines', 'severity', 'message', 'fix'].includes(k)), []);
    assert.match(f.rule, /^SL\d{4}$/);
    if (f.hadolint !== undefined) assert.match(f.hadolint, /^DL\d{4}$/);
    assert.ok(Number.isInteger(f.line) && f.line >= 1);
    assert.ok(['error', 'warning', 'info'].includes(f.severity));
    assert.ok(f.message.length > 0 && f.fix.length > 0);
  }
  const rules = new Set(findings.map((f) => f.rule));
  for (const id of ['SL1001', 'SL1002', 'SL1003', 'SL1004', 'SL1006', 'SL1012', 'SL1013', 'SL1014', 'SL1015']) assert.ok(rules.has(id), `${id} missing: ${[...rules]}`);
  // the default context is the working directory; CONTEXT names another
  assert.deepEqual(lintJson([dir], { root }).findings, findings);
});

test('lint --failure-threshold: exit 1 at or above it, none never fails', (t) => {
  const root = tempDir(t);
  const dir = tempDir(t);
  const infoOnly = join(dir, 'Dockerfile.info');
  writeFileSync(infoOnly, 'FROM alpine:3.20\nRUN apk add curl\n');
  assert.deepEqual(lintJson(['-f', infoOnly], { root }).findings.map((f) => f.severity), ['info']);
  assert.equal(lint(['-f', infoOnly], { root }).status, 1);
  assert.equal(lint(['-f', infoOnly, '--failure-threshold', 'info'], { root }).status, 1);
  assert.equal(lint(['-f', infoOnly, '--failure-threshold', 'warning'], { root }).status, 0);
  assert.equal(lint(['-f', SPLIT, '--failure-threshold', 'error'], { root }).status, 1);
  // none never fails (hadolint reads none as its lowest level, so every finding fails there: that contradicts
  // the word, and shale's none has always meant never; --no-fail is hadolint's spelling of it)
  assert.equal(lint(['-f', SPLIT, '--failure-threshold', 'none'], { root }).status, 0);
  assert.equal(lint(['-f', CHAINED, '--failure-threshold', 'info'], { root }).status, 0);
  // hadolint's levels: style is the lowest a finding has, ignore below it (every finding fails)
  assert.equal(lint(['-f', infoOnly, '--failure-threshold', 'style'], { root }).status, 1);
  assert.equal(lint(['-f', infoOnly, '--failure-threshold', 'ignore'], { root }).status, 1);
  assertCliError(lint(['-f', SPLIT, '--failure-threshold', 'bogus'], { root }), 'an unknown threshold');
});

test('lint: a missing Dockerfile and a bad one exit 2', (t) => {
  const root = tempDir(t);
  const dir = tempDir(t);
  assertCliError(lint([dir], { root }), 'lint of a context without a Dockerfile');
  assertCliError(lint(['-f', join(dir, 'nope')], { root }), 'lint -f of a missing file');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM a\nRUN <<EOF\necho\n');
  assert.match(assertCliError(lint([dir], { root }), 'lint of a bad Dockerfile'), /Dockerfile:2: .*heredoc/);
});

test('lint --format sarif: valid against the SARIF 2.1.0 schema, with rules, levels and locations', (t) => {
  const root = tempDir(t);
  const r = lint(['-f', SPLIT, '--format', 'sarif'], { root });
  assert.equal(r.status, 1, r.stderr);
  const log = JSON.parse(r.stdout);

  // OASIS's SARIF 2.1.0 schema (rtm.5), kept with the tests
  const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'sarif-schema-2.1.0.json'), 'utf8'));
  // The schema (2.1.0-rtm.5) is draft-04 and has a pattern that is invalid as a unicode regexp.
  const ajv = new AjvDraft04Module.default({ allErrors: true, strict: false, unicodeRegExp: false });
  const validate = ajv.compile(schema);
  assert.ok(validate(JSON.parse(r.stdout)), JSON.stringify(validate.errors, null, 2));
  // the schema is strict enough to refuse a broken log (a run without its tool)
  assert.equal(validate({ ...JSON.parse(r.stdout), runs: [{ results: [] }] }), false);

  assert.equal(log.version, '2.1.0');
  const run = log.runs[0];
  assert.equal(run.tool.driver.name, 'shale');
  const ruleIds: string[] = run.tool.driver.rules.map((x: { id: string }) => x.id);
  for (const res of run.results) {
    assert.ok(ruleIds.includes(res.ruleId));
    assert.equal(run.tool.driver.rules[res.ruleIndex].id, res.ruleId);
    assert.ok(['error', 'warning', 'note'].includes(res.level));
    assert.equal(res.locations[0].physicalLocation.artifactLocation.uri, 'examples/seed/Dockerfile.split');
  }
  const byRule = new Map(run.results.map((x: { ruleId: string }) => [x.ruleId, x]));
  const removed = byRule.get('SL1010') as { level: string; locations: { physicalLocation: { region: { startLine: number } } }[]; relatedLocations: { physicalLocation: { region: { startLine: number } } }[] };
  assert.equal(removed.level, 'error');
  assert.equal(removed.locations[0]!.physicalLocation.region.startLine, 6);
  assert.deepEqual(removed.relatedLocations.map((l) => l.physicalLocation.region.startLine), [5]);
  assert.equal((byRule.get('SL1001') as { level: string }).level, 'note');

  // a path relative to the working directory, whatever the directory
  const fromSeed = JSON.parse(lint(['-f', 'Dockerfile.split', '--format', 'sarif'], { root, cwd: join(REPO_ROOT, SEED) }).stdout);
  assert.equal(fromSeed.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri, 'Dockerfile.split');
});

/** A Dockerfile with a warning (DL3009 at line 3), an info (DL3015 at line 3) and a plain-file ADD (DL3020 at line 5). */
const CI_DOCKERFILE = ['FROM debian:12-slim', '# hadolint ignore=DL3015', 'RUN apt-get update && apt-get install -y curl', '# shale ignore=SL1012', 'ADD notes.txt /opt/', 'ADD more.txt /opt/', ''].join('\n');

test('lint DOCKERFILE, a directory, and - for stdin, as hadolint takes them', (t) => {
  const root = tempDir(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'Dockerfile.ci'), CI_DOCKERFILE);
  const asFile = lintJson(['Dockerfile.ci'], { root, cwd: dir });
  assert.deepEqual([...new Set(asFile.findings.map((f) => f.rule))].sort(), ['SL1003', 'SL1012']);
  const text = lint(['Dockerfile.ci'], { root, cwd: dir });
  assert.match(text.stdout, /^Dockerfile\.ci:3 SL1003 \(DL3009\) warning: /m);

  const stdin = shale(['lint', '-', '--format', 'json'], { root, cwd: dir, input: CI_DOCKERFILE });
  assert.deepEqual(JSON.parse(stdin.stdout), asFile.findings);
  assert.match(shale(['lint', '-'], { root, cwd: dir, input: CI_DOCKERFILE }).stdout, /^-:3 SL1003/m);

  writeFileSync(join(dir, 'Dockerfile'), 'FROM alpine:3.20\nRUN apk add curl\n');
  assert.deepEqual(lintJson([dir], { root }).findings.map((f) => f.rule), ['SL1005']);
  assertCliError(lint([join(dir, 'nope')], { root }), 'a missing Dockerfile path');
});

test('lint pragmas: # hadolint ignore= and # shale ignore= on the line above drop those findings only', (t) => {
  const root = tempDir(t);
  const r = shale(['lint', '-', '--format', 'json'], { root, input: CI_DOCKERFILE });
  const got = (JSON.parse(r.stdout) as JsonFinding[]).map((f) => `${f.line}:${f.rule}`);
  // DL3015 (SL1004) on line 3 and SL1012 on line 5 are ignored; line 6's ADD and line 3's DL3009 stay
  assert.deepEqual(got, ['3:SL1003', '6:SL1012']);
  const global = shale(['lint', '-', '--format', 'json'], { root, input: `# hadolint global ignore=DL3009,SL1012\n${CI_DOCKERFILE}` });
  assert.deepEqual(JSON.parse(global.stdout), []);
});

test('lint .hadolint.yaml: ignored, override, failure-threshold, no-fail; unknown keys warn; flags win', (t) => {
  const root = tempDir(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'Dockerfile'), CI_DOCKERFILE);
  const run = (args: string[]) => shale(['lint', ...args, '--format', 'json'], { root, cwd: dir });
  const rules = (r: { stdout: string }) => (JSON.parse(r.stdout) as JsonFinding[]).map((f) => `${f.rule}:${f.severity}`);
  assert.deepEqual(rules(run([])), ['SL1003:warning', 'SL1012:info']);

  writeFileSync(join(dir, '.hadolint.yaml'), ['ignored: [DL3020]', 'override:', '  error: [DL3009]', 'failure-threshold: error', 'trustedRegistries: [docker.io]', ''].join('\n'));
  const configured = run([]);
  assert.deepEqual(rules(configured), ['SL1003:error']);
  assert.equal(configured.status, 1);
  assert.match(configured.stderr, /^warning: lint config \.hadolint\.yaml: "trustedRegistries" is not read by shale lint/m);
  // --ignore adds to the config's list; --no-fail exits 0 whatever is found; the flag's threshold wins
  assert.deepEqual([run(['--ignore', 'SL1003']).status, rules(run(['--ignore', 'SL1003']))], [0, []]);
  assert.equal(run(['--no-fail']).status, 0);
  writeFileSync(join(dir, '.hadolint.yaml'), 'override:\n  style: [SL1003, DL3020]\nno-fail: false\n');
  assert.deepEqual(rules(run([])), ['SL1003:style', 'SL1012:style']);
  assert.equal(run(['--failure-threshold', 'info']).status, 0);
  assert.equal(run(['--failure-threshold', 'style']).status, 1);

  // --config names another file; a bad value in a known key is an error naming the file
  writeFileSync(join(dir, 'strict.yaml'), 'failure-threshold: warning\n');
  assert.equal(run(['--config', 'strict.yaml', '--ignore', 'SL1003']).status, 0);
  writeFileSync(join(dir, 'bad.yaml'), 'ignored: DL3009\n');
  assert.match(assertCliError(run(['--config', 'bad.yaml']), 'a config whose ignored is not a list'), /bad\.yaml: ignored must be a list/);
  assertCliError(run(['--config', 'missing.yaml']), 'a missing --config file');
  assertCliError(run(['--ignore', 'nope']), 'an --ignore that is not a rule ID');
});

test('lint --format checkstyle and gitlab_codeclimate: the shapes hadolint writes', (t) => {
  const root = tempDir(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'Dockerfile'), CI_DOCKERFILE);
  const xml = lint(['--format', 'checkstyle'], { root, cwd: dir });
  assert.equal(xml.status, 1);
  assert.match(xml.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?><checkstyle version="4\.3"><file name="Dockerfile">(<error [^>]*\/>)+<\/file><\/checkstyle>\n?$/);
  const errors = [...xml.stdout.matchAll(/<error column="1" line="(\d+)" message="([^"]*)" severity="(\w+)" source="(\w+)"\/>/g)].map((m) => [m[1], m[3], m[4]]);
  assert.deepEqual(errors, [['3', 'warning', 'DL3009'], ['6', 'info', 'DL3020']]);
  writeFileSync(join(dir, 'Dockerfile'), 'FROM debian:12-slim\n');
  assert.match(lint(['--format', 'checkstyle'], { root, cwd: dir }).stdout, /<checkstyle version="4\.3"><file name="Dockerfile"\/><\/checkstyle>/);

  writeFileSync(join(dir, 'Dockerfile'), CI_DOCKERFILE);
  const gl = lint(['--format', 'gitlab_codeclimate'], { root, cwd: dir });
  const issues = JSON.parse(gl.stdout) as { type: string; fingerprint: string; check_name: string; description: string; categories: string[]; location: { path: string; lines: { begin: number; end: number } }; severity: string }[];
  assert.deepEqual(
    issues.map((i) => [i.type, i.check_name, i.severity, i.location, i.categories]),
    [
      ['issue', 'DL3009', 'major', { path: 'Dockerfile', lines: { begin: 3, end: 3 } }, ['Bug Risk']],
      ['issue', 'DL3020', 'info', { path: 'Dockerfile', lines: { begin: 6, end: 6 } }, ['Bug Risk']],
    ],
  );
  for (const i of issues) assert.match(i.fingerprint, /^[0-9a-f]{40}$/);
  assert.notEqual(issues[0]!.fingerprint, issues[1]!.fingerprint);
});
