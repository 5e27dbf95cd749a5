/**
 * The outputs of `shale build` as `docker buildx build -o` names them: the spec parser (unknown types and
 * keys refused), the exporters (a directory, a tar of the tree, an OCI or docker archive, a registry
 * push) and what `--metadata-file` records. The image is always put into the store first: the exporters
 * read it from there.
 */
import { mkdir } from 'node:fs/promises';
import { sourceDateEpoch } from '../build/index.js';
import { ShaleError } from '../internal/errors.js';
import { writeStreamAtomic } from '../internal/fs-atomic.js';
import { exportMergedTar, parseCompression, readTar, writeTar, type CompressionSpec, type TarWriteEntry } from '../layer/index.js';
import { normalizeReference, type Descriptor, type Digest } from '../oci/index.js';
import { unpackLayer } from '../snapshot/index.js';
import { saveArchive, tagImage, type Store } from '../store/index.js';
import { pushCommand } from './registry-commands.js';
import type { PushResult } from '../registry/index.js';

/** BuildKit's `compression=` and `compression-level=` of an image output, as given (checked when parsed). */
interface CompressionKeys {
  compression?: string;
  compressionLevel?: string;
}

export type BuildOutput =
  | { type: 'local'; dest: string }
  | { type: 'tar'; dest: string }
  | ({ type: 'oci' | 'docker'; dest: string; names: string[] } & CompressionKeys)
  | ({ type: 'image'; names: string[]; push: boolean; insecure: boolean } & CompressionKeys);

/** The keys each type takes (BuildKit's names); any other key is refused, not ignored. */
const KEYS: Record<BuildOutput['type'], readonly string[]> = {
  local: ['type', 'dest'],
  tar: ['type', 'dest'],
  oci: ['type', 'dest', 'name', 'compression', 'compression-level'],
  docker: ['type', 'dest', 'name', 'compression', 'compression-level'],
  image: ['type', 'name', 'push', 'registry.insecure', 'compression', 'compression-level'],
};

const bool = (raw: string | undefined, key: string, spec: string): boolean => {
  if (raw === undefined || raw === 'true') return raw === 'true';
  if (raw === 'false') return false;
  throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: ${key} must be true or false, got "${raw}"`);
};

/**
 * Parses one `-o` value: `type=T,key=value,...`, or buildx's shorthands (`-` is a tar on stdout, any
 * other plain value a directory). `name` takes several names joined by commas, as in buildx
 * (`name=a:1,b:2` is read as `name="a:1,b:2"` only when quoted; unquoted, `b:2` is an unknown key).
 */
export function parseOutput(spec: string): BuildOutput {
  if (spec === '') throw new ShaleError('INVALID_ARGUMENT', '--output needs a value (type=local,dest=DIR, or a directory)');
  if (!spec.includes('=')) return spec === '-' ? { type: 'tar', dest: '-' } : { type: 'local', dest: spec };
  const fields = new Map<string, string>();
  for (const part of splitCsv(spec)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: "${part}" is not KEY=VALUE`);
    const key = part.slice(0, eq).trim().toLowerCase();
    if (fields.has(key)) throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: ${key} given twice`);
    fields.set(key, part.slice(eq + 1));
  }
  const type = fields.get('type');
  if (type === undefined) throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: no type= (one of local, tar, oci, docker, image)`);
  if (!(type in KEYS)) throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: unknown output type "${type}" (one of local, tar, oci, docker, image)`);
  const t = type as BuildOutput['type'];
  for (const key of fields.keys()) {
    if (!KEYS[t].includes(key)) throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: type=${t} does not take ${key} (it takes ${KEYS[t].slice(1).join(', ')})`);
  }
  const names = (fields.get('name') ?? '').split(',').filter((n) => n !== '');
  // BuildKit's names: compression=uncompressed|gzip|zstd (estargz is not written here), compression-level=N
  const keys: CompressionKeys = {};
  if (fields.has('compression') || fields.has('compression-level')) {
    keys.compression = fields.get('compression') ?? 'gzip';
    keys.compressionLevel = fields.get('compression-level');
    compressionOf(keys, `--output ${spec}: compression`);
  }
  if (t === 'image') {
    if (names.length === 0) throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: type=image needs name=REF`);
    return { type: t, names, push: bool(fields.get('push'), 'push', spec), insecure: bool(fields.get('registry.insecure'), 'registry.insecure', spec), ...keys };
  }
  const dest = fields.get('dest');
  if (!dest) throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: type=${t} needs dest=${t === 'local' ? 'DIR' : 'FILE (- for stdout)'}`);
  if (t === 'local' && dest === '-') throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: type=local writes a directory, not stdout (use type=tar,dest=-)`);
  return t === 'local' || t === 'tar' ? { type: t, dest } : { type: t, dest, names, ...keys };
}

/** The codec an output's compression keys name: gzip when none is named, as BuildKit's image exporters; undefined for `uncompressed`. */
const compressionOf = (keys: CompressionKeys, what = 'compression'): CompressionSpec | undefined =>
  parseCompression(keys.compression ?? 'gzip', keys.compressionLevel, { flag: what, levelFlag: `${what}-level` });

/** Comma-separated fields, where a double-quoted part (`"name=a,b"`) keeps its commas, as buildx's CSV reading does. */
export function splitCsv(spec: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of spec) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) throw new ShaleError('INVALID_ARGUMENT', `--output ${spec}: unterminated quote`);
  out.push(cur);
  return out;
}

/** True when the output is written to stdout (then the image ID is not printed there). */
export const writesStdout = (o: BuildOutput): boolean => o.type !== 'image' && o.dest === '-';

/**
 * The merged tree as a tar; with SOURCE_DATE_EPOCH every entry's mtime is the epoch, as BuildKit's
 * local and tar exporters write them (measured on Docker 26: set, not clamped, even for later times).
 */
async function* treeTar(image: Awaited<ReturnType<Store['resolve']>>['image'], epoch: number | undefined): AsyncGenerator<Buffer> {
  const tar = exportMergedTar(image.layers);
  if (epoch === undefined) return yield* tar;
  async function* restamped(): AsyncGenerator<TarWriteEntry> {
    for await (const e of readTar(tar, { what: `image ${image.id}` })) yield { header: { ...e.header, mtime: epoch! }, body: e.body };
  }
  yield* writeTar(restamped());
}

export interface BuiltImage {
  id: Digest;
  manifestDigest: Digest;
  tags: string[];
}

/** Writes one output of a built image; returns the keys it adds to the metadata file (buildx's names). */
export async function writeOutput(store: Store, output: BuildOutput, built: BuiltImage, options: { epoch?: number }): Promise<Record<string, unknown>> {
  const { entry, image } = await store.resolve(built.id);
  switch (output.type) {
    case 'local':
      await mkdir(output.dest, { recursive: true });
      await unpackLayer(treeTar(image, options.epoch), output.dest, { format: 'plain', what: `output ${output.dest}` });
      return {};
    case 'tar':
      await writeStreamAtomic(output.dest, treeTar(image, options.epoch));
      return {};
    case 'oci':
    case 'docker': {
      const names = output.names.length > 0 ? output.names : built.tags;
      const items = names.length > 0 ? names.map((ref) => ({ ref: normalizeReference(ref), image })) : [{ image }];
      // the archive's manifest names compressed layers (gzip unless told otherwise, as BuildKit's exporters):
      // the metadata names that manifest, as buildx's does
      let manifest: Descriptor = entry.descriptor;
      const onManifest = (_id: Digest, d: Descriptor) => (manifest = d);
      await writeStreamAtomic(output.dest, saveArchive(store, items, output.type === 'oci' ? 'oci-archive' : 'docker-archive', { compression: compressionOf(output), onManifest }));
      return imageMetadata({ ...built, manifestDigest: manifest.digest }, manifest, names);
    }
    case 'image': {
      // a push that compresses layers writes another manifest: the metadata names the one pushed, as buildx's
      let manifest: Descriptor = entry.descriptor;
      for (const name of output.names) {
        await tagImage(store, built.id, name);
        if (!output.push) continue;
        const { data } = await pushCommand(store, name, { insecure: output.insecure, compression: output.compression, compressionLevel: output.compressionLevel });
        const pushed = data as PushResult;
        manifest = { mediaType: pushed.mediaType, digest: pushed.manifestDigest, size: pushed.manifestSize };
      }
      return imageMetadata({ ...built, manifestDigest: manifest.digest }, manifest, output.names);
    }
  }
}

/** The image keys of buildx's metadata file for a build that made an image. */
export function imageMetadata(built: BuiltImage, manifest: Descriptor, names: string[]): Record<string, unknown> {
  return {
    'containerimage.config.digest': built.id,
    'containerimage.descriptor': { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size },
    'containerimage.digest': built.manifestDigest,
    ...(names.length > 0 ? { 'image.name': names.map((n) => fullName(n)).join(',') } : {}),
  };
}

/** The descriptor of a built image's manifest, from the store's index: found by its digest, no image read. */
async function storedManifest(store: Store, built: BuiltImage): Promise<Descriptor> {
  const entry = (await store.readIndex()).find((e) => e.descriptor.digest === built.manifestDigest);
  return entry?.descriptor ?? (await store.resolve(built.id)).entry.descriptor;
}

/** `docker.io/library/x:1` for `x:1`, as buildx writes image.name. */
function fullName(ref: string): string {
  const n = normalizeReference(ref);
  if (!n.includes('/')) return `docker.io/library/${n}`;
  const first = n.split('/')[0]!;
  return first.includes('.') || first.includes(':') || first === 'localhost' ? n : `docker.io/${n}`;
}

/** `--label K=V` values (K alone is an empty value, as buildx reads it). */
export function parseLabels(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '') throw new ShaleError('INVALID_ARGUMENT', `invalid --label ${JSON.stringify(item)}: the name is empty`);
    out[key] = eq < 0 ? '' : item.slice(eq + 1);
  }
  return out;
}

/**
 * The result flags of one build, checked before it starts: `--label`, `-o`, `--iidfile`,
 * `--metadata-file`. `write` runs after the build: the output, then the ID and metadata files; it returns
 * true when stdout took the output (the image ID is then not printed).
 */
export function buildResults(
  store: Store,
  flags: { label: string[]; output: string[]; tag: string[]; iidfile?: string; metadataFile?: string },
  buildArgs: Record<string, string | undefined>,
): { labels: Record<string, string>; write: (built: BuiltImage) => Promise<boolean> } {
  if (flags.output.length > 1) throw new ShaleError('INVALID_ARGUMENT', `--output given ${flags.output.length} times: one output per build (as buildx 0.13)`);
  const output = flags.output.length === 1 ? parseOutput(flags.output[0]!) : undefined;
  // as buildx: those outputs make no image, so there is no ID to write
  if (flags.iidfile && (output?.type === 'local' || output?.type === 'tar')) {
    throw new ShaleError('INVALID_ARGUMENT', `--iidfile cannot be used with --output type=${output.type}: it makes no image (as buildx: local and tar exporters are incompatible with image ID file)`);
  }
  if (output && writesStdout(output) && process.stdout.isTTY) {
    throw new ShaleError('INVALID_ARGUMENT', `--output ${flags.output[0]}: stdout is a terminal; redirect it to a file or a pipe`);
  }
  const epoch = sourceDateEpoch(buildArgs);
  return {
    labels: parseLabels(flags.label),
    write: async (built) => {
      const outputMetadata = output ? await writeOutput(store, output, built, { epoch }) : undefined;
      if (flags.iidfile) await writeStreamAtomic(flags.iidfile, [Buffer.from(built.id)]);
      if (flags.metadataFile) {
        const metadata = outputMetadata ?? imageMetadata(built, await storedManifest(store, built), flags.tag);
        await writeStreamAtomic(flags.metadataFile, [Buffer.from(JSON.stringify(metadata, null, 2))]);
      }
      return output !== undefined && writesStdout(output);
    },
  };
}
