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

/**
 * A layer's entries packed to pass between threads cheaply: the path and link name of each entry in one
 * string (NUL-separated: no tar name holds a NUL), its numbers in one transferable array.
 */
export interface PackedScan {
  names: string;
  numbers: Float64Array;
  count: number;
}

/** Per entry in `numbers`: type, size, mode, uid, gid, content offset (-1: none). */
const FIELDS = 6;
const TYPES: readonly EntryType[] = ['file', 'hardlink', 'symlink', 'char', 'block', 'dir', 'fifo'];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));

/** Content bytes of an entry as `images`/`history` count them: a file's size, a symlink's target length. */
export const contentBytes = (e: ScanEntry): number => (e.mark ? 0 : entryContentBytes(e));

/** Reads a layer's headers once (contents skipped), names checked for safety, into a packed scan. */
export async function scanLayerPacked(layer: TarSource): Promise<PackedScan> {
  const names: string[] = [];
  let numbers = new Float64Array(FIELDS * 1024);
  let count = 0;
  const entryWhat = `${layer.what}: entry`;
  const listing = layer.openForListing?.();
  await listTar(listing ?? layer.open(), { what: layer.what, verified: listing !== undefined }, (header, _index, contentOffset) => {
    const path = cleanEntryPath(header.name, entryWhat);
    const linkname = header.type === 'hardlink' ? cleanLinkTarget(header.linkname, path, layer.what) : header.linkname;
    const mark = parseWhiteout(path);
    if (mark?.kind === 'whiteout' && mark.target === '') throw new ShaleError('CORRUPT_INPUT', `${layer.what}: whiteout "${path}" names the root`);
    if ((count + 1) * FIELDS > numbers.length) {
      const grown = new Float64Array(numbers.length * 2);
      grown.set(numbers);
      numbers = grown;
    }
    const o = count * FIELDS;
    numbers[o] = TYPE_CODE.get(header.type)!;
    numbers[o + 1] = header.size;
    numbers[o + 2] = header.mode & 0o7777;
    numbers[o + 3] = header.uid;
    numbers[o + 4] = header.gid;
    numbers[o + 5] = header.type === 'file' && contentOffset !== undefined ? contentOffset : -1;
    names.push(path, linkname);
    count++;
  });
  return { names: names.join('\0'), numbers: numbers.slice(0, count * FIELDS), count };
}

/** The entries of a packed scan. */
export function unpackScan(packed: PackedScan): LayerScan {
  const { numbers, count } = packed;
  const names = count === 0 ? [] : packed.names.split('\0');
  const entries: ScanEntry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * FIELDS;
    const path = names[2 * i]!;
    const e: ScanEntry = {
      index: i,
      path,
      type: TYPES[numbers[o]!]!,
      size: numbers[o + 1]!,
      mode: numbers[o + 2]!,
      uid: numbers[o + 3]!,
      gid: numbers[o + 4]!,
      linkname: names[2 * i + 1]!,
    };
    if (numbers[o + 5]! >= 0) e.contentOffset = numbers[o + 5]!;
    const mark = path.includes('.wh.') ? parseWhiteout(path) : null;
    if (mark) {
      e.mark = mark.kind;
      e.target = mark.kind === 'opaque' ? mark.dir : mark.target;
    }
    entries[i] = e;
  }
  return { entries };
}

/** Reads a layer's headers once (contents skipped), names checked for safety. */
export async function scanLayer(layer: TarSource): Promise<LayerScan> {
  return unpackScan(await scanLayerPacked(layer));
}
