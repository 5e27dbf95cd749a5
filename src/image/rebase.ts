import { ShaleError } from '../internal/errors.js';
import { BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION, type History } from '../oci/index.js';
import type { ImageEdit } from './edit.js';
import type { Image } from './image.js';

/** A base image as a rebase uses it: the image and the name it is recorded under. */
export interface RebaseBase {
  image: Image;
  /** The reference written to the base name annotation. */
  name: string;
}

/**
 * How many entries at the start of `history` describe the first `layers` layers: the old base's own
 * count when the image's history starts with as many non-empty entries as the base has layers, else the
 * entries up to the one of the last base layer.
 */
function baseHistoryLength(history: History[], layers: number, oldBaseHistory: History[] | undefined): number {
  const nonEmpty = (h: History[]) => h.filter((e) => !e.empty_layer).length;
  const own = oldBaseHistory?.length;
  if (own !== undefined && own <= history.length && nonEmpty(history.slice(0, own)) === layers) return own;
  let seen = 0;
  for (let i = 0; i < history.length; i++) {
    if (seen === layers) return i;
    if (!history[i]!.empty_layer) seen++;
  }
  return history.length;
}

/**
 * The edit that puts `image` on `newBase` instead of `oldBase` (go-containerregistry's rebase): the old
 * base's layers must be the bottom of the image's (by diffId, else FAILED_PRECONDITION); they and their
 * history entries are replaced by the new base's; the image's own layers, history entries and runtime
 * config stay, the platform is the new base's, and the base annotations name the new base.
 */
export function rebaseEdit(image: Image, oldBase: Image, newBase: RebaseBase): ImageEdit {
  const mine = image.config.rootfs.diff_ids;
  const old = oldBase.config.rootfs.diff_ids;
  const at = old.findIndex((d, i) => d !== mine[i]);
  if (old.length > mine.length || at >= 0) {
    throw new ShaleError(
      'FAILED_PRECONDITION',
      at >= 0
        ? `the old base ${oldBase.manifestDigest} is not a base of the image: its layer ${at} (${old[at]}) is not the image's (${mine[at] ?? 'none'})`
        : `the old base ${oldBase.manifestDigest} has ${old.length} layers, more than the image's ${mine.length}`,
      { hint: 'name the image the original was built on with --old-base' },
    );
  }
  const base = newBase.image;
  if (base.config.os !== image.config.os || base.config.architecture !== image.config.architecture) {
    throw new ShaleError(
      'INVALID_ARGUMENT',
      `the new base ${newBase.name} is ${base.config.os}/${base.config.architecture}, the image ${image.config.os}/${image.config.architecture}`,
    );
  }
  const history = image.config.history;
  const ownHistory = history ? history.slice(baseHistoryLength(history, old.length, oldBase.config.history)) : undefined;
  const newHistory = history ? [...(base.config.history ?? []), ...ownHistory!] : undefined;
  const config = {
    ...image.config,
    architecture: base.config.architecture,
    os: base.config.os,
    ...(base.config.variant ? { variant: base.config.variant } : {}),
    rootfs: { ...image.config.rootfs, type: 'layers' as const, diff_ids: [...base.config.rootfs.diff_ids, ...mine.slice(old.length)] },
    ...(newHistory ? { history: newHistory } : {}),
  };
  if (!base.config.variant) delete config.variant;
  return {
    config,
    layers: [...base.layers, ...image.layers.slice(old.length)],
    annotations: { ...image.manifest.annotations, [BASE_NAME_ANNOTATION]: newBase.name, [BASE_DIGEST_ANNOTATION]: base.manifestDigest },
  };
}
