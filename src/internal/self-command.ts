import { isSea } from 'node:sea';

/**
 * The program and leading arguments that start this shale CLI again, for a command to re-run itself (in
 * the user namespace, or `rm` after a detached `run --rm`): the single executable alone, or Node with
 * its options and the script it runs. The command's own arguments follow.
 */
export function selfCommand(): string[] {
  return isSea() ? [process.execPath] : [process.execPath, ...process.execArgv, process.argv[1]!];
}
