/**
 * Arguments and options work as documented, never accepted and ignored: `images [REPOSITORY[:TAG]]`
 * filters as `docker images` does (checked against the Docker Engine), `--root` after the command,
 * `analyze -o -` on stdout, `analyze --compare --format html` as a page, and the analysis named by the
 * reference the user typed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendLayer, oneFileLayer } from './support/append-layer.js';
import { docker, dockerCleanup, dockerOk } from './support/docker.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { REPO_ROOT, SHALE_BIN, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix, type ImageRow } from './support/shale.js';
import { requireTool } from './support/tools.js';

/** Names for the filter cases: one repository with two tags, a longer name, one under a path, one with a host. */
const names = (p: string): string[] => [`${p}-box:1`, `${p}-box:latest`, `${p}-boxx:1`, `${p}/${p}-box:2`, `localhost:5000/${p}-box:3`];

/** Patterns and what `docker images PATTERN` (Engine 20.10) lists for the names above. */
const patterns = (p: string): [string, string[]][] => [
  [`${p}-box`, [`${p}-box:1`, `${p}-box:latest`]],
  [`${p}-box:1`, [`${p}-box:1`]],
  [`${p}-box:latest`, [`${p}-box:latest`]],
  [`${p}-bo*`, [`${p}-box:1`, `${p}-box:latest`, `${p}-boxx:1`]],
  [`*/${p}-box`, [`${p}/${p}-box:2`, `localhost:5000/${p}-box:3`]],
  [`${p}-box:*`, [`${p}-box:1`, `${p}-box:latest`]],
  [`${p}*box:1`, [`${p}-box:1`]],
  [`${p}?box`, [`${p}-box:1`, `${p}-box:latest`]],
  [`${p}/*`, [`${p}/${p}-box:2`]],
  [`localhost:5000/${p}-box`, [`localhost:5000/${p}-box:3`]],
  [`${p}-box:[0-9]`, [`${p}-box:1`]],
  [`${p}-box:[^0-9]*`, [`${p}-box:latest`]],
  [`docker.io/library/${p}-box`, []],
  [`${p}-nothing`, []],
];

const listed = (rows: ImageRow[]): string[] => rows.map((r) => `${r.repository}:${r.tag}`).sort();

test('images REPOSITORY[:TAG]: lists what docker images lists for the same names and pattern', async (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const p = `shalepat${uniqueSuffix().replace(/[^a-z0-9]/g, '')}`;
  const tar = tarDir(makeBusyboxRootfs(join(work, 'rootfs')), join(work, 'rootfs.tar'));
  const [first, ...rest] = names(p);
  shaleOk(['import', tar, first!], { root });
  for (const n of rest) shaleOk(['tag', first!, n], { root });
  shaleOk(['import', tar], { root }); // an untagged image: never listed under a pattern

  const expected = new Map(patterns(p));
  for (const [pattern, want] of expected) {
    assert.deepEqual(listed(shaleJson<ImageRow[]>(['images', pattern], { root })), want.sort(), `shale images ${pattern}`);
  }
  assert.equal(listed(shaleJson<ImageRow[]>(['images'], { root })).length, 6, 'without a pattern every image is listed');

  await t.test('the same names in the Docker Engine give the same lists', (tt) => {
    if (!requireTool(tt, 'docker')) return;
    const cleanup = dockerCleanup(tt);
    dockerOk(['import', tar, first!]);
    cleanup.image(first!);
    for (const n of rest) {
      dockerOk(['tag', first!, n]);
      cleanup.image(n);
    }
    for (const [pattern, want] of expected) {
      const got = dockerOk(['images', '--format', '{{.Repository}}:{{.Tag}}', pattern]).split('\n').filter(Boolean).sort();
      assert.deepEqual(got, want.sort(), `docker images ${pattern}`);
    }
    const bad = docker(['images', `${p}:[`]);
    assert.notEqual(bad.status, 0, 'docker refuses a malformed pattern too');
    assert.match(bad.stderr, /syntax error in pattern/);
  });
});

/** Runs `node bin/shale.mjs ARGS` with exactly the arguments given (no --root added). */
function shaleRaw(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const e = { ...process.env, ...env };
  delete e.CI;
  const r = spawnSync(process.execPath, [SHALE_BIN, ...args], { cwd: REPO_ROOT, env: e, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--root after the command: used as before it, and it wins over --root before it and $SHALE_ROOT', (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const other = tempStore(t);
  shaleOk(['import', tarDir(makeBusyboxRootfs(join(work, 'rootfs')), join(work, 'rootfs.tar')), 'rooted:1'], { root });
  for (const [args, env] of [
    [['images', '--root', root, '--format', 'json'], { SHALE_ROOT: other }],
    [['--root', other, 'images', '--root', root, '--format', 'json'], {}],
    [['inspect', 'rooted:1', '--root', root, '--format', 'json'], { SHALE_ROOT: other }],
  ] as [string[], Record<string, string>][]) {
    const r = shaleRaw(args, env);
    assert.equal(r.status, 0, `shale ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /rooted/, `shale ${args.join(' ')} reads ${root}`);
  }
  assert.equal(existsSync(join(other, 'index.json')) ? JSON.parse(readFileSync(join(other, 'index.json'), 'utf8')).manifests.length : 0, 0);
});

test('analyze: -o - is stdout, --compare --format html is a page, the title names the typed reference', async (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const o = { root, cwd: work };
  shaleOk(['import', tarDir(makeBusyboxRootfs(join(work, 'rootfs')), join(work, 'rootfs.tar')), 'zz-base:1'], o);
  await appendLayer(root, 'zz-base:1', 'zz-app:1', await oneFileLayer('app/<b>&.txt', Buffer.alloc(5000, 1)), 'COPY app /app');
  // another name of the same image, sorting before the one the user types
  shaleOk(['tag', 'zz-app:1', 'aa-other:1'], o);

  await t.test('-o - writes to stdout, for every format, and makes no file named "-"', () => {
    const json = JSON.parse(shaleOk(['analyze', 'zz-app:1', '--format', 'json', '-o', '-'], o).stdout) as { image: string };
    assert.equal(json.image, 'zz-app:1');
    assert.match(shaleOk(['analyze', 'zz-app:1', '-o', '-'], o).stdout, /^Image zz-app:1 /);
    assert.match(shaleOk(['analyze', 'zz-app:1', '--format', 'html', '-o', '-'], o).stdout, /^<!doctype html>/);
    assert.equal(existsSync(join(work, '-')), false);
  });

  await t.test('the analysis is named by the reference typed, in JSON, text and HTML', () => {
    assert.equal(shaleJson<{ image: string }>(['analyze', 'zz-app:1'], o).image, 'zz-app:1');
    assert.equal(shaleJson<{ image: string }>(['analyze', 'zz-app'.concat(':1')], o).image, 'zz-app:1');
    assert.match(shaleOk(['analyze', 'zz-app:1'], o).stdout, /^Image zz-app:1 /);
    assert.match(shaleOk(['analyze', 'zz-app:1', '--format', 'html'], o).stdout, /<h1>zz-app:1<\/h1>/);
    assert.equal(shaleJson<{ image: string }>(['analyze', 'aa-other:1'], o).image, 'aa-other:1');
    const c = shaleJson<{ a: string; b: string }>(['analyze', 'zz-app:1', '--compare', 'zz-base:1'], o);
    assert.deepEqual([c.a, c.b], ['zz-base:1', 'zz-app:1']);
  });

  await t.test('--compare --format html: a self-contained page listing the changes, to stdout or -o FILE', () => {
    const page = shaleOk(['analyze', 'zz-app:1', '--compare', 'zz-base:1', '--format', 'html'], o).stdout;
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-[^']+'; script-src 'none';/);
    assert.match(page, /<h1>zz-base:1 → zz-app:1<\/h1>/);
    assert.match(page, /data-metric="added"><div class="k">Added<\/div><div class="v">1<\/div>/);
    const added = /<table id="added">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? '';
    assert.match(added, /<code>\/app\/&#60;b&#62;&#38;\.txt<\/code><\/td><td class="num">5kB<\/td>/, 'paths escaped, sizes shown');
    assert.doesNotMatch(page, /<b>&\.txt/, 'no markup from the image');
    assert.match(page, /<table id="changed">|Changed \(0\)/);
    const file = join(work, 'compare.html');
    shaleOk(['analyze', 'zz-app:1', '--compare', 'zz-base:1', '--format', 'html', '-o', file], o);
    assert.equal(readFileSync(file, 'utf8'), page);
  });
});

test('--version (and -v) prints the version of package.json and the commit the bundle was built from, exit 0', (t) => {
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const head = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' });
  for (const flag of ['--version', '-v']) {
    const out = shaleOk([flag], { root: tempStore(t) }).stdout;
    assert.match(out, new RegExp(`^shale version ${version.replace(/\./g, '\\.')}, build ([0-9a-f]{12}(-dirty)?|unknown)\\n$`));
    if (head.status === 0) assert.ok(out.includes(`build ${head.stdout.trim()}`), `${out} names HEAD ${head.stdout.trim()}`);
    // alone, the launcher answers it before the CLI is loaded; before a command, the CLI's own option does
    assert.equal(shaleOk([flag, 'images'], { root: tempStore(t) }).stdout, out);
  }
});
