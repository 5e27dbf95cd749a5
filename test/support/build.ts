/**
 * Helpers for the build tests: a busybox base image made by `shale import` (and loaded into Docker),
 * build contexts written from a table, builds by shale and by Docker's classic builder, and readers for
 * what the two produce (configs, history, per-layer entry lists, exported root filesystems).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, chmodSync, lchownSync, linkSync, symlinkSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { decompress, readTar, type TarHeader } from '../../src/layer/index.js';
import { docker, dockerCleanup, dockerImageId, dockerOk } from './docker.js';
import type { Docker26 } from './docker26.js';
import { makeBusyboxRootfs, tarDir } from './rootfs.js';
import { shale, shaleJson, shaleOk, type ShaleResult, type ShaleUser } from './shale.js';
import { compareTars, type TreeEntry } from './tree-compare.js';

/** What differs between any two containers' exports by nature: Docker writes these per container. */
export const CONTAINER_PATHS = ['.dockerenv', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf'] as const;

/** One file of a build context: text, or a node with its metadata. */
export type ContextFile =
  | string
  | { content?: string | Buffer; mode?: number; owner?: [number, number]; dir?: true; symlink?: string; hardlinkTo?: string };

/** Writes `files` (in order: make a directory before what goes in it) below `dir`; returns `dir`. */
export function writeContext(dir: string, files: Record<string, ContextFile>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, f] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    const spec = typeof f === 'string' ? { content: f } : f;
    if (spec.dir) mkdirSync(p, { recursive: true });
    else if (spec.symlink !== undefined) symlinkSync(spec.symlink, p);
    else if (spec.hardlinkTo !== undefined) linkSync(join(dir, spec.hardlinkTo), p);
    else writeFileSync(p, spec.content ?? '');
    if (spec.mode !== undefined && spec.symlink === undefined) chmodSync(p, spec.mode);
    if (spec.owner) lchownSync(p, spec.owner[0], spec.owner[1]);
  }
  return dir;
}

export interface BusyboxBase {
  /** The reference in both the shale store and (when loaded) Docker. */
  ref: string;
  id: string;
  /** The imported rootfs directory (left in `work`). */
  rootfs: string;
}

/**
 * A busybox base image `ref` made by `shale import` into `root` (plus what `extra` lays into the rootfs),
 * and, with `docker`, saved by shale and loaded into Docker under the same name and ID (removed when `t` ends).
 */
export function busyboxBase(
  t: Pick<TestContext, 'after'>,
  work: string,
  root: string,
  ref: string,
  options: { docker?: boolean; extra?: (rootfs: string) => void } = {},
): BusyboxBase {
  const rootfs = makeBusyboxRootfs(join(work, 'base-rootfs'));
  options.extra?.(rootfs);
  const id = shaleOk(['import', tarDir(rootfs, join(work, 'base-rootfs.tar')), ref], { root }).stdout.trim();
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  if (options.docker) {
    const archive = join(work, 'base-image.tar');
    shaleOk(['save', '-o', archive, ref], { root });
    dockerCleanup(t).image(ref);
    dockerOk(['load', '-i', archive]);
    assert.equal(dockerImageId(ref), id, 'Docker has the base under the ID shale gave it');
  }
  return { ref, id, rootfs };
}

/** The image ID a successful `shale build` printed: the last line of stdout. */
export function lastLine(stdout: string): string {
  const lines = stdout.split('\n').filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

/**
 * `shale build ARGS... CONTEXT`; asserts success and that stdout ends with the image ID. `classic`: the
 * classic builder's output (`--classic`), for tests that compare with Docker 20.10 or pin its history.
 * `user`: built by that user (test/support/rootless.ts), not root.
 */
export function shaleBuild(
  root: string,
  context: string,
  args: readonly string[] = [],
  timeoutMs = 300_000,
  options: { classic?: boolean; user?: ShaleUser } = {},
): { id: string; result: ShaleResult } {
  const result = shale(['build', ...(options.classic ? ['--classic'] : []), ...args, context], { root, timeoutMs, user: options.user });
  assert.equal(result.status, 0, `shale build ${args.join(' ')} ${context} -> ${result.status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  const id = lastLine(result.stdout);
  assert.match(id, /^sha256:[a-f0-9]{64}$/, `the last line of stdout is the image ID:\n${result.stdout}`);
  return { id, result };
}

/** One JSON progress event of `shale build --progress json` (stderr, one object a line). */
export type BuildEvent = { type: 'step' | 'cached' | 'output' | 'done' | 'failed' | 'image'; step?: number; [k: string]: unknown };

/** The JSON progress events in a build's stderr (other lines, such as `error: ...`, are left out). */
export function buildEvents(stderr: string): BuildEvent[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as BuildEvent);
}

/**
 * `DOCKER_BUILDKIT=0 docker build` of `context` tagged `tag`; the tag and every intermediate image the
 * build printed are removed when `t` ends. Returns Docker's image ID.
 */
export function dockerBuild(
  t: Pick<TestContext, 'after'>,
  context: string,
  tag: string,
  args: readonly string[] = [],
  timeoutMs = 300_000,
): string {
  const cleanup = dockerCleanup(t);
  cleanup.image(tag);
  const r = docker(['build', '--force-rm', '-t', tag, ...args, context], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs });
  // intermediate images (other stages, the parents of each step), removed after the tag: the IDs the
  // steps printed, but not a FROM's (that is the base), and never an image that still has a tag
  const made = [...r.stdout.matchAll(/^(Step \d+\/\d+ : FROM .*\n)? ---> ([0-9a-f]{12})$/gm)].filter((m) => !m[1]).map((m) => m[2]!);
  t.after(() => {
    for (const id of made.reverse()) {
      const tags = docker(['image', 'inspect', '--format', '{{len .RepoTags}}', id]);
      if (tags.status === 0 && tags.stdout.trim() === '0') docker(['rmi', id]);
    }
  });
  assert.equal(r.status, 0, `docker build ${args.join(' ')} ${context} -> ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return dockerImageId(tag);
}

/** Loads a shale image into Docker as `ref` (tagged in shale first); removed from Docker when `t` ends. */
export function loadIntoDocker(t: Pick<TestContext, 'after'>, root: string, id: string, ref: string, work: string): void {
  shaleOk(['tag', id, ref], { root });
  const archive = join(work, `${ref.replace(/[^a-z0-9]+/gi, '_')}.tar`);
  shaleOk(['save', '-o', archive, ref], { root });
  dockerCleanup(t).image(ref);
  dockerOk(['load', '-i', archive]);
  rmSync(archive, { force: true });
  assert.equal(dockerImageId(ref), id, `Docker loaded ${ref} under shale's image ID`);
}

/** `docker create` + `docker export` of an image into `out` (the container and its volumes are removed). */
export function dockerExport(t: Pick<TestContext, 'after'>, ref: string, out: string): string {
  const cid = dockerOk(['create', ref, 'true']).trim();
  dockerCleanup(t).container(cid);
  try {
    dockerOk(['export', '-o', out, cid]);
  } finally {
    docker(['rm', '-v', cid]);
  }
  return out;
}

/**
 * Exports containers of both images through Docker (so the init layer's paths are the same on both sides)
 * and compares every path; only CONTAINER_PATHS may differ. Returns the differences and the trees.
 */
export function compareImageTrees(
  t: Pick<TestContext, 'after'>,
  work: string,
  a: string,
  b: string,
  names: [string, string] = ['shale', 'docker'],
): { diffs: string[]; a: Map<string, TreeEntry>; b: Map<string, TreeEntry> } {
  const ta = dockerExport(t, a, join(work, 'export-a.tar'));
  const tb = dockerExport(t, b, join(work, 'export-b.tar'));
  try {
    return compareTars(ta, tb, { ignore: CONTAINER_PATHS, names });
  } finally {
    rmSync(ta, { force: true });
    rmSync(tb, { force: true });
  }
}

/** A Docker image's config JSON (what `docker save` holds: history, rootfs, config, author). */
export interface ImageConfigJson {
  author?: string;
  config: Record<string, unknown>;
  history: { created?: string; created_by?: string; author?: string; comment?: string; empty_layer?: boolean }[];
  rootfs: { diff_ids: string[] };
}

/** One layer entry as a comparable line: type, permission bits, owner, size, name, link target, xattrs. */
export type LayerListing = string[];

const typeLetter: Record<TarHeader['type'], string> = { file: 'f', hardlink: 'h', symlink: 'l', char: 'c', block: 'b', dir: 'd', fifo: 'p' };

/**
 * The entries of a layer tar as lines, sorted by name. Whiteouts (`.wh.NAME`, `.wh..wh..opq`) are listed
 * by name only: their mode and link fields carry nothing (Docker copies the directory's mode into an opaque
 * marker and sometimes a stale link name into a whiteout; shale writes neither).
 */
export async function layerListing(tar: AsyncIterable<Uint8Array>, what: string): Promise<LayerListing> {
  const rows: { name: string; line: string }[] = [];
  for await (const e of readTar(tar, { what })) {
    const h = e.header;
    const name = h.name.replace(/^\.\//, '').replace(/\/$/, '');
    if (name.slice(name.lastIndexOf('/') + 1).startsWith('.wh.')) {
      rows.push({ name, line: `whiteout ${name}` });
      continue;
    }
    const xattrs = Object.keys(h.xattrs ?? {}).sort();
    const fields = [typeLetter[h.type], (h.mode & 0o7777).toString(8).padStart(4, '0'), `${h.uid}:${h.gid}`, h.type === 'file' ? h.size : 0, name];
    if (h.type === 'symlink' || h.type === 'hardlink') fields.push(`-> ${h.linkname.replace(/^\.\//, '')}`);
    if (xattrs.length) fields.push(`xattrs=${xattrs.join(',')}`);
    rows.push({ name, line: fields.join(' ') });
  }
  return rows.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)).map((r) => r.line);
}

/**
 * `docker save` of one image, read back: its config and each layer's entry listing (oldest first).
 * Both builders' images go through here, so the two sides are read the same way. `engine`: another
 * Docker than the default one (Docker 26), whose archive names layers `blobs/sha256/HEX`.
 */
export async function dockerSavedImage(ref: string, engine?: Pick<Docker26, 'cli' | 'env'>): Promise<{ config: ImageConfigJson; layers: LayerListing[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'shale-saved-'));
  try {
    execFileSync('sh', ['-c', '"$3" save "$1" | tar -C "$2" -xf -', 'sh', ref, dir, engine?.cli ?? 'docker'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 << 20,
      env: { ...process.env, ...engine?.env },
    });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
    assert.equal(manifest.length, 1);
    const config = JSON.parse(readFileSync(join(dir, manifest[0]!.Config), 'utf8')) as ImageConfigJson;
    const layers: LayerListing[] = [];
    for (const l of manifest[0]!.Layers) layers.push(await layerListing(decompress(createReadStream(join(dir, l)), { what: `${ref} ${l}` }), `${ref} ${l}`));
    return { config, layers };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Each layer of a shale image as an entry listing (oldest first), read from the store's blobs. `user`: the
 * store is that user's (inspected as them; root writes nothing into it).
 */
export async function shaleImageLayers(root: string, ref: string, user?: ShaleUser): Promise<LayerListing[]> {
  const { manifest } = shaleJson<{ manifest: { layers: { digest: string }[] } }>(['inspect', ref], { root, user });
  const out: LayerListing[] = [];
  for (const l of manifest.layers) {
    const blob = join(root, 'blobs', 'sha256', l.digest.slice('sha256:'.length));
    out.push(await layerListing(decompress(createReadStream(blob), { what: l.digest }), l.digest));
  }
  return out;
}

/** Bytes of symlink targets in a layer listing (Docker's SIZE counts them, shale's content size does not). */
export const symlinkBytes = (layer: LayerListing): number =>
  layer.filter((l) => l.startsWith('l ')).reduce((n, l) => n + Buffer.byteLength(l.slice(l.indexOf(' -> ') + 4)), 0);

/** The history as `created_by` + empty-layer marks + comment, oldest first (Docker drops an empty created_by). */
export const historyLines = (c: ImageConfigJson): string[] =>
  c.history.map((h) => `${h.empty_layer ? '(empty) ' : ''}${h.created_by ?? ''}${h.comment !== undefined ? ` # comment: ${h.comment}` : ''}`);

/** Regular-file bytes and symlink-target bytes below a directory (what `du`-like sizes count). */
export function treeBytes(dir: string): { files: number; symlinks: number } {
  let files = 0;
  let symlinks = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) symlinks += Buffer.byteLength(readlinkSync(p));
      else if (e.isFile()) files += lstatSync(p).size;
    }
  };
  walk(dir);
  return { files, symlinks };
}

/**
 * What a finished build (successful, failed or interrupted) must not leave: mounts below the store,
 * runc containers, bundles, active snapshots, heredoc temp dirs, ingest temp files; and `fsck` is clean.
 */
export function assertNoLeftovers(root: string, what: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(root));
  assert.deepEqual(mounts, [], `${what}: no mounts under the store`);
  const runc = spawnSync('runc', ['--root', join(root, 'shale', 'runc'), 'list', '--format', 'json'], { encoding: 'utf8' });
  assert.equal(runc.status, 0, `runc list: ${runc.stderr}`);
  assert.deepEqual(JSON.parse(runc.stdout.trim() || 'null') ?? [], [], `${what}: no runc containers`);
  const listing = (p: string) => (existsSync(join(root, p)) ? readdirSync(join(root, p)) : []);
  assert.deepEqual(listing('shale/bundles'), [], `${what}: no runtime bundles`);
  assert.deepEqual(listing('shale/snapshots/active'), [], `${what}: no active snapshots`);
  assert.deepEqual(listing('shale/ingest'), [], `${what}: no half-written blobs`);
  assert.deepEqual(
    listing('shale').filter((n) => n.startsWith('tmp')),
    [],
    `${what}: no temp directories in the store`,
  );
  const fsck = shaleJson<{ ok: boolean; problems: unknown[] }>(['fsck'], { root });
  assert.deepEqual(fsck, { ...fsck, ok: true, problems: [] }, `${what}: fsck is clean`);
}

/** Processes whose command line holds `marker` (a RUN still running). */
export const processesWith = (marker: string) =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    });
