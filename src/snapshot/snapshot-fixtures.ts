/**
 * Helpers shared by the snapshot tests: layers made in memory, trees read back from disk, tar entries in a
 * comparable shape. Test-only; nothing in src/ but tests imports this file.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { digestOf } from '../oci/index.js';
import { makeHeader, type TarHeader, type TarWriteEntry } from '../layer/index.js';
import { chunks, readAll, tarOf } from '../layer/layer-fixtures.js';
import type { StoredLayerRef } from './snapshotter.js';
import { deviceNumbers } from './scan-tree.js';
import { parseGetfattrDump } from './xattr-tree.js';

export { collect, dir, file, hardlink, symlink, tarOf, readAll, rejectsWithCode } from '../layer/layer-fixtures.js';

export const fifo = (name: string, fields: Partial<TarHeader> = {}): TarWriteEntry => ({
  header: makeHeader({ name, type: 'fifo', mode: 0o644, ...fields }),
});
export const chardev = (name: string, major: number, minor: number, fields: Partial<TarHeader> = {}): TarWriteEntry => ({
  header: makeHeader({ name, type: 'char', mode: 0o666, devmajor: major, devminor: minor, ...fields }),
});
/** A `.wh.` entry as image tools write it: an empty regular file. */
export const marker = (name: string): TarWriteEntry => ({ header: makeHeader({ name, type: 'file', mode: 0 }) });

/** A LayerRef over these entries, with its true diffId; served in small chunks. */
export async function layerRef(entries: TarWriteEntry[]): Promise<StoredLayerRef & { tar: Buffer }> {
  const tar = await tarOf(entries);
  return { tar, diffId: digestOf(tar), open: () => chunks(tar, 1000) };
}

export interface DiskEntry {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  ino: number;
  nlink: number;
  linkname?: string;
  dev?: string;
  content?: string;
}

/** Every path under `root` (relative; directories with a trailing `/`) with its lstat, in sorted order. */
export function readTree(root: string, rel = '', out = new Map<string, DiskEntry>()): Map<string, DiskEntry> {
  for (const n of readdirSync(rel === '' ? root : join(root, rel)).sort()) {
    const p = rel === '' ? n : `${rel}/${n}`;
    const abs = join(root, p);
    const st = lstatSync(abs);
    const type: DiskEntry['type'] = st.isDirectory()
      ? 'dir'
      : st.isSymbolicLink()
        ? 'symlink'
        : st.isFile()
          ? 'file'
          : st.isCharacterDevice()
            ? 'char'
            : st.isBlockDevice()
              ? 'block'
              : st.isFIFO()
                ? 'fifo'
                : 'socket';
    const e: DiskEntry = { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0, mtime: Math.floor(st.mtimeMs / 1000), ino: st.ino, nlink: st.nlink };
    if (type === 'symlink') e.linkname = readlinkSync(abs);
    if (type === 'char' || type === 'block') {
      const d = deviceNumbers(BigInt(st.rdev));
      e.dev = `${d.major}:${d.minor}`;
    }
    if (type === 'file' && st.size < 4096) e.content = readFileSync(abs, 'utf8');
    out.set(type === 'dir' ? `${p}/` : p, e);
    if (type === 'dir') readTree(root, p, out);
  }
  return out;
}

/** The xattrs of one path (symlink not followed), values as strings. */
export function xattrsOf(path: string): Record<string, string> {
  const text = execFileSync('getfattr', ['--no-dereference', '--dump', '--match=-', '--encoding=hex', '--absolute-names', path], {
    encoding: 'latin1',
  });
  const tree = parseGetfattrDump(text);
  const attrs = [...tree.values()][0] ?? {};
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, v.toString()]));
}

export interface Listed {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
  content: string;
  mtime: number;
  xattrs: Record<string, string>;
}

/** The entries of a tar, in tar order, in a shape assertions can compare. */
export async function listTar(tar: Buffer): Promise<Listed[]> {
  return (await readAll(tar)).map((e) => ({
    name: e.header.name,
    type: e.header.type,
    mode: e.header.mode,
    uid: e.header.uid,
    gid: e.header.gid,
    linkname: e.header.linkname,
    content: e.body.toString(),
    mtime: e.header.mtime,
    xattrs: Object.fromEntries(Object.entries(e.header.xattrs ?? {}).map(([k, v]) => [k, v.toString()])),
  }));
}

/** Mount points at or below `dir`, from this process's mount table. */
export function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}
