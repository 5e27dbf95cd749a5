import { closeSync, createReadStream, openSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ShaleError, hasErrno } from '../internal/errors.js';
import { verifyStream } from '../internal/hash.js';
import { readAt } from '../internal/read-at.js';
import { canonicalJson, makeManifest, type Image, type Layer } from '../image/index.js';
import { cleanEntryPath, decompress, listTarFile, openStoredFileForListing, sniffCompression, type StoredLayerFile } from '../layer/index.js';
import {
  DockerArchiveManifestSchema,
  ImageConfigSchema,
  IndexSchema,
  ManifestSchema,
  MediaType,
  digestOf,
  isDigest,
  isIndexMediaType,
  normalizeReference,
  ociLayerMediaType,
  parseJson,
  selectPlatform,
  type Descriptor,
  type Digest,
  type ImageConfig,
} from '../oci/index.js';
import type { ContentStore } from './content-store.js';
import { ingestBlob, type IngestedBlob } from './layer-info.js';
import { tarMembers, type ArchiveMember } from './archive-members.js';

/**
 * Where an archive member's bytes lie: `size` bytes of a file from `offset`. `staged` when the member was
 * copied out of a compressed or streamed archive into the store's temp area (hashed, and described as a
 * layer, as it was copied).
 */
export interface MemberFile {
  name: string;
  path: string;
  offset: number;
  size: number;
  staged?: IngestedBlob;
}

/** Largest document (manifest.json, index, manifest, config) read into memory. */
const MAX_DOC_BYTES = 64 << 20;

function readRegion(path: string, offset: number, length: number, what: string): Buffer {
  const buf = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    const got = readAt(fd, buf, length, offset);
    if (got < length) throw new ShaleError('CORRUPT_INPUT', `${what}: unexpected end of data at byte ${offset + got} (truncated)`);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** The digest an archive member's name gives (`blobs/sha256/HEX`, or a legacy config's `HEX.json`), if any. */
export function namedDigest(name: string): Digest | undefined {
  const hex = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name) ?? /^([a-f0-9]{64})\.json$/.exec(name);
  return hex ? (`sha256:${hex[1]}` as Digest) : undefined;
}

/** Follows symlinks between members (as Docker 25 archives link `layer.tar` to `blobs/`), 16 hops at most. */
function followLinks(name: string, linkOf: (n: string) => string | undefined): string {
  let n = name;
  for (let hops = 0; hops < 16; hops++) {
    const target = linkOf(n);
    if (target === undefined) break;
    n = posix.normalize(posix.join(posix.dirname(n), target));
  }
  return n;
}

/**
 * The members of an archive, found by name: a plain tar where it lies (from its headers), a layout
 * directory, or a compressed or streamed archive staged to temp files. Every member name is checked for
 * safety when the archive is opened; documents are checked against the digest their name gives.
 */
export class ArchiveView {
  private constructor(
    readonly what: string,
    private readonly find: (name: string) => MemberFile | undefined,
    /** Drops what was staged to read the archive. */
    readonly close: () => Promise<void> = async () => undefined,
  ) {}

  /** A plain tar's members where they lie; undefined when the file is compressed (or has an old GNU sparse member). */
  static tar(path: string, what: string): ArchiveView | undefined {
    const size = statSync(path).size;
    if (sniffCompression(readRegion(path, 0, Math.min(4, size), what)) !== 'none') return undefined;
    const members = new Map<string, { type: string; size: number; offset: number; linkname: string }>();
    const listed = listTarFile(path, { what }, (h, _i, offset) => {
      members.set(cleanEntryPath(h.name, `${what}: member`), { type: h.type, size: h.size, offset: offset ?? -1, linkname: h.linkname });
    });
    if (!listed) return undefined;
    return new ArchiveView(what, (name) => {
      const n = followLinks(name, (x) => (members.get(x)?.type === 'symlink' ? members.get(x)!.linkname : undefined));
      const m = members.get(n);
      return m && m.type === 'file' && m.offset >= 0 ? { name: n, path, offset: m.offset, size: m.size } : undefined;
    });
  }

  /** A layout directory's regular files (symlinks are not followed out of it). */
  static directory(dir: string, what: string): ArchiveView {
    return new ArchiveView(what, (name) => {
      if (name.startsWith('../') || name === '..' || posix.isAbsolute(name)) return undefined;
      const path = join(dir, name);
      const st = statSync(path, { throwIfNoEntry: false });
      return st?.isFile() ? { name, path, offset: 0, size: st.size } : undefined;
    });
  }

  /** Members arriving as a stream (a compressed archive, stdin, a Docker Engine's export), each staged to a temp file. */
  static async staged(content: ContentStore, members: AsyncIterable<ArchiveMember>, what: string): Promise<ArchiveView> {
    const files = new Map<string, IngestedBlob>();
    const links = new Map<string, string>();
    const close = async () => {
      for (const { ing } of files.values()) await content.discard(ing);
    };
    try {
      for await (const m of members) {
        if (m.type === 'symlink') links.set(m.name, m.linkname);
        else if (m.type === 'file') {
          const previous = files.get(m.name);
          files.set(m.name, await ingestBlob(content, m.body, `${what}: ${m.name}`));
          if (previous) await content.discard(previous.ing);
        }
      }
    } catch (e) {
      await close();
      throw e;
    }
    return new ArchiveView(
      what,
      (name) => {
        const n = followLinks(name, (x) => links.get(x));
        const staged = files.get(n);
        return staged && { name: n, path: staged.ing.tempPath, offset: 0, size: staged.ing.size, staged };
      },
      close,
    );
  }

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  file(name: string): MemberFile {
    const m = this.find(posix.normalize(name).replace(/^\.\//, ''));
    if (!m) throw new ShaleError('CORRUPT_INPUT', `${this.what}: names "${name}" but has no such file`);
    return m;
  }

  /** A document's bytes; checked against the digest its name gives, if any. */
  doc(name: string): Buffer {
    return this.read(this.file(name));
  }

  private read(m: MemberFile): Buffer {
    if (m.size > MAX_DOC_BYTES) throw new ShaleError('CORRUPT_INPUT', `${this.what}: ${m.name} is too large (${m.size} bytes)`);
    const raw = readRegion(m.path, m.offset, m.size, this.what);
    const named = namedDigest(m.name);
    const digest = named && digestOf(raw);
    if (digest !== named) throw new ShaleError('DIGEST_MISMATCH', `${this.what}: ${m.name} has digest ${digest}, expected ${named}`);
    return raw;
  }

  /** The member holding a blob, its size checked against the descriptor's. */
  blobFile(d: Descriptor): MemberFile {
    if (!isDigest(d.digest)) throw new ShaleError('UNSUPPORTED', `${this.what}: digest algorithm of ${d.digest} is not supported`);
    const m = this.file(`blobs/sha256/${d.digest.slice(7)}`);
    if (m.size !== d.size) throw new ShaleError('SIZE_MISMATCH', `${this.what}: ${m.name} is ${m.size} bytes, its descriptor says ${d.size}`);
    return m;
  }

  /** A document blob, by its descriptor: digest and size checked. */
  blob(d: Descriptor): Buffer {
    return this.read(this.blobFile(d));
  }
}

/**
 * Opens an archive file (a tar, plain or compressed) or an OCI layout directory: a plain tar and a directory
 * are read where they lie, a compressed tar is staged to temp files of `content`.
 */
export async function openArchiveView(path: string, what: string, content: ContentStore): Promise<ArchiveView> {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) throw new ShaleError('NOT_FOUND', `archive "${path}" does not exist`);
    throw e;
  }
  if (st.isDirectory()) return ArchiveView.directory(path, what);
  return ArchiveView.tar(path, what) ?? ArchiveView.staged(content, tarMembers(createReadStream(path, { highWaterMark: 1 << 20 }), what), what);
}

/** One layer of an archive's image: the member holding it, its descriptor when the archive has one, its diffId. */
export interface ArchiveLayer {
  member: MemberFile;
  descriptor?: Descriptor;
  diffId: Digest;
}

/** An image as an archive describes it: config parsed and checked, layers located, not read. */
export interface ArchiveImage {
  refs: string[];
  id: Digest;
  rawConfig: Buffer;
  config: ImageConfig;
  layers: ArchiveLayer[];
  /** The manifest as the archive has it (OCI); a docker-archive has none, shale makes one. */
  rawManifest?: Buffer;
  manifestDescriptor?: Descriptor;
}

function locateLayers(config: ImageConfig, members: { member: MemberFile; descriptor?: Descriptor }[], what: string, id: Digest): ArchiveLayer[] {
  if (members.length !== config.rootfs.diff_ids.length) {
    throw new ShaleError('CORRUPT_INPUT', `${what}: image ${id}: ${members.length} layers but the config lists ${config.rootfs.diff_ids.length} diff_ids`);
  }
  return members.map((m, i) => ({ ...m, diffId: config.rootfs.diff_ids[i]! as Digest }));
}

/** The images of a docker-archive's manifest.json (legacy, or Docker 25+ with OCI blobs). */
function dockerImages(view: ArchiveView): ArchiveImage[] {
  const { what } = view;
  return parseJson(DockerArchiveManifestSchema, view.doc('manifest.json'), `${what}: manifest.json`).map((entry) => {
    const rawConfig = view.doc(entry.Config);
    const id = digestOf(rawConfig);
    const config = parseJson(ImageConfigSchema, rawConfig, `${what}: config ${entry.Config}`);
    const layers = locateLayers(config, entry.Layers.map((name) => ({ member: view.file(name) })), what, id);
    return { refs: (entry.RepoTags ?? []).map((t) => normalizeReference(t)), id, rawConfig, config, layers };
  });
}

/** The name an OCI index entry carries: a full reference in containerd's or the ref.name annotation. */
function ociRefName(d: Descriptor): string | undefined {
  const candidates = [d.annotations?.['io.containerd.image.name'], d.annotations?.['org.opencontainers.image.ref.name']];
  for (const c of candidates) {
    if (!c) continue;
    try {
      const ref = normalizeReference(c);
      if (c.includes(':') || c.includes('/')) return ref;
    } catch {
      /* a bare tag such as "latest" names no repository */
    }
  }
  return undefined;
}

/** Whether an OCI index entry is the one named `pick` (a full reference or its bare ref.name). */
function isNamed(d: Descriptor, pick: string): boolean {
  if (d.annotations?.['org.opencontainers.image.ref.name'] === pick) return true;
  try {
    return ociRefName(d) === normalizeReference(pick);
  } catch {
    return false;
  }
}

/** The top entries of an OCI layout's index.json: all of them, or those named `pick`. */
export function ociRoots(view: ArchiveView, pick?: string): { descriptor: Descriptor; refName?: string }[] {
  const index = parseJson(IndexSchema, view.doc('index.json'), `${view.what}: index.json`);
  const out = index.manifests.filter((d) => !pick || isNamed(d, pick)).map((descriptor) => ({ descriptor, refName: ociRefName(descriptor) }));
  if (pick && out.length === 0) throw new ShaleError('NOT_FOUND', `${view.what}: no image named "${pick}"`);
  return out;
}

/** The image of an OCI manifest the layout holds. */
export function ociImageAt(view: ArchiveView, desc: Descriptor, refs: string[]): ArchiveImage {
  const { what } = view;
  const rawManifest = view.blob(desc);
  const manifest = parseJson(ManifestSchema, rawManifest, `${what}: manifest ${desc.digest}`);
  const rawConfig = view.blob(manifest.config);
  const config = parseJson(ImageConfigSchema, rawConfig, `${what}: config ${manifest.config.digest}`);
  const id = manifest.config.digest as Digest;
  const layers = locateLayers(config, manifest.layers.map((d) => ({ member: view.blobFile(d), descriptor: d })), what, id);
  return { refs, id, rawConfig, config, layers, rawManifest, manifestDescriptor: desc };
}

/**
 * The images of an OCI layout: those its index names (or the one named `pick`), each index among them
 * resolved to its manifest for `platform`. Entries naming the same manifest are one image with all their names.
 */
function ociImages(view: ArchiveView, pick?: string, platform?: string): ArchiveImage[] {
  const byManifest = new Map<Digest, { desc: Descriptor; refs: string[] }>();
  for (const { descriptor, refName } of ociRoots(view, pick)) {
    let desc = descriptor;
    if (isIndexMediaType(desc.mediaType)) {
      desc = selectPlatform(parseJson(IndexSchema, view.blob(desc), `${view.what}: index ${desc.digest}`), platform, `${view.what}: index ${desc.digest}`);
    }
    const seen = byManifest.get(desc.digest as Digest) ?? { desc, refs: [] };
    if (refName && !seen.refs.includes(refName)) seen.refs.push(refName);
    byManifest.set(desc.digest as Digest, seen);
  }
  return [...byManifest.values()].map(({ desc, refs }) => ociImageAt(view, desc, refs));
}

/**
 * The images of an archive or layout, as `load` takes them: every image of a docker-archive's
 * manifest.json; else those of an OCI layout's index.json (the one named `ref`; through an index, the one
 * for `platform`). A Docker 25+ archive has both: its manifest.json is read unless an OCI `ref` is asked for.
 */
export function archiveImages(view: ArchiveView, options: { ref?: string; platform?: string } = {}): ArchiveImage[] {
  if (view.has('manifest.json') && !options.ref) return dockerImages(view);
  if (view.has('index.json')) return ociImages(view, options.ref, options.platform);
  throw new ShaleError('CORRUPT_INPUT', `${view.what} is not a docker-archive or OCI layout (no manifest.json or index.json)`);
}

/** A region of a file, streamed. */
export async function* streamMember(m: Pick<MemberFile, 'path' | 'offset' | 'size'>): AsyncGenerator<Buffer> {
  if (m.size > 0) yield* createReadStream(m.path, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

const verified = (source: AsyncIterable<Uint8Array>, digest: string, what: string) => verifyStream(source, { digest }, what);

/**
 * A layer read where it lies (or where it was staged). Bytes not hashed yet are checked by whoever reads
 * them (StoredLayerFile .unverifiedDigest and .unverifiedDiffId, and at the end of openBlob/open).
 * Undefined for a compressed layer whose own digest is not known without reading it (no descriptor, not
 * named by it, not staged).
 */
function archiveLayer(l: ArchiveLayer, i: number, what: string): Layer | undefined {
  const m = l.member;
  const layerWhat = `${what}: layer ${i + 1} (${m.name})`;
  const compression = m.size === 0 ? 'none' : sniffCompression(readRegion(m.path, m.offset, Math.min(4, m.size), what));
  const digest = l.descriptor?.digest ?? namedDigest(m.name) ?? (compression === 'none' ? l.diffId : m.staged?.ing.digest);
  if (!digest) return undefined;
  if (compression === 'none' && digest !== l.diffId) throw new ShaleError('DIGEST_MISMATCH', `${what}: layer ${i + 1} (${m.name}) is ${digest}, the config says ${l.diffId}`);
  const staged = m.staged;
  if (staged && staged.ing.digest !== digest) throw new ShaleError('DIGEST_MISMATCH', `${layerWhat}: content has digest ${staged.ing.digest}, expected ${digest}`);
  if (staged?.layer && staged.layer.diffId !== l.diffId) throw new ShaleError('DIGEST_MISMATCH', `${what}: layer ${i + 1} has diffId ${staged.layer.diffId}, the config says ${l.diffId}`);
  const file: StoredLayerFile = {
    path: m.path,
    plain: compression === 'none',
    region: { offset: m.offset, length: m.size },
    unverifiedDigest: staged ? undefined : digest,
    unverifiedDiffId: compression === 'none' || staged?.layer ? undefined : l.diffId,
  };
  const blob = () => verified(streamMember(m), digest, layerWhat);
  return {
    descriptor: l.descriptor ?? { mediaType: ociLayerMediaType(compression), digest: digest as Digest, size: m.size },
    diffId: l.diffId,
    what: layerWhat,
    openBlob: blob,
    open: () => (file.plain ? blob() : verified(decompress(blob(), { what: layerWhat }), l.diffId, `${layerWhat}: uncompressed`)),
    openForListing: () => openStoredFileForListing(file, layerWhat),
    storedFile: file,
  };
}

/** The manifest a docker-archive's image is given: OCI, its layers as the archive holds them. */
function makeArchiveManifest(img: Pick<ArchiveImage, 'id' | 'rawConfig'>, layers: Descriptor[]): Buffer {
  return canonicalJson(makeManifest({ mediaType: MediaType.ociConfig, digest: img.id, size: img.rawConfig.length }, layers));
}

/** An archive's image as an `Image`, its layers read where they lie; undefined when a layer's digest is unknown (see archiveLayer). */
export function archiveImageView(img: ArchiveImage, what: string): Image | undefined {
  const layers: Layer[] = [];
  for (const [i, l] of img.layers.entries()) {
    const layer = archiveLayer(l, i, what);
    if (!layer) return undefined;
    layers.push(layer);
  }
  const rawManifest = img.rawManifest ?? makeArchiveManifest(img, layers.map((l) => l.descriptor));
  const manifest = parseJson(ManifestSchema, rawManifest, 'manifest');
  return {
    id: img.id,
    manifestDigest: (img.manifestDescriptor?.digest as Digest | undefined) ?? digestOf(rawManifest),
    rawManifest,
    manifest,
    rawConfig: img.rawConfig,
    config: img.config,
    layers,
  };
}

export interface StagedLayer {
  blob: IngestedBlob;
  descriptor: Descriptor;
}

/**
 * An archive's layer copied into `content`'s temp area and verified: its digest against the descriptor or
 * the name that gives one, its diffId against the config's. A member staged already is taken as it is;
 * `once` shares the copy of a member two images name.
 */
export async function stageArchiveLayer(content: ContentStore, l: ArchiveLayer, i: number, what: string, once: Map<string, Promise<IngestedBlob>>): Promise<StagedLayer> {
  const m = l.member;
  const key = `${m.path}:${m.offset}`;
  let pending = once.get(key);
  if (!pending) {
    pending = m.staged ? Promise.resolve(m.staged) : ingestBlob(content, streamMember(m), `${what}: ${m.name}`, { size: m.size });
    once.set(key, pending);
  }
  const blob = await pending;
  const expected = l.descriptor?.digest ?? namedDigest(m.name);
  if (expected && blob.ing.digest !== expected) throw new ShaleError('DIGEST_MISMATCH', `${what}: ${m.name} has digest ${blob.ing.digest}, expected ${expected}`);
  if (l.descriptor && blob.ing.size !== l.descriptor.size) {
    throw new ShaleError('SIZE_MISMATCH', `${what}: ${m.name} is ${blob.ing.size} bytes, its descriptor says ${l.descriptor.size}`);
  }
  if (!blob.layer) throw blob.layerError;
  if (blob.layer.diffId !== l.diffId) throw new ShaleError('DIGEST_MISMATCH', `${what}: layer ${i + 1} has diffId ${blob.layer.diffId}, the config says ${l.diffId}`);
  return { blob, descriptor: l.descriptor ?? { mediaType: ociLayerMediaType(blob.layer.compression), digest: blob.ing.digest, size: blob.ing.size } };
}

/** The manifest of a loaded image: the archive's own (OCI), else one made for the staged layers. */
export function archiveManifest(img: ArchiveImage, layers: StagedLayer[]): Buffer {
  return img.rawManifest ?? makeArchiveManifest(img, layers.map((l) => l.descriptor));
}
