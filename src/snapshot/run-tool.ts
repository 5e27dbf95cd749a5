import { spawn } from 'node:child_process';
import { foldLines, ShaleError } from '../internal/errors.js';

/** Which Debian package ships each external program the snapshotters call. */
const PACKAGE_OF: Record<string, string> = {
  getfattr: 'attr',
  setfattr: 'attr',
  mknod: 'coreutils',
  mkfifo: 'coreutils',
  mount: 'mount',
  umount: 'mount',
};

export interface RunToolOptions {
  cwd?: string;
  /** Bytes written to the program's stdin (then closed). */
  input?: Uint8Array | string;
}

/**
 * Runs a program without a shell and resolves with its stdout. A missing program is UNSUPPORTED (with the
 * package to install); a non-zero exit is FAILED_PRECONDITION carrying the program's stderr, folded onto one line.
 */
export function runTool(cmd: string, args: readonly string[], options: RunToolOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        const pkg = PACKAGE_OF[cmd];
        reject(
          new ShaleError('UNSUPPORTED', `the program "${cmd}" is not installed`, {
            hint: pkg ? `install it: apt-get install -y ${pkg}` : undefined,
          }),
        );
      } else reject(e);
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const stderr = foldLines(Buffer.concat(err).toString('utf8'));
      reject(
        new ShaleError('FAILED_PRECONDITION', `${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr}`),
      );
    });
    child.stdin.on('error', () => undefined); // a program that exits early closes its stdin; the exit code tells
    child.stdin.end(options.input ?? '');
  });
}
