import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import type { Containers } from '../runtime/index.js';
import { containerPaths, fileLines, STRACE_OPTIONS, type TouchedPath } from './strace-trace.js';

/**
 * What minify runs to see an image work: the image's own command (`args` undefined), a command in place of
 * its CMD (the ENTRYPOINT stays, as `docker run IMAGE ARGS`), a script run inside the container, or an
 * HTTP request to the started container.
 */
export type Probe =
  | { kind: 'cmd'; args?: string[] }
  | { kind: 'script'; file: string }
  | { kind: 'http'; port: number; path: string; status?: number };

/** What a probe gave: compared between the original and the minified image. */
export interface ProbeOutcome {
  exitCode?: number;
  stdout?: string;
  httpStatus?: number;
  body?: string;
  /** The end of its stderr, for messages (never compared). */
  stderrTail?: string;
}

/** A name for a probe in messages and reports. */
export function probeLabel(p: Probe): string {
  if (p.kind === 'cmd') return p.args ? `cmd ${JSON.stringify(p.args.join(' '))}` : "the image's command";
  if (p.kind === 'script') return `script ${p.file}`;
  return `http ${p.port}${p.path}`;
}

/** Where a probe script is bound in the container. */
const SCRIPT_PATH = '/.shale-probe';

export interface ProbeRunOptions {
  timeoutMs: number;
  /** Scratch space (the store's). */
  scratchDir: string;
  /** Trace the container with strace: the paths it touched are handed to `onTrace` once it has ended. */
  onTrace?: (paths: TouchedPath[]) => void;
  /** The image's working directory, where the traced paths relative to the container's start resolve ('/' when unset). */
  workdir?: string;
}

/** Fails unless strace can be run. */
export function checkTracer(): void {
  const r = spawnSync('strace', ['-V'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) throw new ShaleError('FAILED_PRECONDITION', 'strace is not installed: minify traces the probes with it', { hint: 'apt-get install -y strace' });
}

/**
 * Runs one probe in a new container of `image` (removed afterwards). A probe that does not end, or whose
 * server does not answer, within the timeout is killed and fails.
 */
export async function runProbe(containers: Containers, image: string, probe: Probe, o: ProbeRunOptions): Promise<ProbeOutcome> {
  const work = await mkdtemp(join(o.scratchDir, 'probe-'));
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), o.timeoutMs);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const traceFile = join(work, 'trace');
  try {
    let entrypoint: string[] | undefined;
    let command: string[] = [];
    const volumes: string[] = [];
    if (probe.kind === 'cmd') command = probe.args ?? [];
    else if (probe.kind === 'script') {
      const copy = join(work, 'script');
      await copyFile(probe.file, copy).catch(() => {
        throw new ShaleError('NOT_FOUND', `probe script ${probe.file} does not exist`);
      });
      await chmod(copy, 0o755);
      volumes.push(`${copy}:${SCRIPT_PATH}:ro`);
      entrypoint = [SCRIPT_PATH];
    }
    if (probe.kind === 'http' && (await request(probe.port, probe.path))) {
      throw new ShaleError('FAILED_PRECONDITION', `probe ${probeLabel(probe)}: something on this host already answers on port ${probe.port}`, { hint: 'the probe would not reach the container: stop it first' });
    }
    const started = containers.run({
      image,
      command,
      entrypoint,
      volumes,
      network: 'host',
      autoRemove: true,
      capture: {
        onOutput: (c, stream) => (stream === 'stdout' ? stdout : stderr).push(c),
        signal: abort.signal,
        wrapper: o.onTrace ? ['strace', ...STRACE_OPTIONS, '-o', traceFile] : undefined,
      },
    });
    /** Hands the traced paths over once the container has ended. */
    const handTrace = async () => {
      if (!o.onTrace) return;
      const paths = existsSync(traceFile) ? await containerPaths(() => fileLines(traceFile), o.workdir) : [];
      if (paths.length === 0) {
        const said = tracerComplaint(stderr);
        throw new ShaleError('FAILED_PRECONDITION', `the tracer saw no process of the container for probe ${probeLabel(probe)}${said ? ` (${said})` : ''}`, { hint: TRACER_HINT });
      }
      o.onTrace(paths);
    };
    // strace's own failure (ptrace refused, ...) is what the user needs to see, not runc's
    const run = started.catch((e: unknown) => {
      const said = o.onTrace ? tracerComplaint(stderr) : undefined;
      throw said ? new ShaleError('FAILED_PRECONDITION', `the tracer could not follow the container of probe ${probeLabel(probe)}: ${said}`, { hint: TRACER_HINT }) : e;
    });
    if (probe.kind !== 'http') {
      const { exitCode } = await run;
      if (abort.signal.aborted) throw new ShaleError('COMMAND_FAILED', `probe ${probeLabel(probe)} did not end within ${o.timeoutMs / 1000} s (killed)`);
      await handTrace();
      return { exitCode, stdout: Buffer.concat(stdout).toString('utf8'), stderrTail: lastLine(stderr) };
    }
    let ended = false;
    const finished = run.finally(() => {
      ended = true;
    });
    finished.catch(() => undefined);
    let answer: { status: number; body: string } | undefined;
    while (!abort.signal.aborted && !ended && !answer) {
      answer = await request(probe.port, probe.path);
      if (!answer) await new Promise((r) => setTimeout(r, 200));
    }
    const timedOut = abort.signal.aborted;
    abort.abort();
    const { exitCode } = await finished;
    if (!answer) {
      throw new ShaleError('COMMAND_FAILED', timedOut ? `probe ${probeLabel(probe)}: no answer within ${o.timeoutMs / 1000} s` : `probe ${probeLabel(probe)}: the container exited (${exitCode}) before it answered`, {
        hint: lastLine(stderr),
      });
    }
    await handTrace();
    return { httpStatus: answer.status, body: answer.body, stderrTail: lastLine(stderr) };
  } finally {
    clearTimeout(timer);
    await rm(work, { recursive: true, force: true });
  }
}

/** Why a probe's outcome on the original image is a failure, or undefined when it passed. */
export function probeFailure(p: Probe, r: ProbeOutcome): string | undefined {
  if (p.kind === 'http') {
    const ok = p.status !== undefined ? r.httpStatus === p.status : r.httpStatus! >= 200 && r.httpStatus! < 400;
    return ok ? undefined : `HTTP status ${r.httpStatus}, expected ${p.status ?? '2xx or 3xx'}`;
  }
  return r.exitCode === 0 ? undefined : `exit status ${r.exitCode}`;
}

/** How the minified image's outcome differs from the original's, or undefined when equal. */
export function outcomeDifference(original: ProbeOutcome, minified: ProbeOutcome): string | undefined {
  if (original.exitCode !== minified.exitCode) return `exit status ${minified.exitCode}, the original's ${original.exitCode}`;
  if (original.httpStatus !== minified.httpStatus) return `HTTP status ${minified.httpStatus}, the original's ${original.httpStatus}`;
  for (const field of ['stdout', 'body'] as const) {
    const a = original[field];
    const b = minified[field];
    if (a === b) continue;
    const at = firstDifference(a ?? '', b ?? '');
    return `${field === 'body' ? 'HTTP body' : 'stdout'} differs at byte ${at}: ${JSON.stringify((b ?? '').slice(at, at + 60))}, the original's ${JSON.stringify((a ?? '').slice(at, at + 60))}`;
  }
  return undefined;
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const TRACER_HINT = 'strace must be able to follow runc and the container (ptrace allowed here: no seccomp filter or LSM refusing it)';

/** The first line strace itself wrote to stderr (its messages start with `strace:`). */
const tracerComplaint = (chunks: Buffer[]): string | undefined =>
  Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .find((l) => l.startsWith('strace:'));

const lastLine = (chunks: Buffer[]): string | undefined => Buffer.concat(chunks).toString('utf8').trim().split('\n').pop() || undefined;

async function request(port: number, path: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}
