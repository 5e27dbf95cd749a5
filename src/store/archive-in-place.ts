import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { canonicalJson, makeManifest, type Image, type Layer } from '../image/index.js';
import { cleanEntryPath, decompress, listTarFile, openStoredFileForListing, sniffCompression, type EntryType, type StoredLayerFile } from '../layer/index.js';
import {
  DockerArchiveManifestSchema,
  ImageConfigSchema,
  ManifestSchema,
  MediaType,
  digestOf,
  normalizeReference,
  ociLayerMediaType,
  parseJson,
  type Digest,
} from '../oci/index.js';

/** A member of the archive: where its content lies. */
interface Member {
  type: EntryType;
  size: number;
  offset: number;
  linkname: string;
}

/** Largest manifest.json or config read into memory. */
const MAX_DOC_BYTES = 64 << 20;

/**
 * Opens the first image of a docker-archive (legacy or Docker 25+) where it lies, to read it only: the
 * members are found by listing the archive's headers, and the layers are read from the archive by
 * offset, not copied. Their digests are checked by whoever reads them (StoredLayerFile.unverifiedDigest
 * and unverifiedDiffId); the config's is checked here. Undefined when the archive is not such a file
 * (compressed as a whole, an OCI layout without manifest.json, or a compressed layer not named by its
 * digest): the caller stages it instead.
 */
export function openDockerArchiveInPlace(path: string, what: string): { image: Image; refs: string[] } | undefined {
  if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return undefined;
  const fd = openSync(path, 'r');
  try {
    const read = (offset: number, length: number): Buffer => {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, offset + got);
        if (n === 0) throw new ShaleError('CORRUPT_INPUT', `${what}: unexpected end of data at byte ${offset + got} (truncated)`);
        got += n;
      }
      return buf;
    };
    if (sniffCompression(read(0, Math.min(4, statSync(path).size))) !== 'none') return undefined;

    const members = new Map<string, Member>();
    const listed = listTarFile(path, { what }, (h, _i, offset) => {
      members.set(cleanEntryPath(h.name, `${what}: member`), { type: h.type, size: h.size, offset: offset ?? -1, linkname: h.linkname });
    });
    if (!listed || !members.has('manifest.json')) return undefined;

    /** The file at an archive path, symlinks followed (as loading follows them). */
    const member = (name: string): { name: string; m: Member } => {
      let n = posix.normalize(name).replace(/^\.\//, '');
      for (let hops = 0; members.get(n)?.type === 'symlink' && hops < 16; hops++) {
        n = posix.normalize(posix.join(posix.dirname(n), members.get(n)!.linkname));
      }
      const m = members.get(n);
      if (!m || m.type !== 'file' || m.offset < 0) throw new ShaleError('CORRUPT_INPUT', `${what}: names "${name}" but has no such file`);
      return { name: n, m };
    };
    const doc = (name: string): Buffer => {
      const { m } = member(name);
      if (m.size > MAX_DOC_BYTES) throw new ShaleError('CORRUPT_INPUT', `${what}: ${name} is too large (${m.size} bytes)`);
      return read(m.offset, m.size);
    };
    /** The digest a member's name gives (blobs/sha256/HEX or HEX.json), if any. */
    const namedDigest = (n: string): Digest | undefined => {
      const hex = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(n) ?? /^([a-f0-9]{64})\.json$/.exec(n);
      return hex ? (`sha256:${hex[1]}` as Digest) : undefined;
    };

    const entry = parseJson(DockerArchiveManifestSchema, doc('manifest.json'), `${what}: manifest.json`)[0];
    if (!entry) return undefined;
    const rawConfig = doc(entry.Config);
    const id = digestOf(rawConfig);
    const configName = member(entry.Config).name;
    const named = namedDigest(configName);
    if (named && named !== id) throw new ShaleError('DIGEST_MISMATCH', `${what}: ${configName} has digest ${id}, expected ${named}`);
    const config = parseJson(ImageConfigSchema, rawConfig, `${what}: config ${entry.Config}`);
    const diffIds = config.rootfs.diff_ids;
    if (entry.Layers.length !== diffIds.length) {
      throw new ShaleError('CORRUPT_INPUT', `${what}: image ${id}: ${entry.Layers.length} layers but the config lists ${diffIds.length} diff_ids`);
    }

    const files = entry.Layers.map((l) => member(l));
    const layers: Layer[] = [];
    for (const [i, { name, m }] of files.entries()) {
      const diffId = diffIds[i]!;
      const byName = namedDigest(name);
      const compression = m.size === 0 ? 'none' : sniffCompression(read(m.offset, Math.min(4, m.size)));
      // a compressed layer's own digest is known only from its name (blobs/sha256/HEX): else it is staged
      if (compression !== 'none' && !byName) return undefined;
      if (compression === 'none' && byName && byName !== diffId) {
        throw new ShaleError('DIGEST_MISMATCH', `${what}: layer ${i + 1} (${name}) is named ${byName}, the config says ${diffId}`);
      }
      const digest = byName ?? diffId;
      const layerWhat = `${what}: layer ${i + 1} (${name})`;
      const file: StoredLayerFile = {
        path,
        plain: compression === 'none',
        region: { offset: m.offset, length: m.size },
        unverifiedDigest: digest,
        unverifiedDiffId: compression === 'none' ? undefined : diffId,
      };
      const blob = () => verified(streamRegion(file), digest, layerWhat);
      layers.push({
        descriptor: { mediaType: ociLayerMediaType(compression), digest, size: m.size },
        diffId,
        what: layerWhat,
        openBlob: blob,
        open: () => (file.plain ? blob() : verified(decompress(blob(), { what: layerWhat }), diffId, `${layerWhat}: uncompressed`)),
        openForListing: () => openStoredFileForListing(file, layerWhat),
        storedFile: file,
      });
    }
    const rawManifest = canonicalJson(
      makeManifest(
        { mediaType: MediaType.ociConfig, digest: id, size: rawConfig.length },
        layers.map((l) => l.descriptor),
      ),
    );
    const manifest = parseJson(ManifestSchema, rawManifest, 'manifest');
    const image: Image = { id, manifestDigest: digestOf(rawManifest), rawManifest, manifest, rawConfig, config, layers };
    return { image, refs: (entry.RepoTags ?? []).map((t) => normalizeReference(t)) };
  } finally {
    closeSync(fd);
  }
}

/** A region of a file, streamed. */
async function* streamRegion(file: StoredLayerFile): AsyncGenerator<Buffer> {
  const { offset, length } = file.region!;
  if (length > 0) yield* createReadStream(file.path, { start: offset, end: offset + length - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

/** Bytes passed through; DIGEST_MISMATCH at their end when they do not have the digest they should. */
async function* verified(source: AsyncIterable<Uint8Array>, expected: string, what: string): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of source) {
    hash.update(chunk);
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (digest !== expected) throw new ShaleError('DIGEST_MISMATCH', `${what} has digest ${digest}, expected ${expected}`);
}
