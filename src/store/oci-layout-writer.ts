import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hasErrno, ShaleError } from '../internal/errors.js';
import { verifyStream } from '../internal/hash.js';
import { writeFileAtomic, writeStreamAtomic } from '../internal/fs-atomic.js';
import { canonicalJson } from '../image/index.js';
import { makeHeader, writeTar, type TarWriteEntry } from '../layer/index.js';
import { IndexSchema, MediaType, digestHex, parseJson, type Descriptor, type Digest } from '../oci/index.js';

/** A blob to put in a layout: its descriptor and how to read it (checked against the descriptor as written). */
export interface LayoutBlob {
  descriptor: Descriptor;
  open(): AsyncIterable<Uint8Array>;
}

/** The entry index.json gets: the root manifest or index, named `refName` (`org.opencontainers.image.ref.name`) when given. */
export interface LayoutRoot {
  descriptor: Descriptor;
  refName?: string;
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const LAYOUT = canonicalJson({ imageLayoutVersion: '1.0.0' });

function rootEntry(root: LayoutRoot): Descriptor {
  const { mediaType, digest, size } = root.descriptor;
  return { mediaType, digest, size, ...(root.refName ? { annotations: { [REF_NAME]: root.refName } } : {}) };
}

/**
 * Writes into an OCI image layout directory (created if missing): each blob not already there is
 * written to a temp file, checked against its descriptor and renamed into `blobs/sha256/`; then
 * index.json gains the root (replacing an entry of the same name), written atomically. Returns the bytes
 * written. On failure, a directory this call created is removed.
 */
export async function writeOciLayoutDir(dir: string, blobs: LayoutBlob[], root: LayoutRoot): Promise<{ writtenBytes: number }> {
  const existed = await stat(dir).then(
    (s) => {
      if (!s.isDirectory()) throw new ShaleError('INVALID_ARGUMENT', `${dir} exists and is not a directory`);
      return true;
    },
    (e: unknown) => {
      if (hasErrno(e, 'ENOENT')) return false;
      throw e;
    },
  );
  let index: { schemaVersion: 2; mediaType: string; manifests: Descriptor[] } = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  if (existed) {
    const raw = await readFile(join(dir, 'index.json')).catch((e: unknown) => {
      if (hasErrno(e, 'ENOENT')) return undefined;
      throw e;
    });
    if (raw) index = { ...index, manifests: parseJson(IndexSchema, raw, `${dir}/index.json`).manifests };
  }
  const blobDir = join(dir, 'blobs', 'sha256');
  let writtenBytes = 0;
  try {
    await mkdir(blobDir, { recursive: true });
    for (const b of blobs) {
      const path = join(blobDir, digestHex(b.descriptor.digest as Digest));
      if ((await stat(path).catch(() => undefined))?.size === b.descriptor.size) continue;
      await writeStreamAtomic(path, verifyStream(b.open(), { digest: b.descriptor.digest, size: b.descriptor.size }, `blob ${b.descriptor.digest}`));
      writtenBytes += b.descriptor.size;
    }
    const entry = rootEntry(root);
    const kept = index.manifests.filter((m) => !(root.refName ? m.annotations?.[REF_NAME] === root.refName : m.digest === entry.digest && !m.annotations?.[REF_NAME]));
    await writeFileAtomic(join(dir, 'oci-layout'), LAYOUT);
    await writeFileAtomic(join(dir, 'index.json'), canonicalJson({ ...index, manifests: [...kept, entry] }));
  } catch (e) {
    if (!existed) await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return { writtenBytes };
}

/** An OCI layout as a tar stream (an OCI archive): the blobs, each once, checked as they stream; then index.json and oci-layout. */
export async function* ociArchiveStream(blobs: LayoutBlob[], root: LayoutRoot): AsyncGenerator<Buffer> {
  async function* entries(): AsyncGenerator<TarWriteEntry> {
    yield { header: makeHeader({ name: 'blobs/', type: 'dir', mode: 0o755 }) };
    yield { header: makeHeader({ name: 'blobs/sha256/', type: 'dir', mode: 0o755 }) };
    const seen = new Set<string>();
    for (const b of blobs) {
      const { digest, size } = b.descriptor;
      if (seen.has(digest)) continue;
      seen.add(digest);
      yield { header: makeHeader({ name: `blobs/sha256/${digestHex(digest as Digest)}`, type: 'file', size }), body: verifyStream(b.open(), { digest, size }, `blob ${digest}`) };
    }
    const index = canonicalJson({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [rootEntry(root)] });
    yield { header: makeHeader({ name: 'index.json', type: 'file', size: index.length }), body: index };
    yield { header: makeHeader({ name: 'oci-layout', type: 'file', size: LAYOUT.length }), body: LAYOUT };
  }
  yield* writeTar(entries());
}
