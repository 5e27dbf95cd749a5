#!/usr/bin/env node
// `node scripts/code-cache.mjs BUNDLE OUT` (scripts/package.sh): writes the V8 code cache that the single
// executable starts the CLI bundle with. The bundle is compiled as the executable's entry compiles it and
// run once, `images` of an empty store, so the cache also holds the functions every command's start runs
// (the command line, opening a store, printing a table). A cache fits only the Node that made it: this
// runs on the Node the executable is made of.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const { runCommonJsBundle } = createRequire(import.meta.url)('../dist/launcher.cjs'); // as the entry runs it
const [bundle, out] = process.argv.slice(2);
const store = mkdtempSync(join(tmpdir(), 'shale-code-cache-'));
const cli = runCommonJsBundle(readFileSync(bundle, 'utf8'), 'shale.cjs', createRequire(resolve(bundle)));
process.on('exit', () => {
  writeFileSync(out, cli.script.createCachedData());
  rmSync(store, { recursive: true, force: true });
});
await cli.exports.main(['images', '--root', store]); // ends the process
