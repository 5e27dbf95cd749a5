#!/usr/bin/env node
// `npm run build`: compiles the TypeScript (dist/src, dist/test), then bundles the CLI and the programs it
// starts (the analysis and layer-tar workers, the user-namespace entry) into single CommonJS files, and the
// entry of the single executable (`npm run package`). The
// bundles carry the version (package.json) and the commit they were built from, which `shale --version` prints.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' }).trim();

run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
let commit = process.env.SHALE_BUILD_COMMIT ?? 'unknown';
try {
  commit = run('git', ['rev-parse', '--short=12', 'HEAD']) + (run('git', ['status', '--porcelain', '--untracked-files=no']) ? '-dirty' : '');
} catch {
  // not a git checkout (a source tarball): SHALE_BUILD_COMMIT or "unknown"
}

// Built-in modules that cost milliseconds to load and that most commands never call (`images` hashes,
// compresses, spawns and connects nothing): in the CLI bundles each is an object of getters that loads the
// real module on first use. Measured on Node 24: crypto adds about 6 ms to a start, zlib, worker_threads and
// child_process (which commander requires) about 2 ms each.
const LAZY_BUILTINS = ['crypto', 'zlib', 'worker_threads', 'child_process', 'http', 'https', 'tls', 'net'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter }, (a) =>
      a.namespace === 'lazy-builtin' ? { path: a.path, external: true } : { path: a.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (a) => {
      const names = Object.keys(createRequire(import.meta.url)(`node:${a.path}`));
      const getters = names.map((n) => `get ${JSON.stringify(n)}() { return load()[${JSON.stringify(n)}]; }`);
      return { contents: `let m; const load = () => (m ??= require('node:${a.path}')); module.exports = { ${getters.join(', ')} };`, loader: 'js' };
    });
  },
};
const lazyIn = new Set(['dist/shale.cjs', 'dist/launcher.cjs', 'dist/sea-entry.cjs']);

const bundles = {
  'dist/src/cli/main.js': 'dist/shale.cjs',
  'dist/src/analyze/scan-worker.js': 'dist/scan-worker.cjs',
  'dist/src/build/layer-tar-worker.js': 'dist/layer-tar-worker.cjs',
  'dist/src/cli/launcher.js': 'dist/launcher.cjs', // bin/shale.mjs's steps before the CLI
  'dist/src/cli/sea-entry.js': 'dist/sea-entry.cjs', // the single executable's main (scripts/package.sh)
};
await Promise.all(
  Object.entries(bundles).map(([entry, outfile]) =>
    build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      minifyWhitespace: true,
      minifySyntax: true,
      logLevel: 'warning',
      logOverride: { 'empty-import-meta': 'silent' },
      define: { SHALE_VERSION: JSON.stringify(version), SHALE_COMMIT: JSON.stringify(commit) },
      plugins: lazyIn.has(outfile) ? [lazyBuiltins] : [],
    }),
  ),
);
// code caches of an earlier build are stale
for (const f of readdirSync(join(root, 'dist'))) if (f.endsWith('.v8cache')) rmSync(join(root, 'dist', f));
