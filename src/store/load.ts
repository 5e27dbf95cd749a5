import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import {
  DockerArchiveManifestSchema,
  ImageConfigSchema,
  IndexSchema,
  ManifestSchema,
  MediaType,
  isDigest,
  isIndexMediaType,
  normalizePlatform,
  normalizeReference,
  ociLayerMediaType,
  parseJson,
  parsePlatform,
  platformMatches,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type Index,
} from '../oci/index.js';
import { canonicalJson, hostPlatform, makeManifest } from '../image/index.js';
import type { ContentStore, Ingestion } from './content-store.js';
import { ingestBlob, type IngestedBlob, type LayerInfo } from './layer-info.js';
import { archiveMembers, tarMembers, type ArchiveMember } from './archive-members.js';
import type { Store } from './store.js';

export interface LoadedImage {
  ref: string | null;
  id: Digest;
}

/** An image read from an archive, its blobs ingested but not yet committed. */
interface StagedImage {
  refs: string[];
  config: { raw: Buffer; ing: Ingestion };
  layers: { ing: Ingestion; info: LayerInfo }[];
  /** The manifest as the archive had it, when it had one (OCI); else shale makes one. */
  rawManifest?: Buffer;
}

/** The digest an archive member's name gives (`blobs/sha256/HEX`, or a legacy config's `HEX.json`), if any. */
export function namedDigest(name: string): Digest | undefined {
  const hex = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name) ?? /^([a-f0-9]{64})\.json$/.exec(name);
  return hex ? (`sha256:${hex[1]}` as Digest) : undefined;
}

/** The archive's files: small top-level JSON documents in memory, everything else ingested to temp files. */
class StagedArchive {
  readonly docs = new Map<string, Buffer>();
  readonly files = new Map<string, IngestedBlob>();
  readonly links = new Map<string, string>();

  constructor(private readonly content: ContentStore, private readonly what: string) {}

  async add(m: ArchiveMember): Promise<void> {
    if (m.type === 'symlink') {
      this.links.set(m.name, posix.normalize(posix.join(posix.dirname(m.name), m.linkname)));
      return;
    }
    if (m.type !== 'file') return;
    if (['manifest.json', 'index.json', 'oci-layout', 'repositories'].includes(m.name)) {
      if (m.size > 64 << 20) throw new ShaleError('CORRUPT_INPUT', `${this.what}: ${m.name} is too large (${m.size} bytes)`);
      const parts: Buffer[] = [];
      for await (const c of m.body) parts.push(Buffer.from(c));
      this.docs.set(m.name, Buffer.concat(parts));
      return;
    }
    this.files.set(m.name, await ingestBlob(this.content, m.body, `${this.what}: ${m.name}`));
  }

  /** The ingested file at an archive path (symlinks followed); verified when its name is a digest. */
  file(name: string, expected: { digest?: Digest; size?: number } = {}): IngestedBlob {
    let n = posix.normalize(name).replace(/^\.\//, '');
    for (let hops = 0; this.links.has(n) && hops < 16; hops++) n = this.links.get(n)!;
    const blob = this.files.get(n);
    if (!blob) throw new ShaleError('CORRUPT_INPUT', `${this.what}: names "${name}" but has no such file`);
    const digest = expected.digest ?? namedDigest(n);
    if (digest && blob.ing.digest !== digest) {
      throw new ShaleError('DIGEST_MISMATCH', `${this.what}: ${n} has digest ${blob.ing.digest}, expected ${digest}`);
    }
    if (expected.size !== undefined && blob.ing.size !== expected.size) {
      throw new ShaleError('SIZE_MISMATCH', `${this.what}: ${n} is ${blob.ing.size} bytes, its descriptor says ${expected.size}`);
    }
    return blob;
  }

  blob(d: Descriptor): IngestedBlob {
    if (!isDigest(d.digest)) throw new ShaleError('UNSUPPORTED', `${this.what}: digest algorithm of ${d.digest} is not supported`);
    return this.file(`blobs/sha256/${d.digest.slice(7)}`, { digest: d.digest, size: d.size });
  }

  async discardAll(): Promise<void> {
    for (const { ing } of this.files.values()) await this.content.discard(ing);
  }
}

const readIngestion = (ing: Ingestion): Promise<Buffer> => readFile(ing.tempPath);

function stageLayers(config: ImageConfig, layerFiles: IngestedBlob[], what: string): StagedImage['layers'] {
  if (layerFiles.length !== config.rootfs.diff_ids.length) {
    throw new ShaleError('CORRUPT_INPUT', `${what}: ${layerFiles.length} layers but the config lists ${config.rootfs.diff_ids.length} diff_ids`);
  }
  const out: StagedImage['layers'] = [];
  for (let i = 0; i < layerFiles.length; i++) {
    const { ing, layer: info, layerError } = layerFiles[i]!;
    if (!info) throw layerError;
    if (info.diffId !== config.rootfs.diff_ids[i]) {
      throw new ShaleError('DIGEST_MISMATCH', `${what}: layer ${i + 1} has diffId ${info.diffId}, the config says ${config.rootfs.diff_ids[i]}`);
    }
    out.push({ ing, info });
  }
  return out;
}

async function stageDockerArchive(staged: StagedArchive, what: string): Promise<StagedImage[]> {
  const entries = parseJson(DockerArchiveManifestSchema, staged.docs.get('manifest.json')!, `${what}: manifest.json`);
  const images: StagedImage[] = [];
  for (const e of entries) {
    const configIng = staged.file(e.Config).ing;
    const raw = await readIngestion(configIng);
    const config = parseJson(ImageConfigSchema, raw, `${what}: config ${e.Config}`);
    const layers = stageLayers(config, e.Layers.map((l) => staged.file(l)), `${what}: image ${configIng.digest}`);
    images.push({ refs: (e.RepoTags ?? []).map((t) => normalizeReference(t)), config: { raw, ing: configIng }, layers });
  }
  return images;
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

/**
 * The image manifests an OCI layout's index names, with their reference names: all of them, or the one
 * named `pick`; through a nested index, the one for `platform` (default: this machine's, else the first).
 */
export async function pickOciManifests(
  index: Index,
  readIndex: (d: Descriptor) => Promise<Buffer>,
  what: string,
  pick?: string,
  platform?: string,
): Promise<{ desc: Descriptor; refName?: string }[]> {
  const out: { desc: Descriptor; refName?: string }[] = [];
  const want = platform ? parsePlatform(platform) : hostPlatform();
  for (const top of index.manifests) {
    const refName = ociRefName(top);
    if (pick && refName !== normalizeReference(pick) && top.annotations?.['org.opencontainers.image.ref.name'] !== pick) continue;
    let desc = top;
    if (isIndexMediaType(desc.mediaType)) {
      const inner = parseJson(IndexSchema, await readIndex(desc), `${what}: index ${desc.digest}`);
      const matches = inner.manifests.filter((m) => m.platform && platformMatches({ os: want.os, architecture: want.architecture }, m.platform));
      const chosen = want.variant ? matches.find((m) => normalizePlatform(m.platform!).variant === want.variant) : (matches[0] ?? (platform ? undefined : inner.manifests[0]));
      if (!chosen) {
        if (inner.manifests.length === 0) throw new ShaleError('CORRUPT_INPUT', `${what}: index ${desc.digest} lists no manifests`);
        const have = inner.manifests.map((m) => [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join('/')).join(', ');
        throw new ShaleError('NOT_FOUND', `${what}: no image for platform ${platform} (the index has ${have})`);
      }
      desc = chosen;
    }
    out.push({ desc, refName });
  }
  if (pick && out.length === 0) throw new ShaleError('NOT_FOUND', `${what}: no image named "${pick}"`);
  return out;
}

async function stageOciLayout(staged: StagedArchive, what: string, pick?: string, platform?: string): Promise<StagedImage[]> {
  const index = parseJson(IndexSchema, staged.docs.get('index.json')!, `${what}: index.json`);
  const images: StagedImage[] = [];
  for (const { desc, refName } of await pickOciManifests(index, (d) => readIngestion(staged.blob(d).ing), what, pick, platform)) {
    const rawManifest = await readIngestion(staged.blob(desc).ing);
    const manifest = parseJson(ManifestSchema, rawManifest, `${what}: manifest ${desc.digest}`);
    const configIng = staged.blob(manifest.config).ing;
    const raw = await readIngestion(configIng);
    const config = parseJson(ImageConfigSchema, raw, `${what}: config ${manifest.config.digest}`);
    const layers = stageLayers(config, manifest.layers.map((l) => staged.blob(l)), `${what}: image ${configIng.digest}`);
    images.push({ refs: refName ? [refName] : [], config: { raw, ing: configIng }, layers, rawManifest });
  }
  return images;
}

export interface LoadOptions {
  /** Names the input in errors. */
  what: string;
  /** For OCI layouts: load only the image with this name. */
  ref?: string;
  /** For multi-platform indexes: `os/arch[/variant]` (default: this machine's, else the first). */
  platform?: string;
}

/**
 * Loads every image of a docker-archive (legacy and Docker 25+), OCI archive or OCI layout into the store.
 * Every blob is verified (names that are digests, descriptor sizes, diffIds); nothing is committed unless
 * the whole archive is good.
 */
export async function loadArchiveMembers(store: Store, members: AsyncIterable<ArchiveMember>, options: LoadOptions): Promise<LoadedImage[]> {
  const { what } = options;
  const staged = new StagedArchive(store.content, what);
  try {
    for await (const m of members) await staged.add(m);
    let images: StagedImage[];
    if (staged.docs.has('manifest.json') && !options.ref) images = await stageDockerArchive(staged, what);
    else if (staged.docs.has('index.json')) images = await stageOciLayout(staged, what, options.ref, options.platform);
    else throw new ShaleError('CORRUPT_INPUT', `${what} is not a docker-archive or OCI layout (no manifest.json or index.json)`);
    return await store.withLock(async () => {
      const loaded: LoadedImage[] = [];
      const committed = new Set<Digest>();
      const commit = async (ing: Ingestion) => {
        if (committed.has(ing.digest)) return;
        await store.content.commitOnce(ing);
        committed.add(ing.digest);
      };
      for (const img of images) {
        for (const l of img.layers) {
          await commit(l.ing);
          await store.layerInfos.put(l.info);
        }
        await commit(img.config.ing);
        const rawManifest =
          img.rawManifest ??
          canonicalJson(
            makeManifest(
              { mediaType: MediaType.ociConfig, digest: img.config.ing.digest, size: img.config.ing.size },
              img.layers.map((l) => ({ mediaType: ociLayerMediaType(l.info.compression), digest: l.ing.digest, size: l.ing.size })),
            ),
          );
        const manifestDigest = await store.content.putBytes(rawManifest);
        const parsed = parseJson(ManifestSchema, rawManifest, 'manifest');
        await store.setTags({ mediaType: parsed.mediaType ?? MediaType.ociManifest, digest: manifestDigest, size: rawManifest.length }, img.refs);
        const id = img.config.ing.digest;
        if (img.refs.length === 0) loaded.push({ ref: null, id });
        for (const ref of img.refs) loaded.push({ ref, id });
      }
      return loaded;
    });
  } finally {
    await staged.discardAll();
  }
}

/** `shale load -i PATH`: an archive file (plain or compressed tar) or an OCI layout directory. */
export function loadArchive(store: Store, path: string, ref?: string, platform?: string): Promise<LoadedImage[]> {
  return loadArchiveMembers(store, archiveMembers(path), { what: `archive ${path}`, ref, platform });
}

/** Loads an archive arriving as a stream (stdin, a Docker Engine's image export). */
export function loadArchiveStream(store: Store, source: AsyncIterable<Uint8Array>, what: string): Promise<LoadedImage[]> {
  return loadArchiveMembers(store, tarMembers(source, what), { what });
}
