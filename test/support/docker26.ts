/**
 * Docker Engine 26 with BuildKit, as scripts/setup-docker26.sh starts it beside the system's engine: its
 * API socket and the matching docker CLI (with buildx as a plugin of a private CLI config). Missing, it is
 * a skip with the reason locally and a failure in CI (CI=true).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from './shale.js';

export interface Docker26 {
  /** The engine's API socket. */
  socket: string;
  /** The docker CLI of the same release. */
  cli: string;
  /** What the CLI needs in its environment: the engine's address and the config that holds buildx. */
  env: Record<string, string>;
}

const CACHE = join(REPO_ROOT, '.cache', 'docker26');

/** Where setup-docker26.sh puts Docker 26 (the socket can be moved with DOCKER26_SOCK, as there). */
export const docker26Location = (): Docker26 => {
  const socket = process.env.DOCKER26_SOCK ?? '/run/docker26.sock';
  return {
    socket,
    cli: join(CACHE, 'prefix', 'usr', 'bin', 'docker'),
    env: { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(CACHE, 'config') },
  };
};

/** Why Docker 26 cannot be used here, or undefined when its engine answers with version 26. */
function whyNot(d: Docker26): string | undefined {
  if (!existsSync(d.cli)) return `no docker CLI at ${d.cli} (run scripts/setup-docker26.sh)`;
  const r = spawnSync(d.cli, ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8', env: { ...process.env, ...d.env }, timeout: 30_000 });
  if (r.error || r.status !== 0) return `the engine on ${d.socket} does not answer: ${(r.error?.message ?? r.stderr.trim()) || `exit status ${r.status}`}`;
  if (!r.stdout.startsWith('26.')) return `the engine on ${d.socket} is ${r.stdout.trim()}, not 26`;
  return undefined;
}

/** Docker 26 when it runs; else a failure in CI, a skip (returning undefined) elsewhere. */
export function requireDocker26(t: Pick<TestContext, 'skip'>): Docker26 | undefined {
  const d = docker26Location();
  const why = whyNot(d);
  if (why === undefined) return d;
  if (process.env.CI === 'true') throw new Error(`Docker Engine 26 is required in CI (CI=true): ${why}`);
  t.skip(`Docker Engine 26 is not available: ${why}`);
  return undefined;
}

/** Runs Docker 26's CLI, asserts exit 0, returns stdout. */
export function docker26Ok(d: Docker26, args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(d.cli, args, {
    encoding: 'utf8',
    env: { ...process.env, ...d.env },
    cwd: opts.cwd,
    maxBuffer: 64 << 20,
    timeout: opts.timeoutMs ?? 300_000,
  });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `docker ${args.join(' ')} (Docker 26) -> ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Removes from Docker 26, when `t` ends, the images a test made (errors ignored). */
export function docker26Cleanup(t: Pick<TestContext, 'after'>, d: Docker26): (ref: string) => void {
  const refs: string[] = [];
  t.after(() => {
    if (refs.length > 0) spawnSync(d.cli, ['rmi', ...refs.reverse()], { env: { ...process.env, ...d.env }, timeout: 60_000 });
  });
  return (ref) => refs.push(ref);
}
