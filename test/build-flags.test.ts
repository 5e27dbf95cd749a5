/**
 * `shale build` flags and Dockerfile flags that follow Docker and BuildKit: `--build-arg NAME` read from
 * the environment, `COPY --parents`, `COPY/ADD --exclude`, and `ADD --checksum` refused as shale does
 * not fetch URLs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildEvents, busyboxBase, lastLine, writeContext } from './support/build.js';
import { shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { extractTar, treeOf } from './support/tree-compare.js';

/** One store with a busybox base, shared by the COPY tests of this file (removed when the file ends). */
const sharedDir = mkdtempSync(join(tmpdir(), 'shale-flags-'));
after(() => rmSync(sharedDir, { recursive: true, force: true }));
let shared: { root: string; base: string } | undefined;
function sharedBase(): { root: string; base: string } {
  if (!shared) {
    const root = join(sharedDir, 'store');
    const noCleanup = { after: () => undefined };
    shared = { root, base: busyboxBase(noCleanup, join(sharedDir, 'work'), root, `shale-flags-${uniqueSuffix()}:base`).ref };
  }
  return shared;
}

const labelsOf = (root: string, id: string): Record<string, string> =>
  shaleJson<{ config: { config: { Labels?: Record<string, string> } } }>(['inspect', id], { root }).config.config.Labels ?? {};

test('--build-arg NAME takes NAME from the environment; unset there, the ARG default stays (docker CLI)', { timeout: 60_000 }, (t) => {
  const root = tempStore(t);
  const ctx = writeContext(join(tempDir(t), 'ctx'), {
    Dockerfile: 'FROM scratch\nARG SHALE_T_SET=default-set\nARG SHALE_T_UNSET=default-unset\nARG SHALE_T_EMPTY=default-empty\nLABEL set=$SHALE_T_SET unset=$SHALE_T_UNSET empty=$SHALE_T_EMPTY\n',
  });
  const r = shale(['build', '-q', '--build-arg', 'SHALE_T_SET', '--build-arg', 'SHALE_T_UNSET', '--build-arg', 'SHALE_T_EMPTY', ctx], {
    root,
    env: { SHALE_T_SET: 'from the environment', SHALE_T_EMPTY: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(labelsOf(root, lastLine(r.stdout)), { set: 'from the environment', unset: 'default-unset', empty: '' });
  const bad = shale(['build', '-q', '--build-arg', '=x', ctx], { root });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error: invalid --build-arg "=x": the name is empty$/m);
});

/** The image's paths below `under/` (directories end in `/`, symlinks show their target), via `shale export`. */
function pathsOf(root: string, work: string, id: string, under: string): string[] {
  const tar = join(work, `${id.slice(7, 19)}.tar`);
  shaleOk(['export', id, '-o', tar], { root });
  const dir = join(work, `${id.slice(7, 19)}-tree`);
  extractTar(tar, dir);
  return [...treeOf(dir)]
    .filter(([p]) => p.startsWith(`${under}/`))
    .map(([p, e]) => `${p.slice(under.length + 1)}${e.type === 'dir' ? '/' : e.type === 'symlink' ? ` -> ${e.linkTarget}` : ''}`)
    .sort();
}

test('COPY --exclude / ADD --exclude leave out what the patterns match below each source (BuildKit\'s exclude_patterns_test)', { timeout: 120_000 }, (t) => {
  const { root, base } = sharedBase();
  const work = tempDir(t);
  const files = {
    'dir1/file-101.png': '2', 'dir1/file-102.txt': '3', 'dir1/file-103.jpeg': '4',
    'dir2/file-201.pdf': '6', 'dir2/file-202.jpeg': '7', 'dir2/file-203.png': '8',
    'dir3/file-301.mp3': '9', 'dir3/file-302.mpeg': '10',
    'dir4/file-401.txt': '11', 'dir4/file-402.txt': { symlink: 'file-401.txt' }, 'dir4/file-403.txt': { symlink: 'file-404.txt' },
  };
  const build = (name: string, dockerfile: string) => {
    const ctx = writeContext(join(work, name), { ...files, Dockerfile: `FROM ${base}\n${dockerfile}\n` });
    const r = shale(['build', '-q', ctx], { root });
    assert.equal(r.status, 0, r.stderr);
    return lastLine(r.stdout);
  };
  const one = build('b1', 'COPY --exclude=*/*.png --exclude=*/*.jpeg --exclude=Dockerfile . /1');
  assert.deepEqual(pathsOf(root, work, one, '1'), [
    'dir1/', 'dir1/file-102.txt', 'dir2/', 'dir2/file-201.pdf', 'dir3/', 'dir3/file-301.mp3', 'dir3/file-302.mpeg',
    'dir4/', 'dir4/file-401.txt', 'dir4/file-402.txt -> file-401.txt', 'dir4/file-403.txt -> file-404.txt',
  ]);
  const three = build('b3', 'ADD --exclude=*.mp3 dir3/ /3/');
  assert.deepEqual(pathsOf(root, work, three, '3'), ['file-302.mpeg']);
  const four = build('b4', 'COPY --exclude=*.mp3 --exclude=*.jpeg --exclude=*.png --exclude=*.pdf --exclude=*.txt dir* /4/');
  assert.deepEqual(pathsOf(root, work, four, '4'), ['file-302.mpeg']);
  const six = build('b6', 'ADD --exclude=* dir* /6/\nCOPY --exclude=!dir1 --exclude=dir1/*.png . /7/');
  assert.deepEqual(pathsOf(root, work, six, '6'), []);
  assert.ok(pathsOf(root, work, six, '7').includes('dir1/file-102.txt') && !pathsOf(root, work, six, '7').includes('dir1/file-101.png'));
  // a file source is copied whatever --exclude says, as in BuildKit (moby/buildkit#5489)
  const file = build('bf', 'COPY --exclude=*.txt dir4/file-401.txt /f/');
  assert.deepEqual(pathsOf(root, work, file, 'f'), ['file-401.txt']);
});

test('COPY --parents keeps each source\'s path from the context root or from its /./ pivot', { timeout: 120_000 }, (t) => {
  const { root, base } = sharedBase();
  const work = tempDir(t);
  const ctx = writeContext(join(work, 'ctx'), {
    'x/a.txt': 'xa', 'x/y/b.txt': 'xyb', 'x/y/c.md': 'xyc', 'y/a.txt': 'ya', 'z/deep/er/d.txt': 'd', 'top.txt': 't',
    Dockerfile: [
      `FROM ${base}`,
      'COPY ./x/a.txt ./y/a.txt /no_parents/', // without --parents both land on /no_parents/a.txt
      'COPY --parents ./x/a.txt ./y/a.txt /parents/',
      'COPY --parents ./x/./y/*.txt /pivot/',
      'COPY --parents --exclude=**/*.md z x/y /dirs',
      'COPY --parents */nothing*.txt /empty/',
      '',
    ].join('\n'),
  });
  const r = shale(['build', '-q', ctx], { root });
  assert.equal(r.status, 0, r.stderr);
  const id = lastLine(r.stdout);
  assert.deepEqual(pathsOf(root, work, id, 'no_parents'), ['a.txt']);
  assert.deepEqual(pathsOf(root, work, id, 'parents'), ['x/', 'x/a.txt', 'y/', 'y/a.txt']);
  assert.deepEqual(pathsOf(root, work, id, 'pivot'), ['y/', 'y/b.txt']);
  assert.deepEqual(pathsOf(root, work, id, 'dirs'), ['x/', 'x/y/', 'x/y/b.txt', 'z/', 'z/deep/', 'z/deep/er/', 'z/deep/er/d.txt']);
  assert.deepEqual(pathsOf(root, work, id, 'empty'), []);
  // a path without wildcards must exist
  writeContext(ctx, { Dockerfile: `FROM ${base}\nCOPY --parents x/missing.txt /p/\n` });
  const missing = shale(['build', '-q', ctx], { root });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^error: COPY failed: file not found in build context or excluded by .dockerignore: x\/missing.txt$/m);
});

test('ADD --checksum is refused with its line before any step runs', { timeout: 60_000 }, (t) => {
  const root = tempStore(t);
  const ctx = writeContext(join(tempDir(t), 'ctx'), { 'a.txt': 'a', Dockerfile: 'FROM scratch\nCOPY a.txt /a\nADD --checksum=sha256:0000 https://example.invalid/a.txt /b\n' });
  const r = shale(['build', '--progress', 'json', ctx], { root });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: Dockerfile:3: ADD --checksum is not supported: shale does not fetch URLs/m);
  assert.doesNotMatch(r.stderr, /"type":"step"/);
});

test('the COPY --exclude/--parents step key covers only what is copied: an excluded file changing keeps it cached', { timeout: 120_000 }, (t) => {
  const { root, base } = sharedBase();
  const ctx = writeContext(join(tempDir(t), 'ctx'), {
    'app/main.txt': 'v1',
    'app/debug.log': 'first',
    'other/x.txt': 'x',
    Dockerfile: `FROM ${base}\nCOPY --exclude=*.log app /app/\nCOPY --parents app/*.txt /p/\n`,
  });
  const copySteps = () => {
    const r = shale(['build', '--progress', 'json', ctx], { root });
    assert.equal(r.status, 0, r.stderr);
    const events = buildEvents(r.stderr);
    const steps = events.filter((e) => e.type === 'step' && String(e.text).startsWith('COPY')).map((e) => e.step);
    return steps.map((s) => events.some((e) => e.type === 'cached' && e.step === s));
  };
  copySteps();
  writeContext(ctx, { 'app/debug.log': 'second, and longer', 'other/x.txt': 'changed' });
  assert.deepEqual(copySteps(), [true, true], 'neither step copies what changed');
  writeContext(ctx, { 'app/main.txt': 'v2' });
  assert.deepEqual(copySteps(), [false, false], 'both copy app/main.txt');
});
