/**
 * The published package, as a user gets it: `npm pack` a clean copy of the repository (its prepack script
 * builds), check what the tarball holds and its size, install it into an empty folder, type-check and run a
 * program that imports 'shale' there, and run the installed `shale` bin (`npx shale`).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, tempDir } from './support/shale.js';

/** The size the package stays under (README, "As a library"): the gzipped tarball and the installed files. */
const MAX_PACKED_BYTES = 1_000_000;
const MAX_UNPACKED_BYTES = 3_000_000;

const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The repository as a fresh clone has it (its tracked files as the work tree has them, no dist/), sharing its node_modules. */
function cleanCopy(into: string): string {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' });
  for (const file of files.split('\0')) {
    const from = join(REPO_ROOT, file);
    const to = join(into, file);
    if (!file || !existsSync(from)) continue; // deleted in the work tree
    mkdirSync(dirname(to), { recursive: true });
    if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else copyFileSync(from, to);
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(into, 'node_modules'));
  return into;
}

/** What the package holds beyond the library's .js and .d.ts files under dist/src. */
const PACKED_PROGRAMS = ['bin/shale', 'bin/shale.mjs', 'dist/shale.cjs', 'dist/scan-worker.cjs', 'dist/layer-tar-worker.cjs', 'dist/launcher.cjs'];

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
const before = (await store.readIndex()).length;
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
console.log(JSON.stringify({ before, names, id, analysisId: analysis.id, layers: analysis.layers.length, sizeBytes: analysis.sizeBytes, efficiency: analysis.dive.efficiency, pass: verdict.pass, lintRules: findings.map((f) => f.rule), refused }));
`;

/** The program the README's "As a library" section shows. */
function readmeExample(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## As a library'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined && code.includes("from 'shale'"), 'the README shows a program that imports shale');
  return code;
}

test('npm pack from a clean tree: the tarball holds the bins, bundles and library with types, nothing else; installed, `npx shale` and its named exports and types work', (t) => {
  // the version line the repository's own build prints; the copy has no git, so it is handed the same commit
  const repoVersion = execFileSync(join(REPO_ROOT, 'bin', 'shale'), ['--version'], { encoding: 'utf8' }).trim();
  const commit = /^shale version \S+, build (\S+)$/.exec(repoVersion)?.[1];
  assert.ok(commit, repoVersion);

  const tree = cleanCopy(tempDir(t, 'shale-clean-'));
  const packDir = tempDir(t);
  // prepack builds the copy: without it the tarball would have no dist/
  const json = npm(['pack', '--json', '--pack-destination', packDir], tree, { ...process.env, SHALE_BUILD_COMMIT: commit });
  const [packed] = JSON.parse(json.slice(json.indexOf('['))) as { filename: string; size: number; unpackedSize: number }[];
  const tarball = join(packDir, packed!.filename);

  const paths = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter((p) => p && !p.endsWith('/')).map((p) => p.replace(/^package\//, ''));
  for (const p of [...PACKED_PROGRAMS, 'package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts']) assert.ok(paths.includes(p), `${p} is not packed`);
  const unexpected = paths.filter((p) => !PACKED_PROGRAMS.includes(p) && !['package.json', 'README.md'].includes(p) && !/^dist\/src\/.*\.(js|d\.ts)$/.test(p));
  assert.deepEqual(unexpected, [], 'only the bins, the bundles and the library are packed');
  assert.deepEqual(paths.filter((p) => /\.test\.|fixtures|\.map$|^dist\/src\/cli\//.test(p)), [], 'no tests, fixtures, source maps or CLI modules (the CLI runs from its bundle)');
  const library = paths.filter((p) => p.startsWith('dist/src/'));
  assert.deepEqual(library.filter((p) => p.endsWith('.js') && !library.includes(p.replace(/\.js$/, '.d.ts'))), [], 'every module has its types');
  assert.equal(statSync(tarball).size, packed!.size);
  assert.ok(packed!.size < MAX_PACKED_BYTES, `packed ${packed!.size} bytes, over ${MAX_PACKED_BYTES}`);
  assert.ok(packed!.unpackedSize < MAX_UNPACKED_BYTES, `unpacked ${packed!.unpackedSize} bytes, over ${MAX_UNPACKED_BYTES}`);

  const app = tempDir(t);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // dependencies come from npm's cache when it has them (the repository's own install filled it)
  npm(['install', '--prefer-offline', '--no-package-lock', tarball], app);
  assert.ok(existsSync(join(app, 'node_modules', 'shale', 'package.json')));

  // npx runs the bin npm linked into node_modules/.bin (a symlink to the package's bin/shale), as a user types it
  assert.ok(lstatSync(join(app, 'node_modules', '.bin', 'shale')).isSymbolicLink());
  const npx = spawnSync('npx', ['shale', '--version'], { cwd: app, encoding: 'utf8' });
  assert.equal(npx.status, 0, npx.stderr);
  assert.equal(npx.stdout.trim(), repoVersion);

  writeFileSync(join(app, 'consumer.ts'), CONSUMER);
  writeFileSync(join(app, 'readme-example.ts'), readmeExample());
  // the consumers' own check, the installed package's declarations included (no --skipLibCheck)
  const tsc = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), 'consumer.ts', 'readme-example.ts', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--typeRoots', join(REPO_ROOT, 'node_modules', '@types'), '--types', 'node'],
    { cwd: app, encoding: 'utf8' },
  );
  assert.equal(tsc.status, 0, `consumer.ts or the README's example does not type-check against the installed package:\n${tsc.stdout}${tsc.stderr}`);

  const store = join(app, 'store');
  const run = spawnSync(process.execPath, ['consumer.js', store], { cwd: app, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.equal(out.before, 0, 'a new store lists no images');
  assert.deepEqual(out.names, ['etc/', 'etc/motd']);
  assert.match(out.id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(out.analysisId, out.id);
  assert.equal(out.layers, 1);
  assert.equal(out.sizeBytes, 6);
  assert.equal(out.efficiency, 1);
  assert.equal(out.pass, true);
  assert.ok(out.lintRules.length > 0, 'lint finds the apt cache left in the layer');
  assert.equal(out.refused, 'NOT_FOUND');

  // the installed CLI reads the store the program wrote
  const bin = spawnSync(join(app, 'node_modules', '.bin', 'shale'), ['--root', store, 'images', '--format', 'json'], { cwd: app, encoding: 'utf8' });
  assert.equal(bin.status, 0, bin.stderr);
  const rows = JSON.parse(bin.stdout) as { repository: string; tag: string; id: string }[];
  assert.deepEqual(rows.map((r) => [r.repository, r.tag, r.id]), [['demo', '1', out.id]]);
});
