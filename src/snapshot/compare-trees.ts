import { join } from 'node:path';
import type { Change } from './changes-to-tar.js';
import type { FileInfo, TreeScan } from './scan-tree.js';
import type { Xattrs, XattrTree } from './xattr-tree.js';

/** A tree's metadata at one moment: every path's lstat and xattrs. */
export interface TreeRecord {
  scan: TreeScan;
  xattrs: XattrTree;
}

const child = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);

/** The same inode, not a new one that reused its number: inode, device and birth time all equal. */
const sameIdentity = (a: FileInfo, b: FileInfo): boolean => a.ino === b.ino && a.dev === b.dev && a.birthtimeNs === b.birthtimeNs;

function sameXattrs(a: Xattrs | undefined, b: Xattrs | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k]!.equals(b![k]!));
}

/**
 * Any metadata difference. ctime is part of it: the kernel sets it on every write, chmod, chown, link count
 * or xattr change and nothing can set it back, so content rewritten in place with its size and mtime
 * restored is still seen as changed, without keeping or reading the old content.
 */
const sameMetadata = (a: FileInfo, b: FileInfo): boolean =>
  a.kind === b.kind &&
  a.mode === b.mode &&
  a.uid === b.uid &&
  a.gid === b.gid &&
  a.size === b.size &&
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs &&
  a.nlink === b.nlink &&
  a.rdev === b.rdev &&
  a.linkname === b.linkname;

/**
 * The changes from `before` to `after` (two records of the same directory, `root`), shaped as overlayfs
 * would leave them in an upperdir:
 * - a path that is new, or changed in any metadata (see sameMetadata) or xattr, or is another inode now,
 *   is an entry;
 * - a deleted path is one whiteout (a deleted directory too, not one per child);
 * - a directory standing where something else stood before (deleted and made again, or a file replaced
 *   by a directory) is an entry plus an opaque marker, and everything below it is new;
 * - the parent directories of every change are entries too.
 */
export function compareTrees(before: TreeRecord, after: TreeRecord, root: string): Change[] {
  const out: Change[] = [];
  const emitted = new Set<string>();
  const emit = (path: string): void => {
    if (path === '' || emitted.has(path)) return;
    emitted.add(path);
    out.push({ kind: 'entry', path, info: after.scan.entries.get(path)!, xattrs: after.xattrs.get(path), abs: join(root, path) });
  };
  const visit = (dir: string, lowerVisible: boolean): void => {
    const now = after.scan.children.get(dir) ?? [];
    if (lowerVisible) {
      const present = new Set(now);
      for (const name of before.scan.children.get(dir) ?? []) if (!present.has(name)) out.push({ kind: 'whiteout', path: child(dir, name) });
    }
    for (const name of now) {
      const path = child(dir, name);
      const cur = after.scan.entries.get(path)!;
      if (cur.kind === 'socket') continue; // a tar cannot hold it
      const old = lowerVisible ? before.scan.entries.get(path) : undefined;
      const same = old !== undefined && old.kind === cur.kind && sameIdentity(old, cur);
      const unchanged = same && sameMetadata(old, cur) && sameXattrs(before.xattrs.get(path), after.xattrs.get(path));
      if (cur.kind !== 'dir') {
        if (!unchanged) emit(path);
        continue;
      }
      if (old !== undefined && !same) {
        emit(path);
        out.push({ kind: 'opaque', path });
      } else if (!unchanged) emit(path);
      visit(path, same);
    }
  };
  visit('', true);
  for (const c of [...out]) {
    for (let p = c.path; p.includes('/'); ) {
      p = p.slice(0, p.lastIndexOf('/'));
      emit(p);
    }
  }
  return out;
}
