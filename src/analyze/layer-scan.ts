import { ShaleError } from '../internal/errors.js';
import { hashPath } from './path-table.js';
import { cleanHeaderPath, cleanLinkTarget, entryContentBytes, listTar, listTarFile, parseWhiteout, type EntryType, type TarHeader, type TarSource } from '../layer/index.js';

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

/**
 * A layer's entries packed to pass between threads cheaply: the path and link name of each entry in one
 * string (NUL-separated: no tar name holds a NUL), its numbers in one transferable array.
 */
export interface PackedScan {
  names: string;
  numbers: Float64Array;
  count: number;
}

/** Per entry in `numbers`: type, size, mode, uid, gid, content offset (-1: none), mark (0 none, 1 whiteout, 2 opaque), the path's hashPath. */
const FIELDS = 8;
const MARKS = [undefined, 'whiteout', 'opaque'] as const;
const TYPES: readonly EntryType[] = ['file', 'hardlink', 'symlink', 'char', 'block', 'dir', 'fifo'];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));

/** Content bytes of an entry as `images`/`history` count them: a file's size, a symlink's target length. */
export const contentBytes = (e: Pick<ScanEntry, 'mark' | 'type' | 'size' | 'linkname'>): number => (e.mark ? 0 : entryContentBytes(e));

/**
 * One layer's entries as read, kept packed (an array of numbers, the names in one list): 200k entries
 * cost a few arrays, not 200k objects. `entry(i)` makes the object of one entry when it is wanted.
 */
export class LayerScan {
  readonly count: number;
  private readonly numbers: Float64Array;
  private readonly names: string[];

  /** A scan packed elsewhere, or (names unjoined) on this thread. */
  constructor(packed: PackedScan | (Omit<PackedScan, 'names'> & { names: string[] })) {
    this.count = packed.count;
    this.numbers = packed.numbers;
    this.names = typeof packed.names !== 'string' ? packed.names : packed.count === 0 ? [] : packed.names.split('\0');
  }

  /** A scan of entries given by hand (tests). */
  static of(entries: readonly Omit<ScanEntry, 'index' | 'target'>[]): LayerScan {
    const packed = new Packer();
    for (const e of entries) packed.push(e.path, e.linkname, e.type, e.size, e.mode, e.uid, e.gid, e.contentOffset, e.mark);
    return packed.scan();
  }

  path(i: number): string {
    return this.names[2 * i]!;
  }

  linkname(i: number): string {
    return this.names[2 * i + 1]!;
  }

  type(i: number): EntryType {
    return TYPES[this.numbers[i * FIELDS]!]!;
  }

  isDir(i: number): boolean {
    return this.numbers[i * FIELDS] === DIR;
  }

  size(i: number): number {
    return this.numbers[i * FIELDS + 1]!;
  }

  mark(i: number): 'whiteout' | 'opaque' | undefined {
    return MARKS[this.numbers[i * FIELDS + 6]!];
  }

  /** hashPath of the entry's path, computed where the layer was read. */
  pathHash(i: number): number {
    return this.numbers[i * FIELDS + 7]!;
  }

  /** What a whiteout or opaque marker names (see ScanEntry.target). */
  target(i: number): string {
    const mark = parseWhiteout(this.path(i))!;
    return mark.kind === 'opaque' ? mark.dir : mark.target;
  }

  contentBytes(i: number): number {
    return this.mark(i) ? 0 : entryContentBytes({ type: this.type(i), size: this.size(i), linkname: this.linkname(i) });
  }

  entry(i: number): ScanEntry {
    const o = i * FIELDS;
    const n = this.numbers;
    const e: ScanEntry = { index: i, path: this.path(i), type: this.type(i), size: n[o + 1]!, mode: n[o + 2]!, uid: n[o + 3]!, gid: n[o + 4]!, linkname: this.linkname(i) };
    if (n[o + 5]! >= 0) e.contentOffset = n[o + 5]!;
    const mark = this.mark(i);
    if (mark) {
      e.mark = mark;
      e.target = this.target(i);
    }
    return e;
  }
}

const DIR = TYPES.indexOf('dir');

/** Builds a packed scan entry by entry. */
class Packer {
  private readonly names: string[] = [];
  private numbers = new Float64Array(FIELDS * 1024);
  private count = 0;

  push(path: string, linkname: string, type: EntryType, size: number, mode: number, uid: number, gid: number, contentOffset: number | undefined, mark: ScanEntry['mark']): void {
    if ((this.count + 1) * FIELDS > this.numbers.length) {
      const grown = new Float64Array(this.numbers.length * 2);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    const n = this.numbers;
    const o = this.count * FIELDS;
    n[o] = TYPE_CODE.get(type)!;
    n[o + 1] = size;
    n[o + 2] = mode;
    n[o + 3] = uid;
    n[o + 4] = gid;
    n[o + 5] = contentOffset ?? -1;
    n[o + 6] = mark === 'whiteout' ? 1 : mark === 'opaque' ? 2 : 0;
    n[o + 7] = hashPath(path);
    this.names.push(path, linkname);
    this.count++;
  }

  /** The scan packed to pass to another thread. */
  done(): PackedScan {
    return { names: this.names.join('\0'), numbers: this.numbers.slice(0, this.count * FIELDS), count: this.count };
  }

  /** The scan, for this thread: the names not joined (nor split again). */
  scan(): LayerScan {
    return new LayerScan({ names: this.names, numbers: this.numbers.subarray(0, this.count * FIELDS), count: this.count });
  }
}

/** Reads a layer's headers once (contents skipped), names checked for safety, into a packed scan. */
export async function scanLayerPacked(layer: TarSource): Promise<PackedScan> {
  return (await scanInto(layer)).done();
}

/** Reads a layer's headers once (contents skipped), names checked for safety. */
export async function scanLayer(layer: TarSource): Promise<LayerScan> {
  return (await scanInto(layer)).scan();
}

async function scanInto(layer: TarSource): Promise<Packer> {
  const entryWhat = `${layer.what}: entry`;
  const collect = (packer: Packer) => (header: TarHeader, _index: number, contentOffset: number | undefined) => {
    const path = cleanHeaderPath(header, entryWhat);
    const linkname = header.type === 'hardlink' ? cleanLinkTarget(header.linkname, path, layer.what) : header.linkname;
    const mark = parseWhiteout(path);
    if (mark?.kind === 'whiteout' && mark.target === '') throw new ShaleError('CORRUPT_INPUT', `${layer.what}: whiteout "${path}" names the root`);
    const offset = header.type === 'file' ? contentOffset : undefined;
    packer.push(path, linkname, header.type, header.size, header.mode & 0o7777, header.uid, header.gid, offset, mark?.kind);
  };
  // a plain stored tar: read synchronously, seeking over contents (the stream reader when it has an old GNU sparse entry)
  const file = layer.storedFile;
  if (file?.plain) {
    const packer = new Packer();
    if (listTarFile(file.path, { what: layer.what, verified: !file.unverifiedDigest, region: file.region }, collect(packer))) return packer;
  }
  const packer = new Packer();
  const listing = layer.openForListing?.();
  await listTar(listing ?? layer.open(), { what: layer.what, verified: listing !== undefined && !file?.unverifiedDigest }, collect(packer));
  return packer;
}
