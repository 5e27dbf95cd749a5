/**
 * The data-driven fidelity suite against Docker 26 with BuildKit: each directory of test/fixtures/modern/
 * is a case (a Dockerfile, its context, an optional case.json), built by `shale build` and by
 * `docker buildx build --network host --load` with the same arguments, from the case directory. The two
 * images are then read the same way through Docker 26 (shale's is loaded into it): final root filesystem,
 * each layer's entries, history and config.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { busyboxBase, CONTAINER_PATHS, dockerSavedImage, historyLines, type ImageConfigJson, type LayerListing } from './build.js';
import { docker26Ok, type Docker26 } from './docker26.js';
import { REPO_ROOT, SHALE_BIN } from './shale.js';
import { compareTars } from './tree-compare.js';

export const MODERN_CASES = join(REPO_ROOT, 'test', 'fixtures', 'modern');

/**
 * The base images cases may name in FROM, made once per run by `shale import` of a busybox rootfs and
 * loaded into Docker 26 under the same name and ID: `busybox-base`, and `busybox-etc`, which also has
 * /etc/hosts and /etc/resolv.conf (a RUN then leaves no trace in /etc).
 */
export const FIDELITY_BASES = ['busybox-base', 'busybox-etc'] as const;

/** One case directory and what its case.json says. */
export interface FidelityCase {
  name: string;
  dir: string;
  /** Given identically to `shale build` and `docker buildx build`. */
  args: string[];
  /** Why BuildKit's output is not deterministic here: the comparison of what varies is left out. */
  nondeterministic?: string;
  /** Why Docker 26 cannot build it: shale's build must still succeed. */
  skipDocker?: string;
}

/** Every case directory below `root`, sorted by name; a bad case.json fails loudly. */
export function readCases(root = MODERN_CASES): FidelityCase[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const dir = join(root, name);
      const file = join(dir, 'case.json');
      const spec = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
      const unknown = Object.keys(spec).filter((k) => !['args', 'nondeterministic', 'skipDocker'].includes(k));
      assert.deepEqual(unknown, [], `${name}/case.json: unknown keys`);
      assert.ok(spec.args === undefined || (Array.isArray(spec.args) && spec.args.every((a) => typeof a === 'string')), `${name}/case.json: args is a list of strings`);
      return { name, dir, args: (spec.args as string[] | undefined) ?? [], nondeterministic: spec.nondeterministic as string | undefined, skipDocker: spec.skipDocker as string | undefined };
    });
}

export interface RunOutput {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (builds of several cases overlap). */
export function runAsync(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunOutput> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 300_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ status, stdout, stderr: error && status === 1 && !stderr ? String(error) : stderr });
    });
  });
}

const shaleEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.CI;
  return env;
};

/** `shale build ARGS -t TAG .` from the case directory; resolves to the run's output. */
export const shaleBuildCase = (root: string, c: FidelityCase, tag: string): Promise<RunOutput> =>
  runAsync(process.execPath, [SHALE_BIN, '--root', root, 'build', '--progress', 'plain', ...c.args, '-t', tag, '.'], { cwd: c.dir, env: shaleEnv() });

/** `docker buildx build --network host --load ARGS -t TAG .` on Docker 26 from the case directory. */
export const dockerBuildCase = (d: Docker26, c: FidelityCase, tag: string): Promise<RunOutput> =>
  runAsync(d.cli, ['buildx', 'build', '--progress', 'plain', '--network', 'host', '--load', ...c.args, '-t', tag, '.'], { cwd: c.dir, env: { ...process.env, ...d.env } });

/** `shale save -o ARCHIVE REF` (asserts success). */
export async function saveShaleImage(root: string, ref: string, archive: string): Promise<void> {
  const r = await runAsync(process.execPath, [SHALE_BIN, '--root', root, 'save', '-o', archive, ref], { env: shaleEnv() });
  assert.equal(r.status, 0, `shale save ${ref} -> ${r.status}\n${r.stderr}`);
}

/**
 * Makes the bases in the shale store `root` and loads them into Docker 26; `busybox-etc` is
 * `busybox-base` plus the two /etc files. They stay in Docker 26: other runs of the suite (other
 * worktrees share the engine) use the same names, and every run's bases have the same contents.
 */
export function makeFidelityBases(t: Pick<TestContext, 'after'>, d: Docker26, work: string, root: string): void {
  for (const ref of FIDELITY_BASES) {
    const base = busyboxBase(t, join(work, ref), root, ref, {
      extra: ref === 'busybox-etc' ? (rootfs) => ['hosts', 'resolv.conf'].forEach((f) => execFileSyncQuiet('sh', ['-c', `echo "# ${f}" > "$1"`, 'sh', join(rootfs, 'etc', f)])) : undefined,
    });
    const archive = join(work, `${ref}.tar`);
    execFileSyncQuiet(process.execPath, [SHALE_BIN, '--root', root, 'save', '-o', archive, ref]);
    docker26Ok(d, ['load', '-i', archive]);
    rmSync(archive, { force: true });
    assert.equal(docker26Ok(d, ['image', 'inspect', '--format', '{{.Id}}', ref]).trim(), base.id, `Docker 26 has ${ref} under the ID shale gave it`);
  }
}

const execFileSyncQuiet = (cmd: string, args: string[]): void => {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: shaleEnv() });
};

/** What the comparison reads of one image (through Docker 26). */
export interface ReadImage {
  config: ImageConfigJson & Record<string, unknown>;
  layers: LayerListing[];
}

/** The image as `docker save` (Docker 26) gives it: config and each layer's entry listing. */
export const readDocker26Image = (d: Docker26, ref: string): Promise<ReadImage> =>
  dockerSavedImage(ref, d) as Promise<ReadImage>;

/** `docker create` + `docker export` on Docker 26 into `out`; the container is removed. */
export function exportDocker26(d: Docker26, ref: string, out: string): string {
  const cid = docker26Ok(d, ['create', ref, 'true']).trim();
  try {
    docker26Ok(d, ['export', '-o', out, cid]);
  } finally {
    docker26Ok(d, ['rm', '-v', cid]);
  }
  return out;
}

/** History as comparable lines: created_by, empty_layer and comment of each entry, oldest first. */
export const historyOf = (c: ImageConfigJson): string[] => historyLines(c);

/**
 * Which neighbouring history entries share a `created` time: BuildKit gives a metadata entry the time
 * of a layer next to it, so the pattern (not the times) must be the same.
 */
export const createdPattern = (c: ImageConfigJson): string =>
  c.history.map((h, i) => (i === 0 ? 'x' : h.created === c.history[i - 1]!.created ? '=' : '>')).join('');

/**
 * The differences between the two images as readable lines (empty when they match): root filesystem
 * (through `docker export` of a container of each, so Docker's per-container files are the same on
 * both sides), layer count and entries, history and config.
 */
export async function compareImages(d: Docker26, work: string, shaleRef: string, dockerRef: string, c: FidelityCase): Promise<string[]> {
  const diffs: string[] = [];
  const a = await readDocker26Image(d, shaleRef);
  const b = await readDocker26Image(d, dockerRef);
  const ta = exportDocker26(d, shaleRef, join(work, `${c.name}-shale.tar`));
  const tb = exportDocker26(d, dockerRef, join(work, `${c.name}-docker.tar`));
  try {
    diffs.push(...compareTars(ta, tb, { ignore: CONTAINER_PATHS, names: ['shale', 'docker'] }).diffs.map((l) => `rootfs: ${l}`));
  } finally {
    rmSync(ta, { force: true });
    rmSync(tb, { force: true });
  }
  if (a.layers.length !== b.layers.length) diffs.push(`layers: shale has ${a.layers.length}, docker ${b.layers.length}`);
  a.layers.forEach((la, i) => {
    const lb = b.layers[i];
    if (lb && JSON.stringify(la) !== JSON.stringify(lb)) diffs.push(`layer ${i}: shale [${la.join(' | ')}] docker [${lb.join(' | ')}]`);
  });
  const ha = historyOf(a.config);
  const hb = historyOf(b.config);
  if (JSON.stringify(ha) !== JSON.stringify(hb)) diffs.push(`history:\n  shale  ${ha.join('\n         ')}\n  docker ${hb.join('\n         ')}`);
  for (const key of ['config', 'author', 'architecture', 'os'] as const) {
    const va = JSON.stringify(a.config[key]);
    const vb = JSON.stringify(b.config[key]);
    if (va !== vb) diffs.push(`${key}: shale ${va} docker ${vb}`);
  }
  const keys = (x: ReadImage) => Object.keys(x.config).join(',');
  if (keys(a) !== keys(b)) diffs.push(`config keys: shale ${keys(a)} docker ${keys(b)}`);
  if (!c.nondeterministic && createdPattern(a.config) !== createdPattern(b.config)) {
    diffs.push(`created times (= same as the entry before): shale ${createdPattern(a.config)} docker ${createdPattern(b.config)}`);
  }
  return diffs;
}
