import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inUserNamespace } from '../internal/user-namespace.js';
import { ShaleError } from '../internal/errors.js';
import type { Store } from '../store/index.js';
import { makeRuntimeSpec, type SpecOptions } from './runtime-spec.js';

export interface RuncRunOptions {
  /** Where config.json is written. */
  bundleDir: string;
  id: string;
  /** The container: its spec is made from these here, the one place a runtime spec is made. */
  spec: SpecOptions;
  /** `inherit` passes the terminal through; `pipe` hands output to `onOutput`. */
  stdio: 'inherit' | 'pipe';
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Aborting kills the container. */
  signal?: AbortSignal;
  /** A program runc runs under (argv before runc's own), e.g. a tracer that follows runc's process tree. */
  wrapper?: string[];
}

export interface DetachedRunOptions {
  bundleDir: string;
  id: string;
  spec: SpecOptions;
  /** The container's output, both streams. */
  logFile: string;
  /** Where its exit status is written once it has ended and is deleted from runc's state. */
  exitFile: string;
  /**
   * A command run after that (as argv), its output dropped, once `afterExit.when` exists (at most 30 s
   * later): the starter writes it when it is done recording the container, so the command never races it.
   */
  afterExit?: { argv: string[]; when: string };
}

export interface RunResult {
  exitCode: number;
  /** False when runc failed before the container's process started (bad spec, cwd, mounts): `exitCode` is runc's. */
  started: boolean;
}

const RUNC = process.env.SHALE_RUNC ?? 'runc';
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The one driver of runc: every container shale starts, stops or deletes goes through it, with one state
 * directory (`runc --root`). In a user namespace (shale without root) runc runs rootless: no cgroups.
 */
export class Runc {
  constructor(readonly stateRoot: string) {}

  /** runc's global options, then `rest`. */
  private argv(...rest: string[]): string[] {
    return ['--root', this.stateRoot, ...(inUserNamespace() ? ['--rootless', 'true'] : []), ...rest];
  }

  /**
   * Removes a container from runc's state, killing it if it still runs. Safe to call for unknown ids: one
   * with no state directory (`runc --root` DIR/ID) is not known to runc, and runc is not started for it.
   */
  delete(id: string): void {
    if (!existsSync(join(this.stateRoot, id))) return;
    spawnSync(RUNC, this.argv('delete', '--force', id), { stdio: 'ignore' });
  }

  /** Sends a signal (`TERM`, `KILL`, ...) to the container's process; nothing when it has ended. */
  killSync(id: string, signal: string): void {
    spawnSync(RUNC, this.argv('kill', id, signal), { stdio: 'ignore' });
  }

  kill(id: string, signal: string): Promise<void> {
    return new Promise((resolve) => spawn(RUNC, this.argv('kill', id, signal), { stdio: 'ignore' }).on('close', () => resolve()).on('error', () => resolve()));
  }

  /**
   * Runs a container to completion (`runc run`, foreground) and returns its exit status. The container is
   * always deleted from runc's state afterwards, also when the caller aborts.
   */
  async run(o: RuncRunOptions): Promise<RunResult> {
    await this.writeBundle(o.bundleDir, o.spec);
    // runc writes the pid file only once the container's process has started
    const pidFile = join(o.bundleDir, 'runc.pid');
    await rm(pidFile, { force: true });
    const runcArgv = [RUNC, ...this.argv('run', '--pid-file', pidFile, '--bundle', o.bundleDir, o.id)];
    const [file, ...args] = [...(o.wrapper ?? []), ...runcArgv];
    const child = spawn(file!, args, {
      stdio: o.stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => o.onOutput?.(c, 'stdout'));
    child.stderr?.on('data', (c: Buffer) => o.onOutput?.(c, 'stderr'));
    // an abort may come before runc has created the container: kill again until runc run ends
    let killing: NodeJS.Timeout | undefined;
    const kill = () => {
      this.killSync(o.id, 'KILL');
      killing ??= setInterval(() => this.killSync(o.id, 'KILL'), 100);
    };
    if (o.signal?.aborted) kill();
    else o.signal?.addEventListener('abort', kill, { once: true });
    try {
      const exitCode = await new Promise<number>((resolve, reject) => {
        child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? (o.wrapper ? new ShaleError('FAILED_PRECONDITION', `${file} is not installed`) : notInstalled()) : e));
        child.on('close', (code, sig) => resolve(code ?? (sig ? 128 + signalNumber(sig) : 255)));
      });
      const started = await access(pidFile).then(() => true, () => false);
      return { exitCode, started };
    } finally {
      o.signal?.removeEventListener('abort', kill);
      clearInterval(killing);
      // `runc run` deletes a container that ended; one killed or failed on the way may be left in runc's state
      this.delete(o.id);
      await rm(join(o.bundleDir, 'config.json'), { force: true });
      await rm(pidFile, { force: true });
    }
  }

  /**
   * Starts a container that outlives this process: a detached shell runs it, writes its output to
   * `logFile`, deletes it from runc's state and writes its exit status. Returns that shell's pid.
   */
  async runDetached(o: DetachedRunOptions): Promise<number> {
    await this.writeBundle(o.bundleDir, o.spec);
    const runc = (...args: string[]) => [RUNC, ...this.argv(...args)].map(quote).join(' ');
    const gate = o.afterExit ? `; i=0; while [ ! -e ${quote(o.afterExit.when)} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done` : '';
    const after = o.afterExit ? `${gate}; ${o.afterExit.argv.map(quote).join(' ')} >/dev/null 2>&1` : '';
    const script = `${runc('run', '--bundle', o.bundleDir, o.id)} </dev/null >${quote(o.logFile)} 2>&1; code=$?; ${runc('delete', '-f', o.id)} >/dev/null 2>&1; echo $code >${quote(o.exitFile)}${after}`;
    const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
    child.unref();
    return child.pid!;
  }

  private async writeBundle(bundleDir: string, spec: SpecOptions): Promise<void> {
    await mkdir(bundleDir, { recursive: true });
    await mkdir(this.stateRoot, { recursive: true });
    await writeFile(join(bundleDir, 'config.json'), JSON.stringify(makeRuntimeSpec(spec)));
  }
}

/** The runc of a store: its state directory is the store's. */
export const storeRunc = (store: Store): Runc => new Runc(join(store.root, 'shale', 'runc'));

const notInstalled = () => new ShaleError('FAILED_PRECONDITION', 'runc is not installed', { hint: 'apt-get install -y runc' });

function signalNumber(sig: NodeJS.Signals): number {
  const n: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return n[sig] ?? 1;
}
