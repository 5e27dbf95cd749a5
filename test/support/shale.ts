/**
 * Runs the shale CLI (`node bin/shale.mjs --root STORE ...`) as a child process, and makes per-test temp
 * directories that are removed when the test ends.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** The repository root (this file compiles to dist/test/support/shale.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The node entry of the CLI: tests run `node bin/shale.mjs` (bin/shale, the installed command, is a sh launcher of it). */
export const SHALE_BIN = join(REPO_ROOT, 'bin', 'shale.mjs');

/** A row of `shale images --format json` (CLI.md). */
export interface ImageRow {
  repository: string;
  tag: string;
  id: string;
  created: string;
  size: number;
  sharedSize: number;
  uniqueSize: number;
  layers: number;
}

/** An ordinary user to run shale as (test/support/rootless.ts makes them), with their copy of the CLI. */
export interface ShaleUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** The command that user runs: a copy of the bin/shale launcher beside a dist/ with the bundles, readable by them. */
  bin: string;
}

export interface ShaleOptions {
  /** The store (`--root`); every test makes its own with `tempStore`. */
  root: string;
  /** Runs shale as this user (not root): their uid and gid, HOME/USER/LOGNAME, their copy of the CLI. */
  user?: ShaleUser;
  /** Extra environment variables (merged over process.env). */
  env?: Record<string, string>;
  cwd?: string;
  /** Bytes for stdin. */
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface ShaleResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The program and its arguments: `node bin/shale.mjs --root ROOT ARGS`, or for another user the command
 * they would run, their copy of the bin/shale launcher.
 */
export const commandOf = (args: readonly string[], opts: ShaleOptions): { file: string; argv: string[] } =>
  opts.user ? { file: opts.user.bin, argv: ['--root', opts.root, ...args] } : { file: process.execPath, argv: [SHALE_BIN, '--root', opts.root, ...args] };

/**
 * The environment for shale: this process's, less CI (a test runner's CI=true would turn on analyze's
 * CI mode, as it does dive's; a test that wants it sets it), plus `extra`. For another user, also less
 * root's per-user locations (XDG_RUNTIME_DIR, XDG_DATA_HOME, SHALE_ROOT), and that user's HOME/USER/LOGNAME.
 */
function envOf(opts: ShaleOptions): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CI;
  if (opts.user) {
    for (const k of ['XDG_RUNTIME_DIR', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'SHALE_ROOT', 'DOCKER_CONFIG']) delete env[k];
    Object.assign(env, { HOME: opts.user.home, USER: opts.user.name, LOGNAME: opts.user.name });
  }
  return { ...env, ...opts.env };
}

/** How to spawn: as the user (their home as the working directory: the checkout may be closed to them). */
export const spawnOptionsOf = (opts: ShaleOptions): { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number } => ({
  cwd: opts.cwd ?? (opts.user ? opts.user.home : REPO_ROOT),
  env: envOf(opts),
  ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
});

/** Runs `node bin/shale.mjs --root ROOT ARGS...` (as `opts.user`: their bin/shale) to completion. */
export function shale(args: readonly string[], opts: ShaleOptions): ShaleResult {
  const { file, argv } = commandOf(args, opts);
  const r = spawnSync(file, argv, {
    ...spawnOptionsOf(opts),
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    timeout: opts.timeoutMs ?? 90_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts shale without waiting (for tests that kill it). */
export function spawnShale(args: readonly string[], opts: ShaleOptions): ChildProcess {
  const { file, argv } = commandOf(args, opts);
  return spawn(file, argv, {
    ...spawnOptionsOf(opts),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const describe = (args: readonly string[], r: ShaleResult): string =>
  `shale ${args.join(' ')} -> status ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** Runs shale and asserts it exits 0; returns the result. */
export function shaleOk(args: readonly string[], opts: ShaleOptions): ShaleResult {
  const r = shale(args, opts);
  assert.equal(r.status, 0, describe(args, r));
  return r;
}

/** Runs `shale ARGS --format json`, asserts exit 0 and that stdout is exactly one JSON document. */
export function shaleJson<T = unknown>(args: readonly string[], opts: ShaleOptions): T {
  const full = [...args, '--format', 'json'];
  const r = shaleOk(full, opts);
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    assert.fail(`stdout of shale ${full.join(' ')} is not one JSON document (${(e as Error).message}):\n${r.stdout}`);
  }
}

/**
 * Asserts a failure as the CLI contract says: exit status 2, stderr starting with one `error: ...` line
 * (optionally followed by `hint: ...`), no stack trace. Returns the error line.
 */
export function assertCliError(r: ShaleResult, what: string): string {
  assert.equal(r.status, 2, `${what}: expected exit status 2\n${describe([what], r)}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length >= 1, `${what}: stderr is empty`);
  assert.match(lines[0]!, /^error: \S/, `${what}: stderr does not start with "error: "\n${r.stderr}`);
  assert.ok(
    lines.slice(1).every((l) => l.startsWith('hint: ')),
    `${what}: stderr has more than the error line (and an optional hint):\n${r.stderr}`,
  );
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `${what}: stderr carries a stack trace:\n${r.stderr}`);
  return lines[0]!;
}

/**
 * Asserts a failure of a command that prints progress first (build, push, pull): exit `status`, an `error: ...`
 * line after which only `hint: ...` lines follow, no stack trace. Returns the error line.
 */
export function assertErrorAfterProgress(r: ShaleResult, what: string, status = 2): string {
  assert.equal(r.status, status, `${what}: expected exit status ${status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const i = lines.map((l) => l.startsWith('error: ')).lastIndexOf(true);
  assert.ok(i >= 0, `${what}: no "error: " line\n${r.stderr}`);
  assert.ok(lines.slice(i + 1).every((l) => l.startsWith('hint: ')), `${what}: more after the error line:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `${what}: stack trace:\n${r.stderr}`);
  return lines[i]!;
}

/** A fresh directory under os.tmpdir(), removed when the test (or suite) `t` ends. */
export function tempDir(t: Pick<TestContext, 'after'>, prefix = 'shale-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh, empty store location for one test. */
export const tempStore = (t: Pick<TestContext, 'after'>): string => join(tempDir(t, 'shale-store-'), 'store');

/** A short random suffix for names that must not collide with other runs (docker tags, /tmp targets). */
export const uniqueSuffix = (): string => `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
