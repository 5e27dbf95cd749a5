#!/usr/bin/env node
// `npm run build`: compiles the TypeScript (dist/src, dist/test), then bundles the CLI and the programs it
// starts (the analysis and layer-tar workers, the user-namespace entry) into single CommonJS files, and the
// entry of the single executable (`npm run package`). The
// bundles carry the version (package.json) and the commit they were built from, which `shale --version` prints.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, readdirSync } from 'node:fs';
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

const bundles = {
  'dist/src/cli/main.js': 'dist/shale.cjs',
  'dist/src/analyze/scan-worker.js': 'dist/scan-worker.cjs',
  'dist/src/build/layer-tar-worker.js': 'dist/layer-tar-worker.cjs',
  'dist/src/runtime/enter-user-namespace.js': 'dist/user-namespace.cjs',
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
    }),
  ),
);
// code caches of an earlier build are stale
for (const f of readdirSync(join(root, 'dist'))) if (f.endsWith('.v8cache')) rmSync(join(root, 'dist', f));
