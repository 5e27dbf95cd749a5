import { ShaleError } from '../internal/errors.js';
import { ChunkReader } from './chunk-reader.js';
import {
  BLOCK,
  decodeRawHeader,
  isZeroBlock,
  padLength,
  parseNumber,
  parsePaxRecords,
  typeOfFlag,
  type RawHeader,
  type TarHeader,
} from './tar-header.js';

/** A tar entry: its header and its content, which must be read before the next entry is asked for. */
export interface TarEntry {
  header: TarHeader;
  /** Offset of the entry's first header block (PAX/GNU extension headers included) in the tar. */
  offset: number;
  /** The content bytes (sparse files expanded). Unread content is skipped when the next entry is read. */
  body: AsyncIterable<Buffer>;
}

export interface ReadTarOptions {
  /** Names the input in errors ("layer sha256:...", "archive x.tar"). */
  what?: string;
  /** Largest size accepted for one extension header (PAX, GNU long name). */
  maxMetaBytes?: number;
  /**
   * The bytes were verified against their digest when they were stored: header checksums are not
   * recomputed (the rest of the checks stay).
   */
  verified?: boolean;
}

interface SparseSegment {
  offset: number;
  length: number;
}

/** What extension headers (PAX 'x', GNU 'L' and 'K') said about the entry that follows them. */
interface Extensions {
  pax: Map<string, Buffer>;
  longName?: string;
  longLink?: string;
}

interface SparseInfo {
  map: SparseSegment[];
  realSize: number;
  mapInData: boolean;
}

const cString = (b: Buffer): string => {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z === -1 ? b.length : z);
};

/** One entry's header with where its stored data is and how to read it. */
interface ParsedEntry {
  header: TarHeader;
  offset: number;
  /** Bytes of data stored after the header (0 for non-files). */
  stored: number;
  /** Where the stored data starts in the tar. */
  dataOffset: number;
  sparse?: SparseInfo;
}

/**
 * The tar format, one header at a time: ustar, GNU (long names, old sparse) and PAX (long names, xattrs,
 * sparse 0.0/0.1/1.0, global headers). Reads synchronously from what is buffered and awaits only for
 * more input, so listing many small entries costs little. A malformed archive is CORRUPT_INPUT.
 */
class TarParser {
  readonly r: ChunkReader;
  private readonly extensions: HeaderExtensions;
  /** Data of the current entry still unread (skipped before the next header). */
  private pending = 0;
  /** Bytes of the current entry's data read through `body`. */
  consumed = 0;

  constructor(
    source: AsyncIterable<Uint8Array>,
    readonly what: string,
    maxMeta: number,
    private readonly verified = false,
  ) {
    this.r = new ChunkReader(source, what);
    this.extensions = new HeaderExtensions(maxMeta, this.corrupt);
  }

  readonly corrupt = (msg: string): ShaleError => new ShaleError('CORRUPT_INPUT', `${this.what}: ${msg}`);

  private async bytes(n: number): Promise<Buffer | null> {
    return this.r.takeIfBuffered(n) ?? this.r.readExact(n);
  }

  private async skip(n: number): Promise<void> {
    if (n > 0 && !this.r.skipIfBuffered(n)) await this.r.skip(n);
  }

  private async readMeta(size: number): Promise<Buffer> {
    const data = size === 0 ? Buffer.alloc(0) : ((await this.bytes(size)) ?? Buffer.alloc(0));
    if (data.length !== size) throw this.r.truncated();
    await this.skip(padLength(size));
    return data;
  }

  /** The next entry (the previous one's unread data skipped), or null at the end of the archive. */
  async next(): Promise<ParsedEntry | null> {
    const r = this.r;
    await this.skip(this.pending - this.consumed + padLength(this.pending));
    this.pending = 0;
    this.consumed = 0;
    let offset = r.position;
    for (;;) {
      const block = await this.bytes(BLOCK);
      if (block === null) return null; // end of input without end-of-archive blocks: accepted, as GNU tar does
      if (isZeroBlock(block)) return null;
      let raw: RawHeader;
      try {
        raw = decodeRawHeader(block, !this.verified);
      } catch (e) {
        throw this.corrupt(`at byte ${r.position - BLOCK}: ${(e as Error).message}`);
      }
      const metaSize = this.extensions.metaSize(raw);
      if (metaSize !== undefined) {
        this.extensions.add(raw.flag, await this.readMeta(metaSize));
        if (raw.flag === 'g') offset = r.position;
        continue;
      }
      const entry = await this.assemble(raw, block, offset);
      entry.dataOffset = r.position;
      this.pending = entry.stored;
      return entry;
    }
  }

  private async assemble(raw: RawHeader, block: Buffer, offset: number): Promise<ParsedEntry> {
    const oldSparse = raw.flag === 'S' ? await readOldGnuSparse(block, this.r, this.corrupt) : undefined;
    return { ...this.extensions.fold(raw, oldSparse), offset, dataOffset: 0 };
  }

  /** The current entry's content (sparse files expanded); must be read before `next`. */
  body(entry: ParsedEntry): AsyncIterable<Buffer> {
    const parser = this;
    async function* raw(limit: number): AsyncGenerator<Buffer> {
      for await (const c of parser.r.stream(limit - parser.consumed)) {
        parser.consumed += c.length;
        yield c;
      }
    }
    const s = entry.sparse;
    if (!s) return raw(entry.stored);
    return (async function* () {
      let map = s.map;
      if (s.mapInData) {
        const parsed = await readSparseMapFromData(parser.r, parser.corrupt);
        parser.consumed += parsed.bytes;
        map = parsed.map;
      }
      yield* expandSparse(raw(entry.stored), map, s.realSize, parser.corrupt);
    })();
  }
}

/**
 * Reads a tar stream entry by entry (see TarParser for the formats). Each entry's content must be read
 * before the next entry is asked for; unread content is skipped. At the end, whatever follows the
 * end-of-archive blocks is read too, so a verifying source sees its end.
 */
export async function* readTar(source: AsyncIterable<Uint8Array>, options: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const parser = new TarParser(source, options.what ?? 'tar', options.maxMetaBytes ?? 16 << 20, options.verified);
  try {
    for (let e = await parser.next(); e; e = await parser.next()) {
      const entry = e;
      let made: AsyncIterable<Buffer> | undefined; // made only when the content is read: listing never builds it
      yield { header: entry.header, offset: entry.offset, body: { [Symbol.asyncIterator]: () => (made ??= parser.body(entry))[Symbol.asyncIterator]() } };
    }
    await parser.r.drain();
  } finally {
    await parser.r.close();
  }
}

/**
 * Calls `onEntry` with each header of a tar, its position, and where a regular file's content lies in
 * the tar (undefined for a sparse file, whose stored bytes are not its content); contents are skipped:
 * the fast way to list a layer (no per-entry generator or promise beyond what reading needs). A
 * source marked `verified` is not read past the end of the archive; any other is read to its end.
 */
export async function listTar(
  source: AsyncIterable<Uint8Array>,
  options: ReadTarOptions,
  onEntry: (header: TarHeader, index: number, contentOffset: number | undefined) => void,
): Promise<void> {
  const parser = new TarParser(source, options.what ?? 'tar', options.maxMetaBytes ?? 16 << 20, options.verified);
  try {
    let index = 0;
    for (let e = await parser.next(); e; e = await parser.next()) onEntry(e.header, index++, e.sparse ? undefined : e.dataOffset);
    // bytes not verified before: read to their end, so that a verifying source checks its digest
    if (!options.verified) await parser.r.drain();
  } finally {
    await parser.r.close();
  }
}

/**
 * What the extension headers read so far have said: PAX 'x' records and GNU 'L'/'K' names for the next
 * entry, PAX 'g' records for all that follow. Both tar readers (the stream's and the file's) keep one.
 */
export class HeaderExtensions {
  private readonly globalPax = new Map<string, Buffer>();
  private ext: Extensions = { pax: new Map() };

  constructor(
    private readonly maxMeta: number,
    private readonly corrupt: (m: string) => ShaleError,
  ) {}

  /** When `raw` is an extension header, the size of its data (checked against the limit); else undefined. */
  metaSize(raw: RawHeader): number | undefined {
    if (raw.flag !== 'x' && raw.flag !== 'g' && raw.flag !== 'L' && raw.flag !== 'K') return undefined;
    if (raw.size > this.maxMeta) throw this.corrupt(`extension header of ${raw.size} bytes is too large`);
    return raw.size;
  }

  /** Takes in the data of an extension header of type `flag`. */
  add(flag: string, data: Buffer): void {
    if (flag === 'x') for (const [k, v] of parsePaxRecords(data)) this.ext.pax.set(k, v);
    else if (flag === 'g') for (const [k, v] of parsePaxRecords(data)) this.globalPax.set(k, v);
    else if (flag === 'L') this.ext.longName = cString(data);
    else this.ext.longLink = cString(data);
  }

  /** The header of the entry `raw` starts, its extensions folded in; the next entry starts with none. */
  fold(raw: RawHeader, oldSparse?: SparseInfo): { header: TarHeader; stored: number; sparse?: SparseInfo } {
    const ext = this.ext;
    if (ext.pax.size > 0 || ext.longName !== undefined || ext.longLink !== undefined) this.ext = { pax: new Map() };
    return foldHeader(raw, ext, this.globalPax, oldSparse, this.corrupt);
  }
}

/**
 * An entry's header with its extensions folded in (PAX records over global PAX over GNU long names over
 * the block), and how much data is stored after it. `oldSparse` is the map of an old GNU sparse ('S')
 * entry, which only a stream reader reads.
 */
function foldHeader(
  raw: RawHeader,
  ext: Extensions,
  globalPax: ReadonlyMap<string, Buffer>,
  oldSparse: SparseInfo | undefined,
  corrupt: (m: string) => ShaleError,
): { header: TarHeader; stored: number; sparse?: SparseInfo } {
  const pax = globalPax.size === 0 ? ext.pax : new Map([...globalPax, ...ext.pax]);
  const paxStr = (k: string): string | undefined => (pax.size === 0 ? undefined : pax.get(k)?.toString('utf8'));
  const paxNum = (k: string): number | undefined => {
    const v = paxStr(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || (n < 0 && k !== 'mtime')) throw corrupt(`PAX ${k}="${v}" is not a number`);
    return n;
  };
  let sparse = oldSparse;
  let type = typeOfFlag(raw.flag);
  if (raw.flag === 'S') type = 'file';
  else if (type === undefined) throw corrupt(`entry "${raw.name}" has unsupported type flag "${raw.flag}"`);
  let name = paxStr('path') ?? ext.longName ?? (raw.prefix ? `${raw.prefix}/${raw.name}` : raw.name);
  if (pax.size > 0 && (pax.has('GNU.sparse.major') || pax.has('GNU.sparse.map') || pax.has('GNU.sparse.offset'))) {
    sparse = paxSparse(pax, raw.size, corrupt);
    name = paxStr('GNU.sparse.name') ?? name;
  }
  const dataSize = paxNum('size') ?? raw.size;
  const header: TarHeader = {
    name,
    type: type!,
    mode: raw.mode & 0o7777,
    uid: paxNum('uid') ?? raw.uid,
    gid: paxNum('gid') ?? raw.gid,
    size: type === 'file' ? (sparse ? sparse.realSize : dataSize) : 0,
    mtime: paxNum('mtime') ?? raw.mtime,
    linkname: paxStr('linkpath') ?? ext.longLink ?? raw.linkname,
    uname: paxStr('uname') ?? raw.uname,
    gname: paxStr('gname') ?? raw.gname,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
  };
  if (pax.size > 0) {
    const xattrs: Record<string, Buffer> = {};
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = v;
    if (Object.keys(xattrs).length > 0) header.xattrs = xattrs;
  }
  // Only regular files carry data; other types are header-only whatever their size field says.
  return { header, stored: type === 'file' ? dataSize : 0, sparse };
}

async function readOldGnuSparse(
  block: Buffer,
  r: ChunkReader,
  corrupt: (m: string) => ShaleError,
): Promise<SparseInfo> {
  const map: SparseSegment[] = [];
  const readEntries = (b: Buffer, off: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const o = off + i * 24;
      if (b[o] === 0) break;
      map.push({ offset: parseNumber(b, o, 12, 'sparse offset'), length: parseNumber(b, o + 12, 12, 'sparse length') });
    }
  };
  readEntries(block, 386, 4);
  let extended = block[482] !== 0;
  const realSize = parseNumber(block, 483, 12, 'sparse real size');
  while (extended) {
    const ext = await r.readExact(BLOCK);
    if (!ext) throw corrupt('truncated sparse header');
    readEntries(ext, 0, 21);
    extended = ext[504] !== 0;
  }
  return { map, realSize, mapInData: false };
}

function paxSparse(pax: Map<string, Buffer>, storedSize: number, corrupt: (m: string) => ShaleError): SparseInfo {
  const get = (k: string) => pax.get(k)?.toString('utf8');
  const realSize = Number(get('GNU.sparse.realsize') ?? get('GNU.sparse.size') ?? storedSize);
  if (!Number.isSafeInteger(realSize) || realSize < 0) throw corrupt('bad GNU.sparse real size');
  if (get('GNU.sparse.major') === '1') return { map: [], realSize, mapInData: true };
  const flat = (get('GNU.sparse.map') ?? '').split(',').filter((s) => s !== '').map(Number);
  if (flat.length % 2 !== 0 || flat.some((n) => !Number.isSafeInteger(n) || n < 0)) throw corrupt('bad GNU.sparse.map');
  const map: SparseSegment[] = [];
  for (let i = 0; i < flat.length; i += 2) map.push({ offset: flat[i]!, length: flat[i + 1]! });
  return { map, realSize, mapInData: false };
}

/** PAX sparse 1.0: the map is decimal lines at the start of the data, padded to a block. */
async function readSparseMapFromData(
  r: ChunkReader,
  corrupt: (m: string) => ShaleError,
): Promise<{ map: SparseSegment[]; bytes: number }> {
  let text = '';
  let bytes = 0;
  const numbers: number[] = [];
  let need = -1;
  while (need < 0 || numbers.length < 1 + need * 2) {
    const b = await r.readExact(BLOCK);
    if (!b) throw corrupt('truncated sparse map');
    bytes += BLOCK;
    text += b.toString('latin1');
    const lines = text.split('\n');
    text = lines.pop() ?? '';
    for (const l of lines) {
      const n = Number(l);
      if (!Number.isSafeInteger(n) || n < 0) throw corrupt('bad sparse map line');
      numbers.push(n);
      if (need < 0) need = n;
    }
    if (bytes > 64 << 20) throw corrupt('sparse map too large');
  }
  const map: SparseSegment[] = [];
  for (let i = 0; i < need; i++) map.push({ offset: numbers[1 + 2 * i]!, length: numbers[2 + 2 * i]! });
  return { map, bytes };
}

const ZEROS = Buffer.alloc(64 * 1024);
function* zeros(n: number): Generator<Buffer> {
  while (n > 0) {
    const k = Math.min(n, ZEROS.length);
    yield ZEROS.subarray(0, k);
    n -= k;
  }
}

async function* expandSparse(
  data: AsyncIterable<Buffer>,
  map: SparseSegment[],
  realSize: number,
  corrupt: (m: string) => ShaleError,
): AsyncGenerator<Buffer> {
  const it = data[Symbol.asyncIterator]();
  let pos = 0;
  let pending: Buffer = Buffer.alloc(0);
  for (const seg of map) {
    if (seg.offset < pos || seg.offset + seg.length > realSize) throw corrupt('sparse map is out of order or too long');
    yield* zeros(seg.offset - pos);
    let left = seg.length;
    while (left > 0) {
      if (pending.length === 0) {
        const n = await it.next();
        if (n.done) throw corrupt('sparse data shorter than its map');
        pending = n.value;
      }
      const k = Math.min(left, pending.length);
      yield pending.subarray(0, k);
      pending = pending.subarray(k);
      left -= k;
    }
    pos = seg.offset + seg.length;
  }
  yield* zeros(realSize - pos);
}
