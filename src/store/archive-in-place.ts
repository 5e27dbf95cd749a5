import { closeSync, createReadStream, openSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { HashingStream, verifyContent } from '../internal/hash.js';
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
  normalizeReference,
  ociLayerMediaType,
  parseJson,
  type Descriptor,
  type Digest,
  type ImageConfig,
} from '../oci/index.js';
import { namedDigest, pickOciManifests } from './load.js';

/** Where an archive member's bytes lie: `size` bytes of a file from `offset`. */
interface MemberFile {
  name: string;
  path: string;
  offset: number;
  size: number;
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

/** The members of an archive where it lies: a plain tar file (found from its headers) or a layout directory. */
class ArchiveView {
  private constructor(
    readonly what: string,
    private readonly find: (name: string) => MemberFile | undefined,
  ) {}

  /** A plain tar's members; undefined when the file is compressed (or old GNU sparse): it is staged. */
  static tar(path: string, what: string): ArchiveView | undefined {
    const size = statSync(path).size;
    if (sniffCompression(readRegion(path, 0, Math.min(4, size), what)) !== 'none') return undefined;
    const members = new Map<string, { type: string; size: number; offset: number; linkname: string }>();
    const listed = listTarFile(path, { what }, (h, _i, offset) => {
      members.set(cleanEntryPath(h.name, `${what}: member`), { type: h.type, size: h.size, offset: offset ?? -1, linkname: h.linkname });
    });
    if (!listed) return undefined;
    return new ArchiveView(what, (name) => {
      // symlinks followed, as loading follows them
      let n = name;
      for (let hops = 0; members.get(n)?.type === 'symlink' && hops < 16; hops++) n = posix.normalize(posix.join(posix.dirname(n), members.get(n)!.linkname));
      const m = members.get(n);
      return m && m.type === 'file' && m.offset >= 0 ? { name: n, path, offset: m.offset, size: m.size } : undefined;
    });
  }

  /** A layout directory's files. */
  static directory(dir: string, what: string): ArchiveView {
    return new ArchiveView(what, (name) => {
      if (name.startsWith('../') || name === '..' || posix.isAbsolute(name)) return undefined;
      const path = join(dir, name);
      const st = statSync(path, { throwIfNoEntry: false });
      return st?.isFile() ? { name, path, offset: 0, size: st.size } : undefined;
    });
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
 * A layer read where it lies. Its digests are checked by whoever reads it (StoredLayerFile
 * .unverifiedDigest and .unverifiedDiffId). Undefined for a compressed layer whose own digest is not
 * known without reading it (no descriptor, not named by it): the caller stages the archive instead.
 */
function layerInPlace(m: MemberFile, i: number, diffId: Digest, what: string, desc?: Descriptor): Layer | undefined {
  const compression = m.size === 0 ? 'none' : sniffCompression(readRegion(m.path, m.offset, Math.min(4, m.size), what));
  const digest = desc?.digest ?? namedDigest(m.name) ?? (compression === 'none' ? diffId : undefined);
  if (!digest) return undefined;
  if (compression === 'none' && digest !== diffId) throw new ShaleError('DIGEST_MISMATCH', `${what}: layer ${i + 1} (${m.name}) is ${digest}, the config says ${diffId}`);
  const layerWhat = `${what}: layer ${i + 1} (${m.name})`;
  const file: StoredLayerFile = {
    path: m.path,
    plain: compression === 'none',
    region: { offset: m.offset, length: m.size },
    unverifiedDigest: digest,
    unverifiedDiffId: compression === 'none' ? undefined : diffId,
  };
  const blob = () => verified(streamRegion(file), digest, layerWhat);
  return {
    descriptor: desc ?? { mediaType: ociLayerMediaType(compression), digest: digest as Digest, size: m.size },
    diffId,
    what: layerWhat,
    openBlob: blob,
    open: () => (file.plain ? blob() : verified(decompress(blob(), { what: layerWhat }), diffId, `${layerWhat}: uncompressed`)),
    openForListing: () => openStoredFileForListing(file, layerWhat),
    storedFile: file,
  };
}

function checkLayerCount(config: ImageConfig, layers: number, what: string, id: Digest): void {
  if (layers !== config.rootfs.diff_ids.length) {
    throw new ShaleError('CORRUPT_INPUT', `${what}: image ${id}: ${layers} layers but the config lists ${config.rootfs.diff_ids.length} diff_ids`);
  }
}

/** The first image of a docker-archive's manifest.json (legacy or Docker 25+). */
function dockerImage(view: ArchiveView): { image: Image; refs: string[] } | undefined {
  const { what } = view;
  const entry = parseJson(DockerArchiveManifestSchema, view.doc('manifest.json'), `${what}: manifest.json`)[0];
  if (!entry) return undefined;
  const rawConfig = view.doc(entry.Config);
  const id = digestOf(rawConfig);
  const config = parseJson(ImageConfigSchema, rawConfig, `${what}: config ${entry.Config}`);
  checkLayerCount(config, entry.Layers.length, what, id);
  const layers: Layer[] = [];
  for (const [i, name] of entry.Layers.entries()) {
    const layer = layerInPlace(view.file(name), i, config.rootfs.diff_ids[i]!, what);
    if (!layer) return undefined;
    layers.push(layer);
  }
  const rawManifest = canonicalJson(
    makeManifest(
      { mediaType: MediaType.ociConfig, digest: id, size: rawConfig.length },
      layers.map((l) => l.descriptor),
    ),
  );
  const manifest = parseJson(ManifestSchema, rawManifest, 'manifest');
  return { image: { id, manifestDigest: digestOf(rawManifest), rawManifest, manifest, rawConfig, config, layers }, refs: (entry.RepoTags ?? []).map((t) => normalizeReference(t)) };
}

/** The first image an OCI layout's index names (or the one named `pick`), for `platform` through a nested index. */
async function ociImage(view: ArchiveView, pick?: string, platform?: string): Promise<{ image: Image; refs: string[] } | undefined> {
  const { what } = view;
  const index = parseJson(IndexSchema, view.doc('index.json'), `${what}: index.json`);
  const picked = await pickOciManifests(index, async (d) => view.blob(d), what, pick, platform);
  const first = picked[0];
  if (!first) return undefined;
  const rawManifest = view.blob(first.desc);
  const manifest = parseJson(ManifestSchema, rawManifest, `${what}: manifest ${first.desc.digest}`);
  const rawConfig = view.blob(manifest.config);
  const config = parseJson(ImageConfigSchema, rawConfig, `${what}: config ${manifest.config.digest}`);
  const id = manifest.config.digest as Digest;
  checkLayerCount(config, manifest.layers.length, what, id);
  const layers: Layer[] = [];
  for (const [i, desc] of manifest.layers.entries()) {
    const layer = layerInPlace(view.blobFile(desc), i, config.rootfs.diff_ids[i]!, what, desc);
    if (!layer) return undefined;
    layers.push(layer);
  }
  const image: Image = { id, manifestDigest: first.desc.digest as Digest, rawManifest, manifest, rawConfig, config, layers };
  // the image's names: every entry of the index that leads to the same config
  const refs = picked.filter((p) => p.refName && (p === first || parseJson(ManifestSchema, view.blob(p.desc), `${what}: manifest ${p.desc.digest}`).config.digest === id));
  return { image, refs: refs.map((p) => p.refName!) };
}

/**
 * Opens the first image of an archive where it lies, to read it only (analyze's way): a plain
 * docker-archive or OCI archive found from the tar's headers, or an OCI layout directory; layers are read
 * by offset, not copied, and their digests checked by whoever reads them. The documents (manifests,
 * configs) are checked here. Undefined when it cannot be read so (compressed as a whole, an old GNU
 * sparse member, a compressed layer of unknown digest, neither manifest.json nor index.json): the
 * caller stages it instead, which also gives the errors of a malformed archive.
 */
export async function openArchiveInPlace(
  kind: 'docker-archive' | 'oci-archive' | 'oci',
  path: string,
  what: string,
  options: { ref?: string; platform?: string } = {},
): Promise<{ image: Image; refs: string[] } | undefined> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st || (kind === 'oci' ? !st.isDirectory() : !st.isFile())) return undefined;
  const view = kind === 'oci' ? ArchiveView.directory(path, what) : ArchiveView.tar(path, what);
  if (!view) return undefined;
  // as loading chooses: docker's manifest.json unless an OCI reference is asked for
  if (view.has('manifest.json') && !options.ref) return dockerImage(view);
  if (view.has('index.json')) return ociImage(view, options.ref, options.platform);
  return undefined;
}

/** A region of a file, streamed. */
async function* streamRegion(file: StoredLayerFile): AsyncGenerator<Buffer> {
  const { offset, length } = file.region!;
  if (length > 0) yield* createReadStream(file.path, { start: offset, end: offset + length - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

/** Bytes passed through; DIGEST_MISMATCH at their end when they do not have the digest they should. */
async function* verified(source: AsyncIterable<Uint8Array>, expected: string, what: string): AsyncGenerator<Buffer> {
  const hash = new HashingStream();
  for await (const chunk of source) {
    hash.update(chunk);
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  verifyContent(what, { digest: expected }, { digest: hash.digest(), size: hash.bytes });
}
