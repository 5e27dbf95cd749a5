import { ShaleError } from '../internal/errors.js';
import { normalizeReference } from '../oci/index.js';
import { collectGarbage } from './gc.js';
import type { Store } from './store.js';

/** `shale tag SRC DST`: DST names the same manifest as SRC. */
export async function tagImage(store: Store, src: string, dst: string): Promise<{ ref: string; id: string }> {
  const ref = normalizeReference(dst);
  if (ref.includes('@')) throw new ShaleError('INVALID_ARGUMENT', `cannot tag with a digest reference "${dst}"`);
  return store.withLock(async () => {
    const { entry, image } = await store.resolve(src);
    await store.setTags(entry.descriptor, [ref]);
    return { ref, id: image.id };
  });
}

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

/**
 * `shale rmi REF...`: removes tags; an image left with no tag is deleted and its unshared blobs freed.
 * An ID that several tags name needs `force`, as in Docker.
 */
export async function removeImages(store: Store, refs: string[], options: { force?: boolean } = {}): Promise<RemoveResult> {
  return store.withLock(async () => {
    const untagged: string[] = [];
    const removedIds = new Set<string>();
    for (const raw of refs) {
      const { entry, image } = await store.resolve(raw);
      let entries = await store.readIndex();
      const byName = entry.ref !== undefined && !/^(sha256:)?[a-f0-9]{12,64}$/.test(raw);
      const sameImage = entries.filter((e) => e.descriptor.digest === entry.descriptor.digest);
      const drop = byName ? [entry] : sameImage;
      if (!byName && sameImage.filter((e) => e.ref).length > 1 && !options.force) {
        throw new ShaleError('FAILED_PRECONDITION', `image ${image.id.slice(7, 19)} is referenced by ${sameImage.length} tags`, {
          hint: 'remove the tags by name, or use --force',
        });
      }
      const dropped = (e: (typeof entries)[number]) => drop.some((d) => d.ref === e.ref && d.descriptor.digest === e.descriptor.digest);
      entries = entries.filter((e) => !dropped(e));
      untagged.push(...drop.filter((e) => e.ref).map((e) => e.ref!));
      if (!entries.some((e) => e.descriptor.digest === entry.descriptor.digest)) removedIds.add(image.id);
      await store.writeIndex(entries);
    }
    const gc = await collectGarbage(store);
    return { untagged, deleted: [...removedIds, ...gc.deletedBlobs] };
  });
}
