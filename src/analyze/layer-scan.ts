import { ShaleError } from '../internal/errors.js';
import { cleanEntryPath, cleanLinkTarget, entryContentBytes, listTar, parseWhiteout, type EntryType, type TarSource } from '../layer/index.js';

/** One tar entry as analysis needs it (a few numbers per path: 200k entries stay small). */
export interface ScanEntry {
  /** Position in the layer's tar. */
  index: number;
  /** Clean path, no leading slash; '' is the root. */
  path: string;
  type: EntryType;
  /** The tar header's size: content bytes of a regular file, else usually 0. */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
  /** Where a regular file's content lies in the tar, when known (not for sparse files). */
  contentOffset?: number;
  /** A whiteout hides `target` below; an opaque marker hides everything below in `target`. */
  mark?: 'whiteout' | 'opaque';
  target?: string;
}

export interface LayerScan {
  entries: ScanEntry[];
}

/** Content bytes of an entry as `images`/`history` count them: a file's size, a symlink's target length. */
export const contentBytes = (e: ScanEntry): number => (e.mark ? 0 : entryContentBytes(e));

/** Reads a layer's headers once (contents skipped), names checked for safety. */
export async function scanLayer(layer: TarSource): Promise<LayerScan> {
  const entries: ScanEntry[] = [];
  const entryWhat = `${layer.what}: entry`;
  const listing = layer.openForListing?.();
  await listTar(listing ?? layer.open(), { what: layer.what, verified: listing !== undefined }, (header, index, contentOffset) => {
    const path = cleanEntryPath(header.name, entryWhat);
    const e: ScanEntry = {
      index,
      path,
      type: header.type,
      size: header.size,
      mode: header.mode & 0o7777,
      uid: header.uid,
      gid: header.gid,
      linkname: header.type === 'hardlink' ? cleanLinkTarget(header.linkname, path, layer.what) : header.linkname,
    };
    if (header.type === 'file' && contentOffset !== undefined) e.contentOffset = contentOffset;
    const mark = parseWhiteout(path);
    if (mark) {
      e.mark = mark.kind;
      e.target = mark.kind === 'opaque' ? mark.dir : mark.target;
      if (e.target === '' && mark.kind === 'whiteout') throw new ShaleError('CORRUPT_INPUT', `${layer.what}: whiteout "${path}" names the root`);
    }
    entries.push(e);
  });
  return { entries };
}
