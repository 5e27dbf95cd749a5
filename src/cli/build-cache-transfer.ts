/**
 * `shale build --cache-to` and `--cache-from`, as buildx names them: the spec parser (unknown types and keys
 * refused, not ignored), and the two places a build cache goes (format in build/cache-export.ts):
 *   - `type=registry,ref=R`: the cache artifact pushed as the manifest R (blobs already there not sent);
 *   - `type=local,dest=D` / `src=D`: an OCI image layout directory, the artifact tagged `latest` in its
 *     index.json. Beside it, `D/cache-mounts/<name>/` holds each cache mount the build's RUN steps used
 *     (`RUN --mount=type=cache`) as a plain directory: its `id` file names the mount, `instance-0/` is its
 *     content, owners and modes kept. `src=D` copies back each one the store lacks. A CI's own cache step
 *     can save and restore D as it is.
 * Reading a source reads only the manifest and the config (the step records); layers are fetched by the
 * build when a step needs one. A cache that cannot be read is a warning and the build runs without it
 * (as BuildKit); a failed export fails the build unless `ignore-error=true`.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheMountsDir, readCacheArtifact, type CacheArtifact, type CacheMode, type CacheSource, type CacheTarget } from '../build/index.js';
import { hasErrno, isShaleError, ShaleError } from '../internal/errors.js';
import { writeFileAtomic, writeStreamAtomic } from '../internal/fs-atomic.js';
import { digestHex, digestOf, IndexSchema, isIndexMediaType, MediaType, OciLayoutSchema, parseJson, type Descriptor, type Digest } from '../oci/index.js';
import type { Image } from '../image/index.js';
import { fetchBlob, getManifest, manifestReference, parseRegistryReference, pushImage, type RegistryClient } from '../registry/index.js';
import type { Store } from '../store/index.js';
import { splitCsv } from './build-outputs.js';
import { openClient } from './registry-commands.js';

export type CacheSpec =
  | { type: 'registry'; ref: string; mode: CacheMode; ignoreError: boolean }
  | { type: 'local'; dir: string; mode: CacheMode; ignoreError: boolean };

/** The keys each type takes, per direction (BuildKit's names). */
const KEYS = {
  to: { registry: ['type', 'ref', 'mode', 'ignore-error'], local: ['type', 'dest', 'mode', 'ignore-error'] },
  from: { registry: ['type', 'ref'], local: ['type', 'src'] },
} as const;

/** BuildKit's other cache backends: named so the refusal says what they are. */
const OTHER_TYPES = ['inline', 'gha', 's3', 'azblob'];

/** Parses one `--cache-to` / `--cache-from` value; a `--cache-from` of a plain reference is `type=registry,ref=` it (buildx's shorthand). */
export function parseCacheSpec(spec: string, direction: 'to' | 'from'): CacheSpec {
  const flag = `--cache-${direction}`;
  if (spec === '') throw new ShaleError('INVALID_ARGUMENT', `${flag} needs a value (type=registry,ref=REF or type=local,${direction === 'to' ? 'dest' : 'src'}=DIR)`);
  if (!spec.includes('=')) {
    if (direction === 'from') return { type: 'registry', ref: spec, mode: 'min', ignoreError: false };
    throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: expected type=registry,ref=REF or type=local,dest=DIR`);
  }
  const fields = new Map<string, string>();
  for (const part of splitCsv(spec)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: "${part}" is not KEY=VALUE`);
    const key = part.slice(0, eq).trim().toLowerCase();
    if (fields.has(key)) throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: ${key} given twice`);
    fields.set(key, part.slice(eq + 1));
  }
  const type = fields.get('type') ?? (direction === 'from' && fields.has('ref') ? 'registry' : undefined);
  if (type === undefined) throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: no type= (registry or local)`);
  if (type !== 'registry' && type !== 'local') {
    const what = OTHER_TYPES.includes(type) ? `cache type "${type}" is not supported` : `unknown cache type "${type}"`;
    throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: ${what} (registry or local)`);
  }
  const allowed: readonly string[] = KEYS[direction][type];
  for (const key of fields.keys()) {
    if (key !== 'type' && !allowed.includes(key)) throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: type=${type} does not take ${key} (it takes ${allowed.slice(1).join(', ')})`);
  }
  const mode = fields.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: mode must be min or max, got "${mode}"`);
  const ignore = fields.get('ignore-error') ?? 'false';
  if (ignore !== 'true' && ignore !== 'false') throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: ignore-error must be true or false, got "${ignore}"`);
  const common = { mode: mode as CacheMode, ignoreError: ignore === 'true' };
  if (type === 'registry') {
    const ref = fields.get('ref');
    if (!ref) throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: type=registry needs ref=REF`);
    parseRegistryReference(ref);
    return { type, ref, ...common };
  }
  const key = direction === 'to' ? 'dest' : 'src';
  const dir = fields.get(key);
  if (!dir) throw new ShaleError('INVALID_ARGUMENT', `${flag} ${spec}: type=local needs ${key}=DIR`);
  return { type, dir, ...common };
}

/** The caches a build reads and writes, with what must be closed after it. */
export interface BuildCacheTransfer {
  sources: CacheSource[];
  targets: CacheTarget[];
  close(): void;
}

/**
 * Opens the `--cache-from` sources (each unreadable one a warning) and makes the `--cache-to` targets;
 * a local source's cache mounts are copied into the store now.
 */
export async function openCacheTransfer(store: Store, from: CacheSpec[], to: CacheSpec[], warn: (m: string) => void): Promise<BuildCacheTransfer> {
  const clients: RegistryClient[] = [];
  const client = async (host: string) => {
    const c = await openClient(host, {});
    clients.push(c);
    return c;
  };
  const sources: CacheSource[] = [];
  for (const spec of from) {
    const name = spec.type === 'registry' ? `cache ${spec.ref}` : `cache ${spec.dir}`;
    try {
      sources.push(spec.type === 'registry' ? await registrySource(await client(parseRegistryReference(spec.ref).host), spec.ref) : await localSource(spec.dir));
      if (spec.type === 'local') await importCacheMounts(store, spec.dir);
    } catch (e) {
      if (!isShaleError(e) && !hasErrno(e, 'ENOENT')) throw e;
      warn(`importing ${name}: ${(e as Error).message} (building without it)`);
    }
  }
  const targets: CacheTarget[] = to.map((spec) => ({
    mode: spec.mode,
    write: async (artifact) => {
      try {
        if (spec.type === 'registry') await pushArtifact(await client(parseRegistryReference(spec.ref).host), spec.ref, artifact);
        else {
          await writeLayout(spec.dir, artifact);
          await exportCacheMounts(store, spec.dir, artifact.cacheMounts);
        }
      } catch (e) {
        const where = spec.type === 'registry' ? spec.ref : spec.dir;
        if (spec.ignoreError) return warn(`exporting cache to ${where}: ${(e as Error).message} (ignored: ignore-error=true)`);
        throw new ShaleError(isShaleError(e) ? e.code : 'FAILED_PRECONDITION', `exporting cache to ${where}: ${(e as Error).message}`, { cause: e });
      }
    },
  }));
  return { sources, targets, close: () => clients.forEach((c) => c.close()) };
}

/** The whole of a small blob (a cache config), checked against its descriptor. */
async function smallBlob(source: AsyncIterable<Uint8Array>, d: Descriptor, what: string): Promise<Buffer> {
  if (d.size > 64 << 20) throw new ShaleError('LIMIT_EXCEEDED', `${what}: cache config of ${d.size} bytes is over 64 MiB`);
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  const raw = Buffer.concat(parts);
  if (raw.length !== d.size || digestOf(raw) !== d.digest) throw new ShaleError('DIGEST_MISMATCH', `${what}: blob ${d.digest} does not match its digest or size`);
  return raw;
}

async function registrySource(client: RegistryClient, raw: string): Promise<CacheSource> {
  const ref = parseRegistryReference(raw);
  const m = await getManifest(client, ref.repository, manifestReference(ref));
  if (isIndexMediaType(m.mediaType)) throw new ShaleError('INVALID_ARGUMENT', `${ref.name} is an index, not a shale build cache`);
  const config = (JSON.parse(m.raw.toString('utf8')) as { config?: Descriptor }).config;
  if (!config?.digest) throw new ShaleError('CORRUPT_INPUT', `${ref.name}: manifest has no config`);
  const rawConfig = await smallBlob(fetchBlob(client, ref.repository, config), config, ref.name);
  return { name: `cache ${ref.name}`, records: readCacheArtifact(m.raw, rawConfig, ref.name), openBlob: (d) => fetchBlob(client, ref.repository, d) };
}

const blobPath = (dir: string, digest: Digest): string => join(dir, 'blobs', 'sha256', digestHex(digest));

/** A blob file of a layout; a missing one is NOT_FOUND (the build then runs the step). */
async function* layoutBlob(dir: string, d: Descriptor): AsyncGenerator<Uint8Array> {
  try {
    for await (const c of createReadStream(blobPath(dir, d.digest))) yield c as Buffer;
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) throw new ShaleError('NOT_FOUND', `${dir}: blob ${d.digest} is missing`);
    throw e;
  }
}

const REF_NAME = 'org.opencontainers.image.ref.name';

async function localSource(dir: string): Promise<CacheSource> {
  parseJson(OciLayoutSchema, await readFile(join(dir, 'oci-layout')), `${dir}/oci-layout`);
  const index = parseJson(IndexSchema, await readFile(join(dir, 'index.json')), `${dir}/index.json`);
  const entry = index.manifests.find((m) => m.annotations?.[REF_NAME] === 'latest') ?? (index.manifests.length === 1 ? index.manifests[0] : undefined);
  if (!entry) throw new ShaleError('NOT_FOUND', `${dir}/index.json names no cache tagged latest`);
  const rawManifest = await smallBlob(layoutBlob(dir, entry), entry, dir);
  const config = (JSON.parse(rawManifest.toString('utf8')) as { config?: Descriptor }).config;
  if (!config?.digest) throw new ShaleError('CORRUPT_INPUT', `${dir}: manifest has no config`);
  const rawConfig = await smallBlob(layoutBlob(dir, config), config, dir);
  return { name: `cache ${dir}`, records: readCacheArtifact(rawManifest, rawConfig, dir), openBlob: (d) => layoutBlob(dir, d) };
}

/** Pushes the artifact as the manifest `raw` names (the push of `shale push`: HEAD first, only missing blobs sent). */
async function pushArtifact(client: RegistryClient, raw: string, artifact: CacheArtifact): Promise<void> {
  // pushImage reads the manifest, config bytes and layers; a cache has no image config to give it
  const image = { ...artifact, id: artifact.manifest.config.digest, config: undefined } as unknown as Image;
  await pushImage(client, parseRegistryReference(raw), image);
}

/** Writes the artifact into the OCI layout `dir` (blobs it has are kept), tagged latest in index.json. */
async function writeLayout(dir: string, artifact: CacheArtifact): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const present = async (d: Digest) => lstat(blobPath(dir, d)).then(() => true, () => false);
  for (const l of artifact.layers) if (!(await present(l.descriptor.digest))) await writeStreamAtomic(blobPath(dir, l.descriptor.digest), l.openBlob());
  await writeFileAtomic(blobPath(dir, artifact.manifest.config.digest), artifact.rawConfig);
  await writeFileAtomic(blobPath(dir, artifact.manifestDigest), artifact.rawManifest);
  await writeFileAtomic(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const old = await readFile(join(dir, 'index.json')).then((b) => parseJson(IndexSchema, b, `${dir}/index.json`).manifests, () => []);
  const entry = { mediaType: MediaType.ociManifest, digest: artifact.manifestDigest, size: artifact.rawManifest.length, annotations: { [REF_NAME]: 'latest' } };
  const manifests = [...old.filter((m) => m.annotations?.[REF_NAME] !== 'latest'), entry];
  await writeFileAtomic(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
}

const cp = promisify(execFile);

/** `cp -a` of a tree to `to` through a temp name beside it (owners, modes, times, links kept). */
async function copyTree(from: string, to: string): Promise<void> {
  const tmp = `${to}.new-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await cp('cp', ['-a', '--', from, tmp]);
    await rm(to, { recursive: true, force: true });
    await rename(tmp, to);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * The cache mounts this build used as `dir/cache-mounts/<name>/{id,instance-0}` (other instances are scratch
 * copies); those of `dir` it did not use stay as they are (a step taken from the cache left its mount unchanged).
 */
async function exportCacheMounts(store: Store, dir: string, names: string[]): Promise<void> {
  const root = cacheMountsDir(store.root);
  for (const name of names) {
    const content = join(root, name, 'instance-0');
    if (!(await lstat(content).then((s) => s.isDirectory(), () => false))) continue;
    const out = join(dir, 'cache-mounts', name);
    await mkdir(out, { recursive: true });
    await writeFileAtomic(join(out, 'id'), await readFile(join(root, name, 'id')).catch(() => Buffer.from(`${name}\n`)));
    await copyTree(content, join(out, 'instance-0'));
  }
}

/** The cache mounts of `dir/cache-mounts/` the store lacks, copied in. */
async function importCacheMounts(store: Store, dir: string): Promise<void> {
  const from = join(dir, 'cache-mounts');
  const root = cacheMountsDir(store.root);
  for (const name of await readdir(from).catch(() => [] as string[])) {
    if (!/^[a-f0-9]{32}$/.test(name)) continue;
    if (await lstat(join(root, name, 'instance-0')).then(() => true, () => false)) continue;
    await mkdir(join(root, name), { recursive: true });
    await writeFileAtomic(join(root, name, 'id'), await readFile(join(from, name, 'id')));
    await copyTree(join(from, name, 'instance-0'), join(root, name, 'instance-0'));
  }
}
