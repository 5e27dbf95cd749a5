/** Thin wrappers over the docker CLI for the interop tests, with cleanup of what a test created. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `docker ARGS` (env adds to process.env). */
export function docker(args: readonly string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync('docker', args, {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    maxBuffer: 64 << 20,
    timeout: opts.timeoutMs ?? 300_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `docker ARGS`, asserts exit 0, returns stdout. */
export function dockerOk(args: readonly string[], opts: Parameters<typeof docker>[1] = {}): string {
  const r = docker(args, opts);
  assert.equal(r.status, 0, `docker ${args.join(' ')} -> ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** The full image ID (sha256:...) Docker has for a reference. */
export const dockerImageId = (ref: string): string => dockerOk(['image', 'inspect', '--format', '{{.Id}}', ref]).trim();

/** Removes, when `t` ends, the images (by reference) and containers a test made; errors are ignored. */
export function dockerCleanup(t: Pick<TestContext, 'after'>): { image(ref: string): void; container(id: string): void } {
  const images: string[] = [];
  const containers: string[] = [];
  t.after(() => {
    if (containers.length > 0) docker(['rm', '-f', ...containers]);
    // untag by name only: an image another user of this daemon tagged too stays
    for (const ref of images.reverse()) docker(['rmi', ref]);
  });
  return { image: (ref) => images.push(ref), container: (id) => containers.push(id) };
}
