import { createReadStream } from 'node:fs';
import { ShaleError } from '../internal/errors.js';
import type { Image, ImageSource } from '../image/index.js';
import { IndexSchema, assertImagePlatform, isIndexMediaType, normalizeReference, parseJson, selectPlatform, type Descriptor, type Digest } from '../oci/index.js';
import { tarMembers } from './archive-members.js';
import { exportFromDockerDaemon } from './docker-daemon.js';
import { describeLayerBlob } from './layer-info.js';
import { ArchiveView, archiveImages, archiveImageView, ociImageAt, ociRoots, openArchiveView } from './source-archive.js';
import type { Store } from './store.js';

/** An image opened from a SOURCE; `close()` drops whatever was staged to read it. */
export interface OpenedSource {
  image: Image;
  /** The references the image is known by in its source. */
  refs: string[];
  /**
   * The store that holds the image, or the store it was opened beside: its records serve build lines and
   * bases. Absent for a registry image, whose layers are read from the registry when opened.
   */
  store?: Store;
  /** The size of the files of layer `i` (as `docker history` shows it). */
  contentSize(i: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Opens `docker://HOST/REPO[:TAG]` as an image read from the registry (manifest and config fetched; each
 * layer when opened); `close()` releases the connection. The CLI passes it (it wires the registry client;
 * store/ never imports registry/).
 */
export type RegistrySourceLoader = (ref: string, options: { platform?: string }) => Promise<{ image: Image; refs: string[]; close(): Promise<void> }>;

/** Opens `docker://HOST/REPO[:TAG]` as an image source; the CLI passes it (store/ never imports registry/). */
export type RemoteSourceOpener = (ref: string) => Promise<ImageSource>;

export interface SourceOptions {
  /** For multi-platform indexes: `os/arch[/variant]`. */
  platform?: string;
  /** How `docker://` sources are read; without it they are UNSUPPORTED. */
  registry?: RegistrySourceLoader;
}

/** The kinds of SOURCE besides a store reference. */
const SOURCE_KINDS = /^(docker-archive|oci-archive|oci|docker-daemon|docker):(.*)$/;

/** Splits `PATH[:REF]` (`oci:`, `oci-archive:`, `docker-archive:`): the path ends at the first colon, as skopeo reads it. */
export function splitPathRef(spec: string): { path: string; ref?: string } {
  const i = spec.indexOf(':');
  return i < 0 ? { path: spec } : { path: spec.slice(0, i), ref: spec.slice(i + 1) || undefined };
}

/** The store as an image source: `spec` is a reference it holds. */
async function storeSource(store: Store, spec: string): Promise<ImageSource> {
  const { entry } = await store.resolve(spec);
  const refs = (await store.readIndex()).filter((e) => e.descriptor.digest === entry.descriptor.digest && e.ref).map((e) => e.ref!);
  return {
    what: `image ${spec}`,
    root: async () => ({ descriptor: entry.descriptor, raw: await store.content.readBytes(entry.descriptor.digest, `manifest ${entry.descriptor.digest}`), refs }),
    manifest: (d) => store.content.readBytes(d.digest as Digest, `manifest ${d.digest}`),
    image: (d) => store.image(d.digest as Digest),
    close: async () => undefined,
  };
}

/**
 * An archive or layout as an image source: its root is the image (or index) named `ref`, else the first.
 * Layers are read where they lie; a compressed archive, or one with a compressed layer whose digest is not
 * known without reading it, is staged to temp files of the store first.
 */
async function archiveSource(store: Store, kind: string, path: string, ref: string | undefined, open: () => Promise<ArchiveView>): Promise<ImageSource> {
  let view = await open();
  const what = view.what;
  try {
    if (view.has('manifest.json') && (!ref || kind === 'docker-archive')) {
      const images = archiveImages(view);
      const img = ref ? images.find((i) => i.refs.includes(normalizeReference(ref))) : images[0];
      if (!img) throw new ShaleError('NOT_FOUND', ref ? `${what}: no image named "${ref}"` : `${what} holds no image`);
      let image = archiveImageView(img, what);
      if (!image) {
        await view.close();
        view = await ArchiveView.staged(store.content, tarMembers(streamFile(path), what), what);
        image = archiveImageView(archiveImages(view).find((i) => i.id === img.id)!, what)!;
      }
      const found = image;
      const descriptor = { mediaType: found.manifest.mediaType!, digest: found.manifestDigest, size: found.rawManifest.length };
      return {
        what,
        root: async () => ({ descriptor, raw: found.rawManifest, refs: img.refs }),
        manifest: async (d) => {
          if (d.digest !== found.manifestDigest) throw new ShaleError('NOT_FOUND', `${what}: no manifest ${d.digest}`);
          return found.rawManifest;
        },
        image: async () => found,
        close: () => view.close(),
      };
    }
    const roots = ociRoots(view, ref);
    const first = roots[0];
    if (!first) throw new ShaleError('NOT_FOUND', `${what} holds no image`);
    const refsOf = (d: Descriptor) => roots.filter((r) => r.descriptor.digest === d.digest && r.refName).map((r) => r.refName!);
    const image = async (d: Descriptor): Promise<Image> => {
      const found = archiveImageView(ociImageAt(view, d, refsOf(d)), what);
      if (found) return found;
      // a compressed layer of unknown digest: read from the staged archive
      await view.close();
      view = await ArchiveView.staged(store.content, tarMembers(streamFile(path), what), what);
      return archiveImageView(ociImageAt(view, d, refsOf(d)), what)!;
    };
    return {
      what,
      root: async () => ({ descriptor: first.descriptor, raw: view.blob(first.descriptor), refs: refsOf(first.descriptor) }),
      manifest: async (d) => view.blob(d),
      image,
      close: () => view.close(),
    };
  } catch (e) {
    await view.close();
    throw e;
  }
}

const streamFile = (path: string): AsyncIterable<Buffer> => createReadStream(path, { highWaterMark: 1 << 20 });

/** Whether `spec` names a source other than the store (`docker-archive:`, `oci:`, `docker://`, ...). */
export const sourceKind = (spec: string): string | undefined => SOURCE_KINDS.exec(spec)?.[1];

/**
 * Opens a SOURCE as an image source: a store reference, or `docker-archive:PATH[:REF]`,
 * `oci-archive:PATH[:REF]`, `oci:DIR[:REF]`, `docker-daemon:REF`; `docker://HOST/REPO[:TAG]` through
 * `remote` (the CLI's registry client).
 */
export async function openImageSource(store: Store, spec: string, options: { remote?: RemoteSourceOpener } = {}): Promise<ImageSource> {
  const m = SOURCE_KINDS.exec(spec);
  if (!m) return storeSource(store, spec);
  const [, kind, rest] = m as unknown as [string, string, string];
  if (kind === 'docker') {
    if (!options.remote) throw new ShaleError('UNSUPPORTED', `registry sources (${spec}) are not supported here`, { hint: 'shale pull it, or docker save it and use docker-archive:PATH' });
    return options.remote(rest.replace(/^\/\//, ''));
  }
  if (kind === 'docker-daemon') {
    const what = spec;
    return archiveSource(store, 'docker-archive', '', undefined, async () => ArchiveView.staged(store.content, tarMembers(await exportFromDockerDaemon(rest), what), what));
  }
  const { path, ref } = splitPathRef(rest);
  if (!path) throw new ShaleError('INVALID_ARGUMENT', `${spec}: names no path`);
  return archiveSource(store, kind, path, ref, () => openArchiveView(path, `archive ${path}`, store.content));
}

/** The image of a source's root: the manifest itself, or through an index the one for `platform`. */
export async function rootImage(source: ImageSource, platform?: string): Promise<{ image: Image; refs: string[] }> {
  const root = await source.root();
  let d = root.descriptor;
  if (isIndexMediaType(d.mediaType)) {
    d = selectPlatform(parseJson(IndexSchema, root.raw, `${source.what}: index ${d.digest}`), platform, `${source.what}: index ${d.digest}`);
    if (isIndexMediaType(d.mediaType)) throw new ShaleError('UNSUPPORTED', `${source.what}: index ${root.descriptor.digest} names another index`);
  }
  const image = await source.image(d);
  if (d === root.descriptor) assertImagePlatform(image.config, platform, `${source.what} (image ${image.id})`);
  return { image, refs: root.refs };
}

/**
 * Opens a SOURCE's image (analyze, inspect, history, export): a store reference, an archive or layout read
 * where it lies (staged to temp files when compressed), `docker-daemon:REF` streamed from the Engine and
 * staged, `docker://HOST/REPO[:TAG]` through `registry` into a scratch store removed on close.
 */
export async function openSource(store: Store, spec: string, options: SourceOptions = {}): Promise<OpenedSource> {
  const kind = sourceKind(spec);
  if (kind !== 'docker') {
    const source = await openImageSource(store, spec);
    try {
      const { image, refs } = await rootImage(source, options.platform);
      const sizes = new Map<number, Promise<number>>();
      const contentSize = (i: number): Promise<number> => {
        const l = image.layers[i]!;
        if (!kind) return store.layerInfo(l.descriptor.digest).then((info) => info.contentSize);
        if (!sizes.has(i)) sizes.set(i, describeLayerBlob(l.descriptor.digest, l.openBlob(), l.what).then((info) => info.contentSize));
        return sizes.get(i)!;
      };
      return { image, refs, store, contentSize, close: () => source.close() };
    } catch (e) {
      await source.close();
      throw e;
    }
  }
  if (!options.registry) throw new ShaleError('UNSUPPORTED', `registry sources (${spec}) are not supported here`, { hint: 'shale pull it, or docker save it and use docker-archive:PATH' });
  const opened = await options.registry(spec.slice('docker:'.length).replace(/^\/\//, ''), { platform: options.platform });
  // a registry image's layers are not read: their size is the blob's, as the manifest gives it
  return { ...opened, contentSize: async (i) => opened.image.layers[i]!.descriptor.size };
}
