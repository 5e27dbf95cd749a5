/**
 * The entry of the single executable (`npm run package`): what bin/shale.mjs does, from inside the
 * executable. `--version` is answered here, before any of the CLI is loaded. Without root, a command that
 * uses a store runs again in the caller's user namespace. Else the CLI bundle (the asset `shale.cjs`) runs
 * here, through the V8 code cache the packaging made by running it (the asset `shale.v8cache`).
 * Everything it loads is in the executable (the workers are assets too).
 */
import { createRequire } from 'node:module';
import { getAsset, getRawAsset } from 'node:sea';
import { runCommonJsBundle } from '../internal/common-js-bundle.js';
import { needsUserNamespace, runInUserNamespace } from '../runtime/enter-user-namespace.js';
import { versionText } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`${versionText()}\n`); // as the CLI's own --version prints it
} else if (needsUserNamespace(args)) {
  void runInUserNamespace(args);
} else {
  // the asset names are scripts/package.sh's
  const cache = new Uint8Array(getRawAsset('shale.v8cache'));
  const cli = runCommonJsBundle(getAsset('shale.cjs', 'utf8'), 'shale.cjs', createRequire(process.execPath), cache);
  void (cli.exports.main as (argv: string[]) => Promise<void>)(args);
}
