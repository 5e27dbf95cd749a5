import { chmodSync, constants, copyFileSync, lchownSync, lstatSync, lutimesSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { TreeRecord } from './compare-trees.js';
import { makeNode, type NodeKind } from './make-node.js';
import { deviceNumbers, type FileInfo } from './scan-tree.js';
import { writeXattrTree, type XattrTree } from './xattr-tree.js';

const parentOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const seconds = (ns: bigint): number => Number(ns) / 1e9;

/** The names of each inode that has more than one name in the tree (directories never do), sorted. */
function linkGroups(record: TreeRecord): string[][] {
  const byInode = new Map<string, string[]>();
  for (const [path, info] of record.scan.entries) {
    if (info.nlink < 2 || info.kind === 'dir' || info.kind === 'socket') continue; // sockets stay out of layers
    const key = `${info.dev}:${info.ino}`;
    const names = byInode.get(key);
    if (names) names.push(path);
    else byInode.set(key, [path]);
  }
  return [...byInode.values()].filter((names) => names.length > 1).map((names) => names.sort());
}

/** Puts a new node at `abs` (which must not exist) with the type and content of `source` (described by `info`: no directory or socket). */
async function makeCopy(source: string, abs: string, info: FileInfo): Promise<void> {
  switch (info.kind) {
    case 'file':
      // A reflink where the file system has them, else an in-kernel copy.
      copyFileSync(source, abs, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      break;
    case 'symlink':
      symlinkSync(info.linkname ?? '', abs);
      break;
    default: {
      const { major, minor } = deviceNumbers(info.rdev);
      await makeNode(abs, info.kind as NodeKind, info.mode, major, minor);
    }
  }
}

/**
 * Gives every name of a multiply linked inode in the tree at `root` its own inode, the same in type,
 * content, owner, mode, mtime and xattrs as the original (which the first name in sorted order keeps); the
 * parent directories keep their times. Afterwards a change made through one name changes that name only,
 * as overlayfs copies up only the name touched of a lower layer's hard link. `record` must describe the
 * tree as it is; it is stale once this returns anything. Returns the paths that got a new inode.
 */
export async function separateHardLinks(root: string, record: TreeRecord): Promise<string[]> {
  const made: string[] = [];
  const xattrs: XattrTree = new Map();
  const parentTimes = new Map<string, { atime: Date; mtime: number }>();
  for (const [first, ...others] of linkGroups(record)) {
    for (const path of others) {
      const info = record.scan.entries.get(path)!;
      const parent = parentOf(path);
      if (!parentTimes.has(parent)) {
        const st = lstatSync(join(root, parent));
        parentTimes.set(parent, { atime: st.atime, mtime: seconds(record.scan.entries.get(parent)!.mtimeNs) });
      }
      const abs = join(root, path);
      unlinkSync(abs);
      await makeCopy(join(root, first!), abs, info);
      // chown clears setuid, setgid and file capabilities: mode and xattrs come after it.
      lchownSync(abs, info.uid, info.gid);
      if (info.kind !== 'symlink') chmodSync(abs, info.mode);
      const attrs = record.xattrs.get(path);
      if (attrs) xattrs.set(path, attrs);
      made.push(path);
    }
  }
  await writeXattrTree(root, xattrs);
  for (const path of made) {
    const { mtimeNs } = record.scan.entries.get(path)!;
    lutimesSync(join(root, path), seconds(mtimeNs), seconds(mtimeNs));
  }
  for (const [parent, { atime, mtime }] of parentTimes) lutimesSync(join(root, parent), atime, mtime);
  return made;
}
