#!/usr/bin/env node
// Runs the CLI bundle (`npm run build` makes it) through V8's code cache: compiling the bundle from
// source on every start costs about 50 ms. One cache per command, since a cache holds the functions its
// run compiled. A missing or stale cache (another Node) is written on exit; a read-only install just
// runs without it. Before that, the small launcher bundle answers `--version`, and without root runs the
// command again inside the caller's user namespace; bin/shale joins that namespace itself when its holder
// is up.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`error: shale needs Node.js 22 or 24 (an LTS line); this is Node.js ${process.versions.node}\n`);
  process.exit(2);
}
const launcher = require('../dist/launcher.cjs');
if (launcher.answerVersion(args)) {
  // answered
} else if (launcher.needsUserNamespace(args)) {
  await launcher.runInUserNamespace(args);
} else {
  runBundle();
}

function runBundle() {
  const bundle = fileURLToPath(new URL('../dist/shale.cjs', import.meta.url));
  const command = launcher.commandOf(args) ?? 'none';
  const cacheFile = `${bundle}.${command}.v8cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {}
  const { exports, script } = launcher.runCommonJsBundle(readFileSync(bundle, 'utf8'), bundle, createRequire(bundle), cachedData);
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        const temp = `${cacheFile}.${process.pid}`;
        writeFileSync(temp, script.createCachedData());
        renameSync(temp, cacheFile);
      } catch {}
    });
  }
  exports.main(args);
}
