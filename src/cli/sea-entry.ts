/**
 * The entry of the single executable (`npm run package`): bin/shale.mjs's steps, from inside the
 * executable. The CLI bundle is the asset `shale.cjs`, run through the V8 code cache the packaging made by
 * running it (the asset `shale.v8cache`); the workers are assets too, so nothing is read from disk.
 */
import { createRequire } from 'node:module';
import { getAsset, getRawAsset } from 'node:sea';
import { answerVersion, needsUserNamespace, runCommonJsBundle, runInUserNamespace } from './launcher.js';

const args = process.argv.slice(2);
if (answerVersion(args)) {
  // answered
} else if (needsUserNamespace(args)) {
  void runInUserNamespace(args);
} else {
  // the asset names are scripts/package.sh's
  const cache = new Uint8Array(getRawAsset('shale.v8cache'));
  const cli = runCommonJsBundle(getAsset('shale.cjs', 'utf8'), 'shale.cjs', createRequire(process.execPath), cache);
  void (cli.exports.main as (argv: string[]) => Promise<void>)(args);
}
