import { spawn, spawnSync } from 'node:child_process';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import type { RuntimeSpec } from './runtime-spec.js';

export interface RuncRunOptions {
  /** runc's state directory (`runc --root`). */
  stateRoot: string;
  /** Where config.json is written. */
  bundleDir: string;
  id: string;
  spec: RuntimeSpec;
  /** `inherit` passes the terminal through; `pipe` hands output to `onOutput`. */
  stdio: 'inherit' | 'pipe';
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Aborting kills the container. */
  signal?: AbortSignal;
}

export interface RunResult {
  exitCode: number;
  /** False when runc failed before the container's process started (bad spec, cwd, mounts): `exitCode` is runc's. */
  started: boolean;
}

const RUNC = process.env.SHALE_RUNC ?? 'runc';

/** Removes a container from runc's state, killing it if it still runs. Safe to call for unknown ids. */
export function runcDelete(stateRoot: string, id: string): void {
  spawnSync(RUNC, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore' });
}

/**
 * Runs a container to completion with runc (`runc run`, foreground) and returns its exit status. The
 * container is always deleted from runc's state afterwards, also when the caller aborts.
 */
export async function runcRun(o: RuncRunOptions): Promise<RunResult> {
  await mkdir(o.bundleDir, { recursive: true });
  await mkdir(o.stateRoot, { recursive: true });
  await writeFile(join(o.bundleDir, 'config.json'), JSON.stringify(o.spec));
  // runc writes the pid file only once the container's process has started
  const pidFile = join(o.bundleDir, 'runc.pid');
  await rm(pidFile, { force: true });
  const child = spawn(RUNC, ['--root', o.stateRoot, 'run', '--pid-file', pidFile, '--bundle', o.bundleDir, o.id], {
    stdio: o.stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => o.onOutput?.(c, 'stdout'));
  child.stderr?.on('data', (c: Buffer) => o.onOutput?.(c, 'stderr'));
  // an abort may come before runc has created the container: kill again until runc run ends
  let killing: NodeJS.Timeout | undefined;
  const killOnce = () => spawnSync(RUNC, ['--root', o.stateRoot, 'kill', o.id, 'KILL'], { stdio: 'ignore' });
  const kill = () => {
    killOnce();
    killing ??= setInterval(killOnce, 100);
  };
  if (o.signal?.aborted) kill();
  else o.signal?.addEventListener('abort', kill, { once: true });
  try {
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'ENOENT'
            ? new ShaleError('FAILED_PRECONDITION', 'runc is not installed', { hint: 'apt-get install -y runc' })
            : e,
        ),
      );
      child.on('close', (code, sig) => resolve(code ?? (sig ? 128 + signalNumber(sig) : 255)));
    });
    const started = await access(pidFile).then(() => true, () => false);
    return { exitCode, started };
  } finally {
    o.signal?.removeEventListener('abort', kill);
    clearInterval(killing);
    // `runc run` deletes a container that ended; one killed or failed on the way may be left in runc's state
    if (await access(join(o.stateRoot, o.id)).then(() => true, () => false)) runcDelete(o.stateRoot, o.id);
    await rm(join(o.bundleDir, 'config.json'), { force: true });
    await rm(pidFile, { force: true });
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  const n: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return n[sig] ?? 1;
}
