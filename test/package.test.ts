/**
 * The published package, as a user gets it: `npm pack` the built tree, install the tarball into an empty
 * folder, type-check and run a program that imports 'shale' there, and run the installed `shale` bin.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, tempDir } from './support/shale.js';

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** What the installed package is used for: named imports, real work on tars, a store, an analysis and lint. */
const CONSUMER = `
import { analyzeImage, DEFAULT_CI_LIMITS, evaluateCiRules, importRootfs, lintDockerfile, makeHeader, readTar, ShaleError, Store, writeTar, type TarWriteEntry } from 'shale';

const bytes = (s: string) => new TextEncoder().encode(s);
const entries: TarWriteEntry[] = [
  { header: makeHeader({ name: 'etc/', type: 'dir' }) },
  { header: makeHeader({ name: 'etc/motd', type: 'file', size: 6 }), body: bytes('hello\\n') },
];
const names: string[] = [];
for await (const e of readTar(writeTar(entries))) names.push(e.header.name);

const store = await Store.open(process.argv[2]!);
const { id } = await importRootfs(store, writeTar(entries), 'demo:1', 'demo tar');
const { image } = await store.resolve('demo:1');
const analysis = await analyzeImage(image, { name: 'demo:1' });
const verdict = evaluateCiRules(analysis.dive, DEFAULT_CI_LIMITS);
const findings = lintDockerfile('FROM debian\\nRUN apt-get update && apt-get install -y curl\\n');
let refused = '';
try {
  await store.resolve('missing:1');
} catch (e) {
  if (e instanceof ShaleError) refused = e.code;
}
console.log(JSON.stringify({ names, id, analysisId: analysis.id, layers: analysis.layers.length, sizeBytes: analysis.sizeBytes, efficiency: analysis.dive.efficiency, pass: verdict.pass, lintRules: findings.map((f) => f.rule), refused }));
`;

test('npm pack: the tarball installs into an empty folder; its types, its named exports and its bin work from there', (t) => {
  const packDir = tempDir(t);
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', packDir], REPO_ROOT)) as { filename: string; files: { path: string }[] }[];
  const paths = packed!.files.map((f) => f.path);
  assert.ok(paths.includes('dist/src/index.js') && paths.includes('dist/src/index.d.ts') && paths.includes('dist/shale.cjs'), paths.join(' '));
  assert.deepEqual(paths.filter((p) => /\.test\.|fixtures|^dist\/test\//.test(p)), [], 'tests stay out of the package');

  const app = tempDir(t);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // dependencies come from npm's cache when it has them (the repository's own install filled it)
  npm(['install', '--prefer-offline', '--no-package-lock', join(packDir, packed!.filename)], app);
  assert.ok(existsSync(join(app, 'node_modules', 'shale', 'package.json')));

  writeFileSync(join(app, 'consumer.ts'), CONSUMER);
  const tsc = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), 'consumer.ts', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--typeRoots', join(REPO_ROOT, 'node_modules', '@types'), '--types', 'node'],
    { cwd: app, encoding: 'utf8' },
  );
  assert.equal(tsc.status, 0, `consumer.ts does not type-check against the installed package:\n${tsc.stdout}${tsc.stderr}`);

  const store = join(app, 'store');
  const run = spawnSync(process.execPath, ['consumer.js', store], { cwd: app, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.deepEqual(out.names, ['etc/', 'etc/motd']);
  assert.match(out.id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(out.analysisId, out.id);
  assert.equal(out.layers, 1);
  assert.equal(out.sizeBytes, 6);
  assert.equal(out.efficiency, 1);
  assert.equal(out.pass, true);
  assert.ok(out.lintRules.length > 0, 'lint finds the apt cache left in the layer');
  assert.equal(out.refused, 'NOT_FOUND');

  // the bin npm linked runs the packed CLI, against the store the program wrote
  const bin = spawnSync(join(app, 'node_modules', '.bin', 'shale'), ['--root', store, 'images', '--format', 'json'], { cwd: app, encoding: 'utf8' });
  assert.equal(bin.status, 0, bin.stderr);
  const rows = JSON.parse(bin.stdout) as { repository: string; tag: string; id: string }[];
  assert.deepEqual(rows.map((r) => [r.repository, r.tag, r.id]), [['demo', '1', out.id]]);
});
