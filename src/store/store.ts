import { compareStrings } from '../internal/compare.js';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { hasErrno, ShaleError } from '../internal/errors.js';
import { isProcessAlive, ownerIsDead, processOwner, withFileLock, type LockOwner } from '../internal/lock.js';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import { verifyStream } from '../internal/hash.js';
import { assertWritableLocation } from '../internal/writable-location.js';
import { inUserNamespace, isOwnedInNamespace } from '../internal/user-namespace.js';
import {
  IndexSchema,
  ImageConfigSchema,
  ManifestSchema,
  MediaType,
  isDigest,
  isIndexMediaType,
  normalizeReference,
  parseJson,
  type Descriptor,
  type Digest,
  type Index,
} from '../oci/index.js';
import { decompress, layerCompressionOf, openStoredFileForListing } from '../layer/index.js';
import type { Image, Layer } from '../image/index.js';
import { ContentStore } from './content-store.js';
import { describeLayerBlob, LayerInfoCache, type LayerInfo } from './layer-info.js';

/** The annotation that carries an image's full reference (`name:tag`) in the store's index.json. */
export const REF_ANNOTATION = 'org.opencontainers.image.ref.name';

/** Where the store lives: --root, else $SHALE_ROOT, else $XDG_DATA_HOME/shale, else ~/.local/share/shale. */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SHALE_ROOT) return env.SHALE_ROOT;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'shale');
  return join(homedir(), '.local', 'share', 'shale');
}

/** One entry of the store's index: a manifest and the reference it is tagged with (none when dangling). */
export interface IndexEntry {
  ref?: string;
  descriptor: Descriptor;
}

/**
 * The image store: an OCI image layout (oci-layout, index.json, blobs/sha256) plus shale's own folder for
 * temp ingestions, layer records and the lock. Mutations run under `withLock`.
 */
export class Store {
  readonly content: ContentStore;
  readonly layerInfos: LayerInfoCache;
  private readonly shaleDir: string;
  /** Set when this process may read the store but not write it (shale without root, a store of root's). */
  private writeRefusal?: ShaleError;

  private constructor(readonly root: string, durable: boolean) {
    this.shaleDir = join(root, 'shale');
    this.content = new ContentStore(root, join(this.shaleDir, 'ingest'), durable);
    this.layerInfos = new LayerInfoCache(join(this.shaleDir, 'layers'));
  }

  /**
   * Opens the store at `root`, laying out an empty one if nothing is there. A store that is not
   * `durable` (a scratch store, removed after use) does not fsync its blobs.
   */
  static async open(root: string = defaultStoreRoot(), options: { durable?: boolean } = {}): Promise<Store> {
    const store = new Store(resolve(root), options.durable ?? true);
    const owner = await stat(store.root).then((st) => st.uid, () => undefined);
    if (owner !== undefined && inUserNamespace() && !isOwnedInNamespace(owner)) {
      store.writeRefusal = new ShaleError('FAILED_PRECONDITION', `store ${store.root} belongs to another user (root, or one outside this user namespace): shale without root reads it but never writes to it`, {
        hint: 'use a store of your own: leave --root out ($XDG_DATA_HOME/shale or ~/.local/share/shale) or give --root a directory of yours',
      });
      return store;
    }
    // A store already laid out is used as it is (a read-only one still reads); a new one needs a real, writable disk.
    if (!(await stat(join(store.root, 'index.json')).then((s) => s.isFile(), () => false))) {
      await assertWritableLocation(store.root, 'store root');
    }
    await mkdir(store.content.blobDir, { recursive: true });
    await mkdir(store.shaleDir, { recursive: true });
    const layoutPath = join(root, 'oci-layout');
    if (!existsSync(layoutPath)) {
      await writeFileAtomic(layoutPath, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    }
    if (!existsSync(join(root, 'index.json'))) {
      await store.writeIndex([]);
    }
    return store;
  }

  get ingestDir(): string {
    return this.content.ingestDir;
  }

  /** The store's scratch space (`shale/tmp`), made when missing: for temp files that must stay inside the store. */
  async scratchRoot(): Promise<string> {
    const dir = join(this.root, 'shale', 'tmp');
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** A new private folder in the scratch space, named from `prefix`; the caller removes it. */
  async newScratchDir(prefix: string): Promise<string> {
    return mkdtemp(join(await this.scratchRoot(), prefix));
  }

  /** False when this process may not write to the store (see `open`). */
  get writable(): boolean {
    return this.writeRefusal === undefined;
  }

  /** Throws when this process may not write to the store (see `open`); before anything is written. */
  assertWritable(): void {
    if (this.writeRefusal) throw this.writeRefusal;
  }

  /** Runs `fn` holding the store's lock (one writer at a time across processes). */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    this.assertWritable();
    return withFileLock(join(this.shaleDir, 'lock'), fn);
  }

  async readIndex(): Promise<IndexEntry[]> {
    let raw: Buffer;
    try {
      raw = readFileSync(join(this.root, 'index.json'));
    } catch (e) {
      if (hasErrno(e, 'ENOENT')) return [];
      throw e;
    }
    const index = parseJson(IndexSchema, raw, `store index ${join(this.root, 'index.json')}`);
    return index.manifests.map((d) => ({ ref: d.annotations?.[REF_ANNOTATION], descriptor: d }));
  }

  /** Replaces index.json atomically; entries are sorted so the file is deterministic. */
  async writeIndex(entries: IndexEntry[]): Promise<void> {
    const manifests = [...entries]
      .sort((a, b) => compareStrings(a.ref ?? '~', b.ref ?? '~') || compareStrings(a.descriptor.digest, b.descriptor.digest))
      .map(({ ref, descriptor }) => {
        const annotations = { ...descriptor.annotations };
        delete annotations[REF_ANNOTATION];
        if (ref) annotations[REF_ANNOTATION] = ref;
        const d: Descriptor = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
        if (Object.keys(annotations).length > 0) d.annotations = annotations;
        return d;
      });
    const index: Index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    const text = JSON.stringify(index, null, 2);
    // re-tagging an image where it already is (a cached rebuild) changes nothing: no write, no fsync
    if ((await readFile(join(this.root, 'index.json'), 'utf8').catch(() => undefined)) === text) return;
    await writeFileAtomic(join(this.root, 'index.json'), text);
  }

  /**
   * Points `ref` at a manifest. The image it pointed at before stays as a dangling entry when nothing else
   * references it, as Docker keeps a `<none>` image. Call under the lock.
   */
  async setTags(descriptor: Descriptor, refs: string[]): Promise<void> {
    let entries = await this.readIndex();
    for (const raw of refs) {
      const ref = normalizeReference(raw);
      const old = entries.find((e) => e.ref === ref);
      entries = entries.filter((e) => e.ref !== ref);
      if (old && old.descriptor.digest !== descriptor.digest && !entries.some((e) => e.descriptor.digest === old.descriptor.digest)) {
        entries.push({ descriptor: old.descriptor });
      }
      entries.push({ ref, descriptor });
    }
    if (refs.length === 0 && !entries.some((e) => e.descriptor.digest === descriptor.digest)) entries.push({ descriptor });
    // a tagged entry replaces a dangling one of the same manifest
    entries = entries.filter((e) => e.ref || !entries.some((o) => o.ref && o.descriptor.digest === e.descriptor.digest));
    await this.writeIndex(entries);
  }

  private readonly leased = new Set<Digest>();
  private leaseWrites: Promise<void> = Promise.resolve();

  /**
   * Keeps blobs this process made but has not referenced yet (a layer before its image is written, the
   * layers of a build's stages) safe from a concurrent `prune`, for as long as this process lives. The
   * lease file is rewritten one call at a time, each write with every digest leased so far, so two
   * stages leasing at once cannot replace a newer file with an older one.
   */
  lease(digests: Digest[]): Promise<void> {
    for (const d of digests) this.leased.add(d);
    const owner = processOwner();
    const write = this.leaseWrites.then(() =>
      // no fsync: after a crash its process is dead and the lease void
      writeFileAtomic(join(this.shaleDir, 'leases', `proc-${owner.token}`), JSON.stringify({ owner, digests: [...this.leased] }), 0o644, { durable: false }),
    );
    this.leaseWrites = write.catch(() => undefined);
    return write;
  }

  /** Keeps blobs until `unpin(name)`, whatever process made the pin (a container keeps its image's layers). */
  async pin(name: string, digests: Digest[]): Promise<void> {
    await writeFileAtomic(join(this.shaleDir, 'leases', `pin-${name}`), JSON.stringify(digests));
  }

  async unpin(name: string): Promise<void> {
    await rm(join(this.shaleDir, 'leases', `pin-${name}`), { force: true });
  }

  /**
   * Blobs leased by processes that may be alive, or pinned. A lease is dropped only when its process is
   * provably dead (`ownerIsDead`): one of a shale in another PID namespace or on another host is kept.
   */
  async leasedBlobs(): Promise<Set<Digest>> {
    const dir = join(this.shaleDir, 'leases');
    const out = new Set<Digest>();
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      let content: unknown;
      try {
        content = JSON.parse(await readFile(join(dir, name), 'utf8'));
      } catch {
        content = undefined;
      }
      let digests: unknown;
      if (name.startsWith('pin-')) digests = content;
      else if (content && typeof content === 'object' && 'owner' in content && 'digests' in content) {
        if (!ownerIsDead((content as { owner: LockOwner }).owner)) digests = (content as { digests: unknown }).digests;
      } else if (Array.isArray(content) && Number.isInteger(Number(name)) && isProcessAlive(Number(name))) {
        digests = content; // a lease named by pid alone, as older versions wrote it
      }
      if (!Array.isArray(digests)) {
        if (!name.startsWith('pin-')) await rm(join(dir, name), { force: true });
        continue;
      }
      for (const d of digests) if (typeof d === 'string' && isDigest(d)) out.add(d);
    }
    return out;
  }

  /** The image behind a manifest digest. */
  async image(manifestDigest: Digest): Promise<StoreImage> {
    const rawManifest = await this.content.readBytes(manifestDigest, `manifest ${manifestDigest}`);
    const manifest = parseJson(ManifestSchema, rawManifest, `manifest ${manifestDigest}`);
    const rawConfig = await this.content.readBytes(manifest.config.digest, `config ${manifest.config.digest}`);
    const config = parseJson(ImageConfigSchema, rawConfig, `config ${manifest.config.digest}`);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new ShaleError('CORRUPT_INPUT', `image ${manifest.config.digest}: ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids`);
    }
    const layers = manifest.layers.map((d, i) => this.layer(d, config.rootfs.diff_ids[i]!));
    return { id: manifest.config.digest, manifestDigest, rawManifest, manifest, rawConfig, config, layers };
  }

  /**
   * A stored layer: its blob verified by digest; its tar decompressed as needed. A compressed blob's tar
   * is checked against the diffId as it is read to its end (a pull stores blobs verified by their own
   * digest only, and the diffId is first checked here, when the layer is first used).
   */
  layer(descriptor: Descriptor, diffId: Digest): Layer {
    const content = this.content;
    const what = `layer ${descriptor.digest}`;
    const plain = layerCompressionOf(descriptor.mediaType) === 'none';
    const storedFile = { path: content.blobPath(descriptor.digest), plain };
    const checkDiffId = (tar: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> => (plain ? tar : verifyStream(tar, { digest: diffId }, `${what}: its uncompressed tar (diffId ${diffId})`));
    return {
      descriptor,
      diffId,
      what,
      openBlob: () => content.open(descriptor.digest, what),
      openStoredBlob: () => content.openUnverified(descriptor.digest, what),
      open: () => checkDiffId(decompress(content.open(descriptor.digest, what), { what })),
      openForListing: () => checkDiffId(openStoredFileForListing(storedFile, what)),
      storedFile,
    };
  }

  /** LayerInfo for a stored layer blob, computed and recorded the first time it is asked for. */
  async layerInfo(digest: Digest): Promise<LayerInfo> {
    const cached = await this.layerInfos.get(digest);
    if (cached) return cached;
    const info = await describeLayerBlob(digest, this.content.open(digest), `layer ${digest}`);
    await this.layerInfos.put(info);
    return info;
  }

  /**
   * Finds an image by NAME[:TAG], NAME@DIGEST, a full image ID (sha256:...) or a unique ID prefix of
   * 12+ hex characters.
   */
  async resolve(raw: string): Promise<{ entry: IndexEntry; image: StoreImage }> {
    const entries = await this.readIndex();
    const notFound = () => new ShaleError('NOT_FOUND', `image "${raw}" not found in the store`, { hint: 'see `shale images`' });
    // the entries' images in index order (each manifest read once), up to the first hit when `first`
    const byManifest = async (pred: (e: IndexEntry, img: StoreImage) => boolean, first = false) => {
      const hits: { entry: IndexEntry; image: StoreImage }[] = [];
      const read = new Map<Digest, StoreImage>();
      for (const entry of entries) {
        if (isIndexMediaType(entry.descriptor.mediaType)) continue;
        const digest = entry.descriptor.digest;
        const image = read.get(digest) ?? (await this.image(digest));
        read.set(digest, image);
        if (!pred(entry, image)) continue;
        hits.push({ entry, image });
        if (first) break;
      }
      return hits;
    };
    if (isDigest(raw)) {
      const hits = await byManifest((e, img) => img.id === raw || e.descriptor.digest === raw, true);
      if (hits[0]) return hits[0];
      throw notFound();
    }
    const hexPrefix = /^[a-f0-9]{12,64}$/.test(raw);
    let ref: string | undefined;
    try {
      ref = normalizeReference(raw);
    } catch (e) {
      if (!hexPrefix) throw e;
    }
    if (ref) {
      const at = ref.indexOf('@');
      if (at >= 0) {
        const digest = ref.slice(at + 1);
        // the name recorded by a pull by digest (an index's digest too), else any image with that manifest
        const hit = entries.find((e) => e.ref === ref) ?? entries.find((e) => e.descriptor.digest === digest);
        if (hit) return { entry: hit, image: await this.image(hit.descriptor.digest) };
      } else {
        const hit = entries.find((e) => e.ref === ref);
        if (hit) return { entry: hit, image: await this.image(hit.descriptor.digest) };
      }
    }
    if (hexPrefix) {
      const hits = await byManifest((_e, img) => img.id.startsWith(`sha256:${raw}`));
      const ids = new Set(hits.map((h) => h.image.id));
      if (ids.size > 1) throw new ShaleError('INVALID_ARGUMENT', `image ID prefix "${raw}" is ambiguous (${ids.size} images)`);
      if (hits[0]) return hits[0];
    }
    throw notFound();
  }
}

export type StoreImage = Image;
