/**
 * What the CLI's two launchers (bin/shale.mjs, and the single executable's entry) do before the CLI is
 * loaded. Bundled small (dist/launcher.cjs), so that a start which ends here loads nothing else: answer
 * `--version`, run a command again in the caller's user namespace when not root, or run the CLI bundle
 * through a V8 code cache.
 */
import { dieOfBrokenPipe } from './broken-pipe.js';
import { versionText } from './version.js';

export { runCommonJsBundle } from '../internal/common-js-bundle.js';
export { commandOf, needsUserNamespace, runInUserNamespace } from '../runtime/enter-user-namespace.js';

/** Answers `shale --version` (or `-v`) alone as the CLI's own option does, and says whether it did. */
export function answerVersion(args: string[]): boolean {
  if (args.length !== 1 || (args[0] !== '--version' && args[0] !== '-v')) return false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') dieOfBrokenPipe();
    throw e;
  });
  process.stdout.write(`${versionText()}\n`);
  return true;
}
