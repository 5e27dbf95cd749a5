import { createdNow, type Image } from '../image/index.js';
import { ShaleError } from '../internal/errors.js';
import { normalizeReference, type Digest, type History, type ImageConfig } from '../oci/index.js';
import { putImage, putLayer, tagImage, type Store } from '../store/index.js';
import { squashLayersTar } from './squash-changes.js';

/**
 * The config of an image whose layers from `kept` on were squashed into one layer with `diffId`: the same
 * config with the new diff_ids; history entries up to the `kept`-th layer's unchanged, every later step
 * kept as an empty-layer entry (its created_by unchanged), then one entry for the squashed layer.
 */
export function squashedConfig(config: ImageConfig, kept: number, diffId: Digest, created = createdNow()): ImageConfig {
  const layers = config.rootfs.diff_ids.length;
  const entry: History = { created, created_by: `shale squash of layers ${kept}-${layers - 1}` };
  let history: History[] | undefined;
  if (config.history) {
    let seen = 0;
    history = config.history.map((h) => {
      if (seen < kept) {
        if (!h.empty_layer) seen++;
        return h;
      }
      return h.empty_layer ? h : { ...h, empty_layer: true };
    });
    history.push(entry);
  }
  return {
    ...config,
    created,
    rootfs: { ...config.rootfs, type: 'layers', diff_ids: [...config.rootfs.diff_ids.slice(0, kept), diffId] },
    ...(history ? { history } : {}),
  };
}

export interface SquashOptions {
  /** How many bottom layers stay as they are (0 squashes all). */
  kept: number;
  /** The reference the squashed image is tagged with. */
  tag: string;
  /** Scratch space for contents read out of their layer's order (default: the store's). */
  scratchDir?: string;
}

export interface SquashResult {
  id: Digest;
  manifestDigest: Digest;
  ref: string;
  before: { sizeBytes: number; layers: number };
  after: { sizeBytes: number; layers: number };
  savedBytes: number;
  keptBaseLayers: number;
}

/**
 * Squashes the layers of a stored image above its first `kept` into one layer (see squashLayersTar) and
 * tags the result. The kept layers stay the same blobs. With fewer than two layers above the kept ones
 * there is nothing to merge: the tag names the same image.
 */
export async function squashImage(store: Store, image: Image, options: SquashOptions): Promise<SquashResult> {
  const ref = normalizeReference(options.tag);
  if (ref.includes('@')) throw new ShaleError('INVALID_ARGUMENT', `cannot tag with a digest reference "${options.tag}"`);
  const { kept } = options;
  const count = image.layers.length;
  if (!Number.isInteger(kept) || kept < 0 || kept >= count) {
    throw new ShaleError('INVALID_ARGUMENT', `cannot squash from layer ${kept}: the image has ${count} layer${count === 1 ? '' : 's'} (0-${count - 1})`);
  }
  const sizeOf = async (d: Digest): Promise<number> => (await store.layerInfo(d)).contentSize;
  const sizes = [];
  for (const l of image.layers) sizes.push(await sizeOf(l.descriptor.digest));
  const before = { sizeBytes: sizes.reduce((a, b) => a + b, 0), layers: count };
  const keptBytes = sizes.slice(0, kept).reduce((a, b) => a + b, 0);

  if (count - kept < 2) {
    await tagImage(store, image.manifestDigest, ref);
    return { id: image.id, manifestDigest: image.manifestDigest, ref, before, after: before, savedBytes: 0, keptBaseLayers: kept };
  }

  const what = `squashed layer of ${image.id}`;
  const scratchDir = options.scratchDir ?? (await store.scratchRoot());
  const { descriptor, info } = await putLayer(store, squashLayersTar(image.layers, kept, { scratchDir }), what);
  const config = squashedConfig(image.config, kept, info.diffId);
  const layers = [...image.manifest.layers.slice(0, kept), descriptor];
  const { id, manifestDigest } = await putImage(store, config, layers, [ref]);
  const after = { sizeBytes: keptBytes + info.contentSize, layers: layers.length };
  return { id, manifestDigest, ref, before, after, savedBytes: before.sizeBytes - after.sizeBytes, keptBaseLayers: kept };
}
