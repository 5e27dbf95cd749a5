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

/** A container that uses an image (store/ does not know containers: the caller lists them). */
export interface ImageUser {
  containerId: string;
  manifestDigest: string;
  running: boolean;
}

const shortImage = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/**
 * `shale rmi REF...`, with Docker's rules: a name is untagged, and an image left with no name is deleted
 * with its unshared blobs. An ID that several tags name needs `force`. An image a container uses is kept:
 * removing its last name, or removing it by ID, needs `force` (a stopped container's image is then
 * deleted, its blobs kept by the container); a running container's image is never deleted (by name with
 * `force` it is only untagged). Each deleted ID is listed once.
 */
export async function removeImages(store: Store, refs: string[], options: { force?: boolean; users?: ImageUser[] } = {}): Promise<RemoveResult> {
  const users = options.users ?? [];
  return store.withLock(async () => {
    const untagged: string[] = [];
    const deleted = new Set<string>();
    for (const raw of refs) {
      const { entry, image } = await store.resolve(raw);
      let entries = await store.readIndex();
      const byName = entry.ref !== undefined && !/^(sha256:)?[a-f0-9]{12,64}$/.test(raw);
      const sameImage = entries.filter((e) => e.descriptor.digest === entry.descriptor.digest);
      const using = users.filter((u) => u.manifestDigest === entry.descriptor.digest);
      const running = using.find((u) => u.running);
      const stopped = using.find((u) => !u.running);
      if (byName) {
        if (sameImage.length === 1 && using[0] && !options.force) {
          throw new ShaleError(
            'FAILED_PRECONDITION',
            `conflict: unable to remove repository reference "${raw}" (must force) - container ${using[0].containerId.slice(0, 12)} is using its referenced image ${shortImage(image.id)}`,
          );
        }
      } else {
        if (running) {
          throw new ShaleError('FAILED_PRECONDITION', `conflict: unable to delete ${shortImage(image.id)} (cannot be forced) - image is being used by running container ${running.containerId.slice(0, 12)}`);
        }
        if (stopped && !options.force) {
          throw new ShaleError('FAILED_PRECONDITION', `conflict: unable to delete ${shortImage(image.id)} (must be forced) - image is being used by stopped container ${stopped.containerId.slice(0, 12)}`);
        }
        if (sameImage.filter((e) => e.ref).length > 1 && !options.force) {
          throw new ShaleError('FAILED_PRECONDITION', `conflict: unable to delete ${shortImage(image.id)} (must be forced) - image is referenced in multiple repositories`, {
            hint: 'remove the tags by name, or use --force',
          });
        }
      }
      const drop = byName ? [entry] : sameImage;
      const dropped = (e: (typeof entries)[number]) => drop.some((d) => d.ref === e.ref && d.descriptor.digest === e.descriptor.digest);
      entries = entries.filter((e) => !dropped(e));
      untagged.push(...drop.filter((e) => e.ref).map((e) => e.ref!));
      if (!entries.some((e) => e.descriptor.digest === entry.descriptor.digest)) {
        // a running container's image loses its name but stays, dangling, as in Docker
        if (running) entries.push({ descriptor: entry.descriptor });
        else deleted.add(image.id);
      }
      await store.writeIndex(entries);
    }
    const gc = await collectGarbage(store);
    for (const d of gc.deletedBlobs) deleted.add(d);
    return { untagged, deleted: [...deleted] };
  });
}
