import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import type { Image } from '../image/index.js';
import { loadArchive, loadArchiveStream, type LoadedImage } from './load.js';
import { openArchiveInPlace } from './archive-in-place.js';
import { exportFromDockerDaemon } from './docker-daemon.js';
import { Store } from './store.js';

/** An image opened from a SOURCE; `close()` drops whatever was staged to read it. */
export interface OpenedSource {
  image: Image;
  /** The references the image is known by in its source. */
  refs: string[];
  /**
   * The store that holds the image (a scratch store for archives): its layer records serve sizes.
   * Absent for a registry image, whose layers are read from the registry when opened.
   */
  store?: Store;
  close(): Promise<void>;
}

/**
 * Opens `docker://HOST/REPO[:TAG]` as an image read from the registry (manifest and config fetched; each
 * layer when opened); `close()` releases the connection. The CLI passes it (it wires the registry client;
 * store/ never imports registry/).
 */
export type RegistrySourceLoader = (ref: string, options: { platform?: string }) => Promise<{ image: Image; refs: string[]; close(): Promise<void> }>;

export interface SourceOptions {
  /** For multi-platform indexes: `os/arch[/variant]`. */
  platform?: string;
  /** How `docker://` sources are read; without it they are UNSUPPORTED. */
  registry?: RegistrySourceLoader;
  /**
   * For a reader of layers that checks unverified digests itself (analyze): archives and OCI layouts
   * are read where they lie instead of staged, where they can be (see openArchiveInPlace).
   */
  inPlace?: boolean;
}

/** Splits `oci:DIR[:REF]`. */
function splitOciDir(spec: string): { dir: string; ref?: string } {
  const i = spec.indexOf(':');
  return i < 0 ? { dir: spec } : { dir: spec.slice(0, i), ref: spec.slice(i + 1) || undefined };
}

/**
 * Opens a SOURCE: a store reference, or `docker-archive:PATH`, `oci-archive:PATH`, `oci:DIR[:REF]`,
 * `docker-daemon:REF`, `docker://HOST/REPO[:TAG]`. Archives are read into a scratch store inside the
 * store's own folder, verified as `load` verifies them, and removed on close; registry images are read
 * from the registry (see RegistrySourceLoader).
 */
export async function openSource(store: Store, spec: string, options: SourceOptions = {}): Promise<OpenedSource> {
  const m = /^(docker-archive|oci-archive|oci|docker-daemon|docker):(.*)$/.exec(spec);
  if (!m) {
    const { image, entry } = await store.resolve(spec);
    const refs = (await store.readIndex()).filter((e) => e.descriptor.digest === entry.descriptor.digest && e.ref).map((e) => e.ref!);
    return { image, refs, store, close: async () => undefined };
  }
  const [, kind, rest] = m as unknown as [string, string, string];
  if (options.inPlace && (kind === 'docker-archive' || kind === 'oci-archive' || kind === 'oci')) {
    const { dir: path, ref } = kind === 'oci' ? splitOciDir(rest) : { dir: rest, ref: undefined };
    const opened = await openArchiveInPlace(kind, path, `archive ${path}`, { ref, platform: options.platform });
    if (opened) return { ...opened, store, close: async () => undefined };
  }
  if (kind === 'docker') {
    if (!options.registry) throw new ShaleError('UNSUPPORTED', `registry sources (${spec}) are not supported here`, { hint: 'shale pull it, or docker save it and use docker-archive:PATH' });
    return options.registry(rest.replace(/^\/\//, ''), { platform: options.platform });
  }
  await mkdir(join(store.root, 'shale', 'tmp'), { recursive: true });
  const scratchRoot = await mkdtemp(join(store.root, 'shale', 'tmp', 'source-'));
  const close = () => rm(scratchRoot, { recursive: true, force: true });
  try {
    const scratch = await Store.open(scratchRoot, { durable: false }); // removed on close: no fsync
    let loaded: LoadedImage[];
    if (kind === 'docker-daemon') {
      loaded = await loadArchiveStream(scratch, await exportFromDockerDaemon(rest), spec);
    } else if (kind === 'oci') {
      const { dir, ref } = splitOciDir(rest);
      loaded = await loadArchive(scratch, dir, ref, options.platform);
    } else {
      loaded = await loadArchive(scratch, rest, undefined, options.platform);
    }
    const first = loaded[0];
    if (!first) throw new ShaleError('NOT_FOUND', `${spec} holds no image`);
    const { image } = await scratch.resolve(first.id);
    const refs = loaded.filter((l) => l.id === first.id && l.ref).map((l) => l.ref!);
    return { image, refs, store: scratch, close };
  } catch (e) {
    await close();
    throw e;
  }
}
