import type { Image } from '../image/index.js';
import { BASE_DIGEST_ANNOTATION } from '../oci/index.js';
import type { Store } from './store.js';

/**
 * How many bottom layers of `image` are its base image's: the image its manifest's base annotation names
 * when a store holds it, else the longest proper prefix of its layers that is another image in the stores.
 * 0 when none is known.
 */
export async function findBaseLayers(stores: Store[], image: Image): Promise<number> {
  const mine = image.config.rootfs.diff_ids;
  const isPrefix = (theirs: readonly string[]) => theirs.length > 0 && theirs.length < mine.length && theirs.every((d, i) => d === mine[i]);
  const named = image.manifest.annotations?.[BASE_DIGEST_ANNOTATION];
  const unique = [...new Set(stores)];
  if (named) {
    for (const store of unique) {
      const base = await store.image(named as Image['id']).catch(() => undefined);
      if (base && isPrefix(base.config.rootfs.diff_ids)) return base.layers.length;
    }
  }
  let best = 0;
  for (const store of unique) {
    for (const entry of await store.readIndex()) {
      const other = await store.image(entry.descriptor.digest).catch(() => undefined);
      const theirs = other?.config.rootfs.diff_ids ?? [];
      if (theirs.length > best && isPrefix(theirs)) best = theirs.length;
    }
  }
  return best;
}
