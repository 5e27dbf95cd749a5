/**
 * Ends the process as a program writing to a closed pipe ends (`shale save -o - | head`): killed by
 * SIGPIPE with nothing printed, as Docker's CLI is. Node ignores SIGPIPE; a listener added and removed
 * puts the default action back.
 */
export function dieOfBrokenPipe(): never {
  process.on('SIGPIPE', () => undefined);
  process.removeAllListeners('SIGPIPE');
  process.kill(process.pid, 'SIGPIPE');
  process.exit(128 + 13); // not reached where the signal's default action applies
}
