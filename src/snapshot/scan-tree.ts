import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

export type FileKind = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/** One path's lstat metadata, as much as a tree comparison or a tar header needs. */
export interface FileInfo {
  kind: FileKind;
  /** Permission bits with setuid, setgid and sticky (no type bits). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  /** Set by the kernel on every content or metadata change; no system call can set it back. */
  ctimeNs: bigint;
  /** 0 where the filesystem does not record it. */
  birthtimeNs: bigint;
  dev: bigint;
  ino: bigint;
  nlink: number;
  rdev: bigint;
  /** Symlink target. */
  linkname?: string;
}

/** Every path of a directory tree (relative, `''` is the root) with its metadata and each directory's children. */
export interface TreeScan {
  entries: Map<string, FileInfo>;
  /** Directory path -> child names, sorted by their UTF-8 bytes. */
  children: Map<string, string[]>;
}

function kindOf(st: BigIntStats): FileKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Linux's dev_t split into major and minor numbers. */
export const deviceNumbers = (rdev: bigint): { major: number; minor: number } => ({
  major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
  minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
});

/** Sorts names by their UTF-8 bytes (the order tar entries are written in). */
export function sortNames(names: string[]): string[] {
  return names
    .map((n) => ({ n, k: Buffer.from(n, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.k, b.k))
    .map((x) => x.n);
}

function infoOf(path: string): FileInfo {
  const st = lstatSync(path, { bigint: true });
  const kind = kindOf(st);
  return {
    kind,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: kind === 'file' ? Number(st.size) : 0,
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    birthtimeNs: st.birthtimeNs,
    dev: st.dev,
    ino: st.ino,
    nlink: Number(st.nlink),
    rdev: st.rdev,
    linkname: kind === 'symlink' ? readlinkSync(path) : undefined,
  };
}

/**
 * Walks a tree without following symlinks and records every path's metadata. Synchronous system calls
 * (one thread-pool round trip per lstat was ten times slower); it yields to the event loop between directories.
 */
export async function scanTree(root: string): Promise<TreeScan> {
  const entries = new Map<string, FileInfo>();
  const children = new Map<string, string[]>();
  entries.set('', infoOf(root));
  const pending = [''];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    const names = sortNames(readdirSync(dir === '' ? root : join(root, dir)));
    children.set(dir, names);
    for (const n of names) {
      const p = dir === '' ? n : `${dir}/${n}`;
      const info = infoOf(join(root, p));
      entries.set(p, info);
      if (info.kind === 'dir') pending.push(p);
    }
    await new Promise<void>((r) => setImmediate(r));
  }
  return { entries, children };
}
