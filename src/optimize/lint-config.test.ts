import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyLintSettings, emptyLintSettings, ignorePragmas, parseLintConfig } from './lint-config.js';
import { renderCheckstyle } from './lint-formats.js';
import { lintDockerfile } from './lint.js';

const TEXT = ['FROM alpine:3.20', '# hadolint ignore=DL3019', 'RUN apk add a', '# hadolint ignore=DL3019', '', 'RUN apk add b', 'RUN apk add c # hadolint ignore=DL3019', ''].join('\n');

test('a pragma applies to the line right below it only, by either ID', () => {
  assert.deepEqual([...ignorePragmas(TEXT).byLine.keys()], [3, 5]);
  const left = applyLintSettings(lintDockerfile(TEXT), TEXT, emptyLintSettings()).filter((f) => f.rule === 'SL1005');
  assert.deepEqual(left.map((f) => f.line), [6, 7]);
  const bySl = TEXT.replace('# hadolint ignore=DL3019\n\n', '# shale ignore=SL1005, DL3059\n');
  assert.deepEqual(applyLintSettings(lintDockerfile(bySl), bySl, emptyLintSettings()).filter((f) => f.rule === 'SL1005').map((f) => f.line), [6]);
  // disable-ignore-pragma: the pragmas are not read
  const { settings } = parseLintConfig('disable-ignore-pragma: true\n', 'c.yaml');
  assert.equal(applyLintSettings(lintDockerfile(TEXT), TEXT, settings).filter((f) => f.rule === 'SL1005').length, 3);
});

test('config: keys hadolint has that shale does not read warn; wrong types are errors naming the key', () => {
  const { settings, warnings } = parseLintConfig('ignored: [DL3009, SL1013]\nlabel-schema: {author: text}\nno-color: true\n', '.hadolint.yaml');
  assert.deepEqual(settings.ignored, ['DL3009', 'SL1013']);
  assert.deepEqual(warnings.map((w) => w.replace(/.*: "([^"]+)".*/, '$1')), ['label-schema', 'no-color']);
  assert.throws(() => parseLintConfig('override:\n  fatal: [DL3009]\n', 'x.yaml'), /x\.yaml: override: "fatal" is not one of error, warning, info, style/);
  assert.throws(() => parseLintConfig('failure-threshold: loud\n', 'x.yaml'), /failure-threshold "loud"/);
  assert.throws(() => parseLintConfig('no-fail: yes please\n', 'x.yaml'), /no-fail must be true or false/);
  assert.throws(() => parseLintConfig('- a\n', 'x.yaml'), /expected a mapping/);
  assert.deepEqual(parseLintConfig('', 'x.yaml').settings, emptyLintSettings());
});

test('checkstyle escapes what XML attributes cannot hold', () => {
  const xml = renderCheckstyle('a"<b>&.Dockerfile', [{ rule: 'SL1001', line: 2, severity: 'info', message: 'x < y & "z"', fix: 'f' }]);
  assert.match(xml, /name="a&quot;&lt;b&gt;&amp;\.Dockerfile"/);
  assert.match(xml, /message="SL1001: x &lt; y &amp; &quot;z&quot;\. Fix: f"/);
  assert.match(xml, /source="SL1001"/);
});

test("hadolint's pragma vectors: lists with spaces, a bad name spoils the pragma, stage and global scopes", () => {
  const left = (text: string) => applyLintSettings(lintDockerfile(text), text, emptyLintSettings()).filter((f) => f.rule === 'SL1005').map((f) => f.line);
  assert.deepEqual(left('FROM alpine\n# hadolint ignore=crazy,DL3019\nRUN apk add a\n'), [3]);
  assert.deepEqual(left('FROM alpine\n# hadolint ignore=DL3059 , DL3019\nRUN apk add a\n'), []);
  assert.deepEqual(left('# hadolint ignore=DL3019\nFROM alpine\nRUN apk add a\n'), [3]);
  assert.deepEqual(left('# hadolint global ignore = DL3059 , DL3019\nFROM alpine\nRUN apk add a\n'), []);
  const staged = 'FROM alpine AS one\nRUN apk add a\n# hadolint stage ignore=DL3019\nFROM one\nRUN apk add b\nRUN apk add c\n';
  assert.deepEqual(left(staged), [2]);
});
