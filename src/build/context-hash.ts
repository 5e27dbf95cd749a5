import { createHash, type Hash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { copySourceName } from '../dockerfile/history.js';

/** The tar header fields tarsum v1 hashes, in its order (mtime is not among them). */
export interface TarsumHeader {
  /** Entry name; a directory's ends in `/`. */
  name: string;
  /** Written in decimal, as the tar header holds it (with or without file-type bits). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** `0` file, `1` hard link, `2` symlink, `3` char device, `4` block device, `5` directory, `6` fifo. */
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Hashed after the other fields, sorted by key. */
  xattrs?: Record<string, string>;
}

/**
 * A sha256 pre-fed with the tarsum v1 header of `h` (each field as its key followed by its value).
 * Feed a regular file's content next; the hex digest is the entry's sum.
 */
export function tarsumHasher(h: TarsumHeader): Hash {
  const fields: [string, string][] = [
    ['name', h.name],
    ['mode', String(h.mode)],
    ['uid', String(h.uid)],
    ['gid', String(h.gid)],
    ['size', String(h.size)],
    ['typeflag', h.typeflag],
    ['linkname', h.linkname],
    ['uname', h.uname],
    ['gname', h.gname],
    ['devmajor', String(h.devmajor)],
    ['devminor', String(h.devminor)],
  ];
  for (const key of Object.keys(h.xattrs ?? {}).sort()) fields.push([key, h.xattrs![key]!]);
  const hash = createHash('sha256');
  for (const [k, v] of fields) hash.update(k + v);
  return hash;
}

/** The header facts of a build-context entry as the client's context tar carries them. */
export interface ContextEntryHeader {
  /** Context-relative path, e.g. `a.txt`, `d/x` (`/` is appended for directories). */
  path: string;
  /** `hardlink`: a later name of a file already in the tar (its first name is `linkname`). */
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  /** Permission bits with setuid/setgid/sticky (e.g. 0o644); file-type bits are not part of it. */
  mode: number;
  /** Content size of a regular file; 0 otherwise. */
  size: number;
  linkname?: string;
  xattrs?: Record<string, string>;
}

const CONTEXT_TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', dir: '5' } as const;

/**
 * The hasher of a context entry: its header as the context tar has it (uid and gid 0, no user or
 * group names, no device numbers). Feed a regular file's content (not a hard link's); the hex is
 * what `file:<hex>` names. Measured: `a.txt` 0644 `hello\n` gives 00ec1633...cadda.
 */
export function contextEntryHasher(h: ContextEntryHeader): Hash {
  return tarsumHasher({
    name: h.type === 'dir' && !h.path.endsWith('/') ? `${h.path}/` : h.path,
    mode: h.mode,
    uid: 0,
    gid: 0,
    size: h.type === 'file' ? h.size : 0,
    typeflag: CONTEXT_TYPEFLAG[h.type],
    linkname: h.linkname ?? '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: h.xattrs,
  });
}

/** The owner names the daemon's host gives a uid and a gid (`''` when it has none). */
export interface OwnerNames {
  user(uid: number): string;
  group(gid: number): string;
}

/** The lstat facts imageEntryHasher reads (`mode` with its file-type bits, as st_mode). */
export type ImageEntryStat = Pick<Stats, 'mode' | 'uid' | 'gid' | 'size' | 'rdev'>;

const S_IFMT = 0o170000;
const IMAGE_TYPEFLAG: Record<number, string> = { 0o100000: '0', 0o120000: '2', 0o020000: '3', 0o060000: '4', 0o040000: '5', 0o010000: '6' };

/**
 * The hasher of a file of an image or stage (COPY --from), from its lstat: the header Go's
 * tar.FileInfoHeader makes of it. Unlike a context entry, the mode keeps its file-type bits
 * (0o100644), uid and gid are the file's own and the owner names are looked up on the host.
 * Feed a regular file's content. Measured: `out/artifact` 0751 root-owned `built\n` gives
 * 2edcd161...c035.
 */
export function imageEntryHasher(path: string, st: ImageEntryStat, names: OwnerNames): Hash {
  const typeflag = IMAGE_TYPEFLAG[st.mode & S_IFMT] ?? '0';
  const device = typeflag === '3' || typeflag === '4';
  return tarsumHasher({
    name: typeflag === '5' && !path.endsWith('/') ? `${path}/` : path,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: typeflag === '0' ? st.size : 0,
    typeflag,
    linkname: '',
    uname: names.user(st.uid),
    gname: names.group(st.gid),
    // Linux dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31
    devmajor: device ? Math.floor(st.rdev / 256) & 0xfff : 0,
    devminor: device ? (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00) : 0,
  });
}

/**
 * The `dir:<hex>` source name of a directory: sha256 of the sorted sums (or path strings) of the
 * entries below it, joined with `,`.
 */
export function dirSourceName(entrySums: readonly string[]): string {
  return copySourceName('dir', createHash('sha256').update([...entrySums].sort().join(',')).digest('hex'));
}
