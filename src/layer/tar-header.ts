import { ShaleError } from '../internal/errors.js';

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One tar entry's metadata, after PAX and GNU extensions are folded in. */
export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes (the expanded size for sparse files). */
  size: number;
  /** Seconds since the epoch; may be fractional when PAX recorded it so. */
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes (PAX `SCHILY.xattr.*`), sorted by name when written. */
  xattrs?: Record<string, Buffer>;
}

export const BLOCK = 512;

const TYPE_FLAGS: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};
/** The file-type bits Go's archive/tar (and so Docker) puts in the mode field. */
const TYPE_BITS: Record<EntryType, number> = {
  file: 0o100000,
  hardlink: 0o100000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  dir: 0o040000,
  fifo: 0o010000,
};
const FLAG_OF: Record<EntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

export const typeOfFlag = (flag: string): EntryType | undefined => TYPE_FLAGS[flag];

/** A raw 512-byte header block, decoded field by field. */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkname: string;
  magic: 'ustar' | 'gnu' | 'v7';
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  prefix: string;
}

/** A NUL-terminated field as UTF-8; plain ASCII (the usual case) is decoded without a UTF-8 pass. */
const str = (b: Buffer, off: number, len: number): string => {
  const max = off + len;
  let end = off;
  let ascii = true;
  for (; end < max; end++) {
    const c = b[end]!;
    if (c === 0) break;
    if (c > 0x7f) ascii = false;
  }
  if (end === off) return '';
  return b.toString(ascii ? 'latin1' : 'utf8', off, end);
};

/** Whether the magic field (257..264) holds `ustar\0` (POSIX) or `ustar  \0` (old GNU). */
function magicOf(b: Buffer): 'ustar' | 'gnu' | 'v7' {
  if (b[257] !== 0x75 || b[258] !== 0x73 || b[259] !== 0x74 || b[260] !== 0x61 || b[261] !== 0x72) return 'v7';
  if (b[262] === 0) return 'ustar';
  return b[262] === 0x20 && b[263] === 0x20 && b[264] === 0 ? 'gnu' : 'v7';
}

/** Parses an octal or base-256 number field. */
export function parseNumber(b: Buffer, off: number, len: number, what: string): number {
  if (b[off]! & 0x80) {
    if (b[off] === 0xff) throw new ShaleError('CORRUPT_INPUT', `tar header: negative ${what}`);
    let v = b[off]! & 0x7f;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) throw new ShaleError('CORRUPT_INPUT', `tar header: ${what} too large`);
    return v;
  }
  // octal digits, after optional spaces, ended by NUL or space; only NULs and spaces may follow
  const end = off + len;
  let i = off;
  while (i < end && b[i] === 0x20) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  for (; i < end; i++) {
    if (b[i] !== 0 && b[i] !== 0x20) {
      const s = b.toString('latin1', off, end).replace(/[\0 ]+$/g, '').replace(/^[ ]+/, '');
      throw new ShaleError('CORRUPT_INPUT', `tar header: ${what} field "${s}" is not a number`);
    }
  }
  return v;
}

export const isZeroBlock = (b: Buffer): boolean => {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
};

/** The sum of the bytes b[start..end) (multiples of 4), four at a time when the block is 4-aligned. */
/** The header's unsigned byte sum with the checksum field counted as spaces; four bytes at a time when aligned. */
function unsignedSum(b: Buffer): number {
  let sum = 8 * 32;
  if ((b.byteOffset & 3) === 0) {
    const words = new Uint32Array(b.buffer, b.byteOffset, BLOCK >>> 2);
    for (let i = 0; i < words.length; i++) {
      if (i === 37 || i === 38) continue; // bytes 148..155: the checksum field
      const w = words[i]!;
      const pairs = (w & 0x00ff00ff) + ((w >>> 8) & 0x00ff00ff);
      sum += (pairs & 0xffff) + (pairs >>> 16);
    }
    return sum;
  }
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += b[i]!;
  return sum;
}

function checksumOk(b: Buffer): boolean {
  const stored = parseNumber(b, 148, 8, 'checksum');
  // the checksum field itself counts as eight spaces; old tars summed signed bytes, so try that second
  if (stored === unsignedSum(b)) return true;
  let signed = 8 * 32;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) signed += b[i]! > 127 ? b[i]! - 256 : b[i]!;
  return stored === signed;
}

/** `verifyChecksum` false: for bytes already verified against their digest (a stored layer). */
export function decodeRawHeader(b: Buffer, verifyChecksum = true): RawHeader {
  if (verifyChecksum && !checksumOk(b)) throw new ShaleError('CORRUPT_INPUT', 'tar header checksum mismatch (not a tar, or corrupt)');
  const magic = magicOf(b);
  return {
    name: str(b, 0, 100),
    mode: parseNumber(b, 100, 8, 'mode'),
    uid: parseNumber(b, 108, 8, 'uid'),
    gid: parseNumber(b, 116, 8, 'gid'),
    size: parseNumber(b, 124, 12, 'size'),
    mtime: parseNumber(b, 136, 12, 'mtime'),
    flag: String.fromCharCode(b[156]!),
    linkname: str(b, 157, 100),
    magic,
    uname: magic === 'v7' ? '' : str(b, 265, 32),
    gname: magic === 'v7' ? '' : str(b, 297, 32),
    devmajor: magic === 'v7' ? 0 : parseNumber(b, 329, 8, 'devmajor'),
    devminor: magic === 'v7' ? 0 : parseNumber(b, 337, 8, 'devminor'),
    prefix: magic === 'ustar' ? str(b, 345, 155) : '',
  };
}

/** Parses PAX records (`LEN key=value\n`), keeping values as bytes (xattrs may be binary). */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    if (data[off] === 0) break;
    const sp = data.indexOf(0x20, off);
    const len = sp > off ? Number.parseInt(data.toString('latin1', off, sp), 10) : NaN;
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length || data[off + len - 1] !== 0x0a) {
      throw new ShaleError('CORRUPT_INPUT', 'tar PAX header has a malformed record');
    }
    const rec = data.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new ShaleError('CORRUPT_INPUT', 'tar PAX record has no "="');
    const key = rec.toString('utf8', 0, eq);
    const value = rec.subarray(eq + 1);
    // PAX sparse 0.0 repeats GNU.sparse.offset/numbytes once per segment, which a Map would collapse to the
    // last one: collect them, in order, into the 0.1-style GNU.sparse.map list.
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      const prev = out.get('GNU.sparse.map');
      out.set('GNU.sparse.map', prev ? Buffer.concat([prev, Buffer.from(','), value]) : Buffer.from(value));
    }
    out.set(key, value);
    off += len;
  }
  return out;
}

function paxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

const fitsOctal = (v: number, len: number): boolean => Number.isInteger(v) && v >= 0 && v < 8 ** (len - 1);

function writeOctal(b: Buffer, off: number, len: number, v: number): void {
  if (fitsOctal(v, len)) {
    b.write(v.toString(8).padStart(len - 1, '0'), off, len - 1, 'latin1');
    b[off + len - 1] = 0;
  } else {
    // base-256, used only when PAX also carries the value
    let x = Math.max(0, Math.trunc(v));
    for (let i = off + len - 1; i > off; i--) {
      b[i] = x % 256;
      x = Math.floor(x / 256);
    }
    b[off] = 0x80;
  }
}

/** Splits a long name into ustar prefix + name when it can. */
function splitUstarName(name: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const p = name.slice(0, i);
    const n = name.slice(i + 1);
    if (Buffer.byteLength(p) <= 155 && Buffer.byteLength(n) <= 100 && n.length > 0) return { prefix: p, name: n };
    if (Buffer.byteLength(n) > 100) return null;
  }
  return null;
}

function encodeBlock(h: {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const b = Buffer.allocUnsafe(BLOCK).fill(0); // from the shared pool: cheaper than a buffer of its own
  b.write(h.name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, h.mode & 0o7777777);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, h.size);
  writeOctal(b, 136, 12, Math.trunc(h.mtime));
  b.write(h.flag, 156, 1, 'latin1');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 8, 'latin1');
  b.write(h.uname, 265, 32, 'utf8');
  b.write(h.gname, 297, 32, 'utf8');
  writeOctal(b, 329, 8, h.devmajor);
  writeOctal(b, 337, 8, h.devminor);
  b.write(h.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

/** The zero bytes that follow `n` bytes of data to fill their last block. */
export const padLength = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;
/** Zeros shared by every `padding` (never written to). */
const ZEROS = Buffer.alloc(BLOCK);
export const padding = (n: number): Buffer => ZEROS.subarray(0, padLength(n));

/**
 * Encodes a header as ustar, preceded by a PAX extended header when a field does not fit
 * (long names, big ids or sizes, fractional times, xattrs). The same header always gives the same bytes.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const size = h.type === 'file' ? h.size : 0;
  const pax: Buffer[] = [];
  const split = splitUstarName(h.name);
  if (!split) pax.push(paxRecord('path', h.name));
  if (Buffer.byteLength(h.linkname) > 100) pax.push(paxRecord('linkpath', h.linkname));
  if (!fitsOctal(h.uid, 8)) pax.push(paxRecord('uid', String(h.uid)));
  if (!fitsOctal(h.gid, 8)) pax.push(paxRecord('gid', String(h.gid)));
  if (!fitsOctal(size, 12)) pax.push(paxRecord('size', String(size)));
  if (!Number.isInteger(h.mtime) || !fitsOctal(h.mtime, 12)) pax.push(paxRecord('mtime', String(h.mtime)));
  if (Buffer.byteLength(h.uname) > 32) pax.push(paxRecord('uname', h.uname));
  if (Buffer.byteLength(h.gname) > 32) pax.push(paxRecord('gname', h.gname));
  for (const key of Object.keys(h.xattrs ?? {}).sort()) pax.push(paxRecord(`SCHILY.xattr.${key}`, h.xattrs![key]!));
  const main = encodeBlock({
    name: split ? split.name : h.name.slice(0, 100),
    prefix: split ? split.prefix : '',
    mode: (h.mode & 0o7777) | TYPE_BITS[h.type],
    uid: fitsOctal(h.uid, 8) ? h.uid : 0,
    gid: fitsOctal(h.gid, 8) ? h.gid : 0,
    size,
    mtime: fitsOctal(Math.trunc(h.mtime), 12) ? Math.trunc(h.mtime) : 0,
    flag: FLAG_OF[h.type],
    linkname: Buffer.byteLength(h.linkname) > 100 ? h.linkname.slice(0, 100) : h.linkname,
    uname: Buffer.byteLength(h.uname) > 32 ? '' : h.uname,
    gname: Buffer.byteLength(h.gname) > 32 ? '' : h.gname,
    devmajor: h.devmajor,
    devminor: h.devminor,
  });
  if (pax.length === 0) return main;
  const data = Buffer.concat(pax);
  const base = h.name.replace(/\/+$/, '').split('/').pop() ?? '';
  const paxHeader = encodeBlock({
    name: `PaxHeaders/${base}`.slice(0, 100),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: 0,
    flag: 'x',
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, data, padding(data.length), main]);
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);
