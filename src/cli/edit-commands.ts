import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { hasErrno, ShaleError } from '../internal/errors.js';
import { appendEdit, createdNow, editedImage, mutateConfig, normalizePort, rebaseEdit, type ConfigEdits, type Image, type ImageEdit, type Layer } from '../image/index.js';
import { decompress } from '../layer/index.js';
import {
  BASE_DIGEST_ANNOTATION,
  BASE_NAME_ANNOTATION,
  dockerLayerMediaType,
  isDigest,
  MediaType,
  normalizeReference,
  ociLayerMediaType,
  parseReference,
  type Digest,
} from '../oci/index.js';
import { openRemoteImage, parseRegistryReference, pushImage, type RegistryClient, type RegistryReference } from '../registry/index.js';
import { describeAndHashLayerBlob, putImage, putLayer, type Store } from '../store/index.js';
import type { CommandResult } from './output.js';
import { openClient, progressPrinter, type RegistryFlags } from './registry-commands.js';

/**
 * `shale mutate`, `append` and `rebase` (crane's): each reads an image, makes a new one and writes it back.
 * An image is one of the store (NAME[:TAG], ID) or of a registry, written `docker://HOST/REPO[:TAG|@DIGEST]`.
 * A registry image is edited in place: only its manifest and config are read, and only the new config,
 * new layers and the manifest are pushed (layers already there are found with HEAD, never downloaded).
 * Without -t the new image takes the tag the image was named by (by digest: it is pushed by its digest).
 */

const REGISTRY_PREFIX = 'docker://';
const isRegistrySpec = (spec: string): boolean => spec.startsWith(REGISTRY_PREFIX);

/** An image being edited, with where it came from. */
type EditSource =
  | { kind: 'store'; image: Image; tag?: string }
  | { kind: 'registry'; image: Image; ref: RegistryReference; client: RegistryClient };

/** Registry clients opened by one command, one per host, closed together. */
class Clients {
  private readonly byHost = new Map<string, Promise<RegistryClient>>();
  constructor(private readonly flags: RegistryFlags) {}
  get(host: string): Promise<RegistryClient> {
    let c = this.byHost.get(host);
    if (!c) this.byHost.set(host, (c = openClient(host, this.flags)));
    return c;
  }
  async close(): Promise<void> {
    for (const c of this.byHost.values()) (await c.catch(() => undefined))?.close();
  }
}

/** The tag a store image was named by (NAME[:TAG]), if it was. */
function storeTagOf(spec: string): string | undefined {
  if (isDigest(spec) || /^[a-f0-9]{12,64}$/.test(spec)) return undefined;
  try {
    const r = parseReference(spec);
    return r.digest ? undefined : normalizeReference(spec);
  } catch {
    return undefined;
  }
}

async function openSource(store: Store, clients: Clients, spec: string): Promise<EditSource> {
  if (!isRegistrySpec(spec)) {
    const { image } = await store.resolve(spec);
    return { kind: 'store', image, tag: storeTagOf(spec) };
  }
  const ref = parseRegistryReference(spec.slice(REGISTRY_PREFIX.length));
  const client = await clients.get(ref.host);
  const image = await openRemoteImage(client, ref);
  if (image.index) {
    // written back under its tag, the edit would replace an index of several platforms by one image
    throw new ShaleError('UNSUPPORTED', `${ref.name} is an index of several platforms; only single images are edited`, {
      hint: `name this platform's image by its digest: docker://${parseReference(ref.name).repository}@${image.manifestDigest}`,
    });
  }
  return { kind: 'registry', image, ref, client };
}

/** Checks -t before anything is read: a store name for a store image, a registry reference for a registry one. */
function checkTag(spec: string, tag: string | undefined): void {
  if (tag === undefined) return;
  const raw = tag.startsWith(REGISTRY_PREFIX) ? tag.slice(REGISTRY_PREFIX.length) : tag;
  if (tag.startsWith(REGISTRY_PREFIX) && !isRegistrySpec(spec)) {
    throw new ShaleError('INVALID_ARGUMENT', `-t ${tag} names a registry, but ${spec} is an image of the store`, { hint: 'tag it in the store, then `shale push`' });
  }
  if (parseReference(raw).digest) throw new ShaleError('INVALID_ARGUMENT', `-t "${tag}" is a digest reference; give a tag`);
}

export interface WriteResult {
  id: Digest;
  manifestDigest: Digest;
  /** The name the new image has (REF@DIGEST when pushed by digest), or null for an untagged store image. */
  ref: string | null;
  uploadedBytes?: number;
  blobs?: { kind: string; digest: Digest; size: number; action: string }[];
}

/**
 * Writes the edit of `source`: to the store (tagged -t, else the tag the image was named by), or pushed to
 * -t, else to the repository it came from. `mountFrom` names, for layers brought from another repository
 * of the same registry, where to mount them from.
 */
async function writeEdit(
  store: Store,
  clients: Clients,
  source: EditSource,
  edit: ImageEdit,
  tag: string | undefined,
  mountFrom: Map<Digest, RegistryReference> = new Map(),
): Promise<WriteResult> {
  const image = editedImage(source.image, edit);
  if (source.kind === 'store') {
    const tags = tag !== undefined ? [tag] : source.tag ? [source.tag] : [];
    const { id, manifestDigest } = await putImage(store, image.config, image.layers.map((l) => l.descriptor), tags, edit.annotations);
    return { id, manifestDigest, ref: tags[0] ? normalizeReference(tags[0]) : null };
  }
  let target: RegistryReference;
  if (tag !== undefined) target = parseRegistryReference(tag.startsWith(REGISTRY_PREFIX) ? tag.slice(REGISTRY_PREFIX.length) : tag);
  else if (source.ref.digest) {
    const repo = parseReference(source.ref.name).repository;
    target = parseRegistryReference(`${repo}@${image.manifestDigest}`);
  } else target = source.ref;
  for (const l of source.image.layers) if (!mountFrom.has(l.descriptor.digest)) mountFrom.set(l.descriptor.digest, source.ref);
  const client = await clients.get(target.host);
  const r = await pushImage(client, target, image, {
    mountFrom: (d) => {
      const from = mountFrom.get(d);
      return from && from.host === target.host ? from.repository : undefined;
    },
    onEvent: progressPrinter('uploading'),
  });
  const name = target.digest ? target.name : `${target.name}@${r.manifestDigest}`;
  return { id: image.id, manifestDigest: r.manifestDigest, ref: name, uploadedBytes: r.uploadedBytes, blobs: r.blobs };
}

const resultOf = (w: WriteResult, extra: Record<string, unknown> = {}): CommandResult => ({
  data: { ...w, ...extra },
  text: w.ref ? `${w.ref}\n${w.id}` : w.id,
});

/** Splits a list flag as crane's string lists are split: at commas, a field in double quotes kept whole. */
export function splitList(raw: string): string[] {
  if (raw === '') return [];
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quoted) {
      if (c === '"' && raw[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  if (quoted) throw new ShaleError('INVALID_ARGUMENT', `list "${raw}" has an unclosed quote`);
  out.push(field);
  return out;
}

/** `KEY=VALUE` of a repeatable flag; KEY must not be empty. */
function keyValue(raw: string, flag: string): [string, string] {
  const at = raw.indexOf('=');
  if (at <= 0) throw new ShaleError('INVALID_ARGUMENT', `${flag} "${raw}" is not KEY=VALUE`);
  return [raw.slice(0, at), raw.slice(at + 1)];
}

export interface MutateFlags extends RegistryFlags {
  tag?: string;
  entrypoint?: string[];
  cmd?: string[];
  env: string[];
  label: string[];
  annotation: string[];
  user?: string;
  workdir?: string;
  exposedPorts: string[];
}

/** The config edits of mutate's flags, checked before anything is read. */
export function configEditsOf(flags: MutateFlags): ConfigEdits {
  const edits: ConfigEdits = {};
  // a list flag given more than once is one list, as crane's repeated string-slice flags are
  if (flags.entrypoint) edits.entrypoint = flags.entrypoint.flatMap(splitList);
  if (flags.cmd) edits.cmd = flags.cmd.flatMap(splitList);
  if (flags.env.length > 0) {
    edits.env = flags.env.map((e) => keyValue(e, '--env'));
    for (const [name] of edits.env) if (/\s/.test(name)) throw new ShaleError('INVALID_ARGUMENT', `--env name "${name}" has white space`);
  }
  if (flags.label.length > 0) edits.labels = Object.fromEntries(flags.label.map((l) => keyValue(l, '--label')));
  if (flags.user !== undefined) edits.user = flags.user;
  if (flags.workdir !== undefined) edits.workdir = flags.workdir;
  if (flags.exposedPorts.length > 0) {
    edits.exposedPorts = flags.exposedPorts.flatMap(splitList);
    edits.exposedPorts.forEach(normalizePort); // a bad port is refused before anything is read
  }
  return edits;
}

/** `shale mutate IMAGE [-t NEW]`: entrypoint, cmd, env, labels, user, workdir, exposed ports, manifest annotations. */
export async function mutateCommand(store: Store, spec: string, flags: MutateFlags): Promise<CommandResult> {
  const edits = configEditsOf(flags);
  const annotations = Object.fromEntries(flags.annotation.map((a) => keyValue(a, '--annotation')));
  if (Object.keys(edits).length === 0 && Object.keys(annotations).length === 0) {
    throw new ShaleError('INVALID_ARGUMENT', 'mutate needs something to change', { hint: 'e.g. --entrypoint, --cmd, --env K=V, --label K=V, --user, --workdir, --exposed-ports, --annotation K=V' });
  }
  checkTag(spec, flags.tag);
  const clients = new Clients(flags);
  try {
    const source = await openSource(store, clients, spec);
    const before = source.image.manifest.annotations;
    if (Object.keys(annotations).length > 0 && source.image.manifest.mediaType === MediaType.dockerManifest) {
      throw new ShaleError('UNSUPPORTED', `${spec} has a Docker schema 2 manifest, which has no annotations`);
    }
    const edit: ImageEdit = { config: mutateConfig(source.image.config, edits), layers: source.image.layers, annotations: { ...before, ...annotations } };
    return resultOf(await writeEdit(store, clients, source, edit, flags.tag));
  } finally {
    await clients.close();
  }
}

/** A layer tar given to append: checked (a tar, safe names) and described, its bytes to be stored or sent. */
async function describeLayerFile(path: string): Promise<{ digest: Digest; size: number; diffId: Digest; compression: 'none' | 'gzip' | 'zstd' }> {
  const what = `layer tar ${path}`;
  const st = await stat(path).catch((e: unknown) => {
    throw hasErrno(e, 'ENOENT') ? new ShaleError('NOT_FOUND', `${what} does not exist`) : e;
  });
  if (!st.isFile()) throw new ShaleError('INVALID_ARGUMENT', `${what} is not a file`);
  const info = await describeAndHashLayerBlob(() => createReadStream(path), st.size, what);
  return { digest: info.digest, size: info.size, diffId: info.diffId, compression: info.compression };
}

export interface AppendFlags extends RegistryFlags {
  tag?: string;
  newLayer: string[];
}

/**
 * `shale append IMAGE -f LAYER.tar [-f ...] [-t NEW]`: each tar (plain, gzip or zstd) becomes a layer on
 * top, with a history entry. The store keeps it uncompressed; a registry gets the file's bytes as they are.
 */
export async function appendCommand(store: Store, spec: string, flags: AppendFlags): Promise<CommandResult> {
  if (flags.newLayer.length === 0) throw new ShaleError('INVALID_ARGUMENT', 'append needs a layer tar (-f LAYER.tar)');
  checkTag(spec, flags.tag);
  const clients = new Clients(flags);
  try {
    // every tar is read and checked before the image is opened or anything is written
    const files = [];
    for (const path of flags.newLayer) files.push({ path, ...(await describeLayerFile(path)) });
    const source = await openSource(store, clients, spec);
    const docker = source.image.manifest.mediaType === MediaType.dockerManifest;
    let image = source.image;
    let edit: ImageEdit | undefined;
    for (const f of files) {
      const what = `layer tar ${f.path}`;
      let layer: Layer;
      if (source.kind === 'store') {
        const { descriptor, info } = await putLayer(store, decompress(createReadStream(f.path), { what }), what);
        layer = store.layer(descriptor, info.diffId);
      } else {
        const mediaType = docker ? dockerLayerMediaType(f.compression) : ociLayerMediaType(f.compression);
        layer = {
          descriptor: { mediaType, digest: f.digest, size: f.size },
          diffId: f.diffId,
          what,
          openBlob: () => createReadStream(f.path),
          open: () => decompress(createReadStream(f.path), { what }),
        };
      }
      edit = appendEdit(image, layer, { created: createdNow(), created_by: `shale append ${basename(f.path)}` });
      image = editedImage(image, edit);
    }
    return resultOf(await writeEdit(store, clients, source, edit!, flags.tag), { layers: files.map((f) => ({ file: f.path, diffId: f.diffId })) });
  } finally {
    await clients.close();
  }
}

export interface RebaseFlags extends RegistryFlags {
  tag?: string;
  newBase?: string;
  oldBase?: string;
}

/**
 * `shale rebase IMAGE [--old-base OLD] [--new-base NEW] [-t NEW]`: the old base's layers at the bottom of
 * the image are replaced by the new base's. The old base defaults to the image named by the manifest's
 * base digest annotation, the new one to its base name annotation (the same tag, maybe updated). Bases are
 * read where the image is: the store, or the registry (`docker://`).
 */
export async function rebaseCommand(store: Store, spec: string, flags: RebaseFlags): Promise<CommandResult> {
  checkTag(spec, flags.tag);
  const remote = isRegistrySpec(spec);
  for (const [flag, value] of [['--new-base', flags.newBase], ['--old-base', flags.oldBase]] as const) {
    if (value !== undefined && isRegistrySpec(value) !== remote) {
      throw new ShaleError('INVALID_ARGUMENT', `${flag} ${value} must be ${remote ? 'a docker:// image, as the image is' : 'an image of the store, as the image is'}`, {
        hint: remote ? 'push the base to a registry first' : 'pull the base into the store first',
      });
    }
  }
  const clients = new Clients(flags);
  try {
    const source = await openSource(store, clients, spec);
    const annotations = source.image.manifest.annotations ?? {};
    const baseSpec = (name: string, digest?: string): string => {
      if (!remote) return digest ?? name;
      const repo = parseReference(name).repository;
      return `${REGISTRY_PREFIX}${digest ? `${repo}@${digest}` : name}`;
    };
    const namedBase = annotations[BASE_NAME_ANNOTATION];
    const namedDigest = annotations[BASE_DIGEST_ANNOTATION];
    let oldSpec = flags.oldBase;
    if (oldSpec === undefined) {
      if (!namedDigest || !isDigest(namedDigest) || (remote && !namedBase)) {
        throw new ShaleError('INVALID_ARGUMENT', `${spec} does not say which image it was built on (no ${BASE_DIGEST_ANNOTATION} annotation)`, { hint: 'name it with --old-base' });
      }
      oldSpec = baseSpec(namedBase ?? '', namedDigest);
    }
    const newSpec = flags.newBase ?? (namedBase ? baseSpec(namedBase) : undefined);
    if (newSpec === undefined) throw new ShaleError('INVALID_ARGUMENT', `rebase needs the new base (--new-base IMAGE): ${spec} names none`);
    const notFound = (e: unknown): boolean => flags.oldBase === undefined && e instanceof ShaleError && e.code === 'NOT_FOUND';
    const oldBase = await openSource(store, clients, oldSpec)
      // a base built here and pushed compressed has another digest in the registry: the store's copy has
      // the diffIds and history the rebase compares, and none of its blobs are sent
      .catch((e: unknown) => (remote && notFound(e) ? openSource(store, clients, namedDigest!) : Promise.reject(e)))
      .catch((e: unknown) => {
        if (notFound(e)) {
          throw new ShaleError('NOT_FOUND', `the base ${spec} was built on (${namedBase ?? ''}@${namedDigest}) is not ${remote ? 'in its registry nor in the store' : 'in the store'}`, { hint: 'name it with --old-base', cause: e });
        }
        throw e;
      });
    const newBase = await openSource(store, clients, newSpec);
    const newName = newBase.kind === 'registry' ? newBase.ref.name : (storeTagOf(newSpec) ?? newBase.image.manifestDigest);
    const edit = rebaseEdit(source.image, oldBase.image, { image: newBase.image, name: newName });
    const mountFrom = new Map<Digest, RegistryReference>();
    if (newBase.kind === 'registry') for (const l of newBase.image.layers) mountFrom.set(l.descriptor.digest, newBase.ref);
    const written = await writeEdit(store, clients, source, edit, flags.tag, mountFrom);
    return resultOf(written, {
      oldBase: { digest: oldBase.image.manifestDigest, layers: oldBase.image.layers.length },
      newBase: { name: newName, digest: newBase.image.manifestDigest, layers: newBase.image.layers.length },
    });
  } finally {
    await clients.close();
  }
}
