import { compareStrings } from '../internal/compare.js';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { isIndexMediaType, parseReference, type Digest, type History } from '../oci/index.js';
import type { Image } from '../image/index.js';
import { layerCompressionOf } from '../layer/index.js';
import { mapLimit } from '../internal/map-limit.js';
import { compressedLayerRecords } from './compressed-layers.js';
import type { Store } from './store.js';

/** A row of `shale images`: sizes as `docker system df -v` counts them. */
export interface ImageRow {
  repository: string;
  tag: string;
  id: Digest;
  /**
   * The digest a `REPOSITORY@DIGEST` reference names: the one the image was pulled by, else its manifest's
   * digest as stored (what a push sends).
   */
  digest: Digest;
  created: string;
  /** Sum of the layers' content sizes. */
  size: number;
  /** Bytes of layers that another image uses too. */
  sharedSize: number;
  /** Bytes of layers only this image uses. */
  uniqueSize: number;
  layers: number;
  /**
   * Sum of the layers' compressed (transfer) sizes: a blob stored compressed (pulled) counts its own size,
   * an uncompressed one the size of its remembered compressed copy; null when a layer has neither.
   */
  compressedSize: number | null;
}

interface ImageLayers {
  image: Image;
  sizes: Map<Digest, number>;
  /** Each layer's compressed size, where known. */
  compressed: Map<Digest, number | undefined>;
}

/** How many small store files are read at once. */
const READ_AHEAD = 16;

/** Every stored image once (by ID), with each of its layers' content size. */
async function storedImages(store: Store): Promise<{ entries: { ref?: string; id: Digest; manifestDigest: Digest }[]; images: Map<Digest, ImageLayers> }> {
  const images = new Map<Digest, ImageLayers>();
  const entries: { ref?: string; id: Digest; manifestDigest: Digest }[] = [];
  // a remembered copy per uncompressed layer: gzip first (what a push sends by default)
  const copies = new Map<Digest, number>();
  for (const r of (await compressedLayerRecords(store)).sort((a, b) => Number(a.compression !== 'gzip') - Number(b.compression !== 'gzip'))) {
    if (!copies.has(r.diffId) && (await store.content.size(r.digest)) === r.size) copies.set(r.diffId, r.size);
  }
  // the manifests, configs and layer records are small files read a few at a time, each once
  const listed = (await store.readIndex()).filter((e) => !isIndexMediaType(e.descriptor.mediaType));
  const read = await mapLimit(listed, READ_AHEAD, async (entry) => ({ entry, image: await store.image(entry.descriptor.digest) }));
  const layerDigests = [...new Set(read.flatMap(({ image }) => image.layers.map((l) => l.descriptor.digest)))];
  const contentSizes = new Map(await mapLimit(layerDigests, READ_AHEAD, async (d) => [d, (await store.layerInfo(d)).contentSize] as const));
  for (const { entry, image } of read) {
    entries.push({ ref: entry.ref, id: image.id, manifestDigest: entry.descriptor.digest });
    if (images.has(image.id)) continue;
    const sizes = new Map<Digest, number>();
    const compressed = new Map<Digest, number | undefined>();
    for (const l of image.layers) {
      sizes.set(l.descriptor.digest, contentSizes.get(l.descriptor.digest)!);
      const c = layerCompressionOf(l.descriptor.mediaType);
      compressed.set(l.descriptor.digest, c === 'gzip' || c === 'zstd' ? l.descriptor.size : c === 'none' ? copies.get(l.diffId) : undefined);
    }
    images.set(image.id, { image, sizes, compressed });
  }
  return { entries, images };
}

/** How many distinct images use each layer blob. */
function layerUsers(images: Map<Digest, ImageLayers>): Map<Digest, number> {
  const users = new Map<Digest, number>();
  for (const { sizes } of images.values()) for (const d of sizes.keys()) users.set(d, (users.get(d) ?? 0) + 1);
  return users;
}

const sum = (xs: Iterable<number>): number => {
  let t = 0;
  for (const x of xs) t += x;
  return t;
};

/** The sum, or null when one of the sizes is unknown. */
const sumKnown = (xs: Iterable<number | undefined>): number | null => {
  let t = 0;
  for (const x of xs) {
    if (x === undefined) return null;
    t += x;
  }
  return t;
};

/**
 * One row per name, as `docker images` lists them: a `REPOSITORY:TAG` row, or for an image pulled by
 * digest a `REPOSITORY` row with tag `<none>` and that digest (folded into the tag row when the same
 * image has a tag in that repository), or a `<none>` row for a dangling image.
 */
export async function listImages(store: Store): Promise<ImageRow[]> {
  const { entries, images } = await storedImages(store);
  const users = layerUsers(images);
  const parsed = entries.map((e) => ({ ...e, name: e.ref ? parseReference(e.ref) : undefined }));
  const pulledBy = (repository: string, manifestDigest: Digest) =>
    parsed.find((p) => p.name?.digest && p.name.repository === repository && p.manifestDigest === manifestDigest)?.name?.digest;
  const rows: ImageRow[] = [];
  for (const { id, manifestDigest, name } of parsed) {
    if (name?.digest && parsed.some((p) => p.name && !p.name.digest && p.name.repository === name.repository && p.manifestDigest === manifestDigest)) continue;
    const { image, sizes, compressed } = images.get(id)!;
    const size = sum(sizes.values());
    const sharedSize = sum([...sizes].filter(([d]) => users.get(d)! > 1).map(([, s]) => s));
    rows.push({
      repository: name?.repository ?? '<none>',
      tag: name ? (name.digest ? '<none>' : (name.tag ?? 'latest')) : '<none>',
      id,
      digest: name ? (name.digest ?? pulledBy(name.repository, manifestDigest) ?? manifestDigest) : manifestDigest,
      created: image.config.created ?? '',
      size,
      sharedSize,
      uniqueSize: size - sharedSize,
      layers: image.layers.length,
      compressedSize: sumKnown(compressed.values()),
    });
  }
  return rows.sort((a, b) => compareStrings(b.created, a.created) || compareStrings(a.repository, b.repository) || compareStrings(a.tag, b.tag));
}

/** `shale df`: the sum of listed sizes next to what the distinct layers really take. */
export interface DiskUsage {
  /** `compressedSize`: the distinct layers' compressed (transfer) sizes summed, null when one is unknown. */
  images: { count: number; virtualSize: number; actualSize: number; reclaimable: number; compressedSize: number | null };
  layers: { count: number; sharedCount: number };
  containers: { count: number; size: number };
  disk: { total: number };
}

/**
 * Bytes the files under `root` hold, as `du --apparent-size` counts them: symlinks are not followed (a
 * link counts its own length), each inode is counted once (hard links), and mounted filesystems below
 * (a container's overlay) are not entered.
 */
export async function duBytes(root: string): Promise<number> {
  const top = lstatSync(root, { throwIfNoEntry: false });
  if (!top) return 0;
  const seen = new Set<string>();
  let total = 0;
  // synchronous calls: a walk of many small entries costs a trip through the event loop per await otherwise
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      let st: Stats | undefined;
      try {
        st = lstatSync(p, { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st || st.dev !== top.dev) continue;
      if (st.isDirectory()) {
        walk(p);
        continue;
      }
      const key = `${st.ino}`;
      if (st.nlink > 1) {
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
  };
  walk(root);
  return total;
}

export async function diskUsage(store: Store): Promise<DiskUsage> {
  const { entries, images } = await storedImages(store);
  const users = layerUsers(images);
  const layerSizes = new Map<Digest, number>();
  const compressedSizes = new Map<Digest, number | undefined>();
  for (const { sizes, compressed } of images.values()) {
    for (const [d, s] of sizes) layerSizes.set(d, s);
    for (const [d, s] of compressed) compressedSizes.set(d, s);
  }
  const actualSize = sum(layerSizes.values());
  return {
    images: {
      count: images.size,
      // each listed row counts, as `docker images` lists a tagged image once per tag
      virtualSize: sum(entries.map((e) => sum(images.get(e.id)!.sizes.values()))),
      actualSize,
      // no container holds an image yet: all of it can be reclaimed by removing the images
      reclaimable: actualSize,
      compressedSize: sumKnown(compressedSizes.values()),
    },
    layers: { count: layerSizes.size, sharedCount: [...users.values()].filter((n) => n > 1).length },
    containers: { count: 0, size: 0 },
    disk: { total: await duBytes(store.root) },
  };
}

/** A row of `shale history`, newest first. */
export interface HistoryRow {
  id: string;
  created: string;
  createdBy: string;
  size: number;
  emptyLayer: boolean;
  comment: string;
  /** The Dockerfile line the entry came from (`Dockerfile:7`), when shale built the image here. */
  line?: string;
}

/**
 * The image's history with each non-empty entry's layer size; `contentSize` maps a layer to its size,
 * `lines` are the entries' Dockerfile lines kept beside the image (see readBuildLines).
 */
export async function imageHistory(image: Image, contentSize: (layerIndex: number) => Promise<number>, lines: readonly (string | null)[] = []): Promise<HistoryRow[]> {
  const history: History[] = image.config.history ?? image.layers.map(() => ({}));
  const rows: HistoryRow[] = [];
  let layer = 0;
  for (const [i, h] of history.entries()) {
    const empty = h.empty_layer === true;
    const size = empty || layer >= image.layers.length ? 0 : await contentSize(layer);
    if (!empty) layer++;
    const line = lines[i] ?? undefined;
    rows.push({ id: '<missing>', created: h.created ?? '', createdBy: h.created_by ?? '', size, emptyLayer: empty, comment: h.comment ?? '', ...(line ? { line } : {}) });
  }
  rows.reverse();
  if (rows[0]) rows[0].id = image.id;
  return rows;
}
