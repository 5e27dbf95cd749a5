import { chmod, lchown, link, lstat, mkdir, readdir, readlink, copyFile, rm, symlink, utimes, lutimes, stat } from 'node:fs/promises';
import { posix, join, basename } from 'node:path';
import { ShaleError, hasErrno } from '../internal/errors.js';
import { resolveInRoot } from '../snapshot/index.js';

/**
 * What a directory copy does with an entry below the source directory, given its path relative to
 * that directory: `copy` it (a directory with what is below it, each entry asked again), `skip` it
 * (a directory with everything below), or `descend` into a directory without copying it: it is
 * created, with its own metadata, only when something below it is copied.
 */
export type EntrySelector = (relToSource: string, isDir: boolean) => 'copy' | 'skip' | 'descend';

/** One COPY/ADD source after glob expansion: a host path and the name it has in the context. */
export interface SourcePath {
  hostPath: string;
  /** Path relative to the context (or source stage root), for .dockerignore and messages. */
  rel: string;
  /** Content the Dockerfile itself holds (a heredoc), not a path of the source tree. */
  inline?: boolean;
  /** For a directory source: which entries below it are copied (all when absent). */
  select?: EntrySelector;
}

export interface CopyOptions {
  /** Owner of everything copied and of directories the copy creates (root when absent). */
  owner?: { uid: number; gid: number };
  /** Mode for every copied file and directory (COPY --chmod). */
  mode?: number;
  /** Excludes paths below a directory source (.dockerignore), by context-relative path. */
  exclude?: (rel: string) => boolean;
}

/** Creates the missing directories of `hostDir` below `rootfs`, owned like the copy, mode 0755. */
async function mkdirOwned(hostDir: string, owner: { uid: number; gid: number }): Promise<void> {
  const missing: string[] = [];
  let d = hostDir;
  for (;;) {
    try {
      if (!(await stat(d)).isDirectory()) throw new ShaleError('INVALID_ARGUMENT', `cannot copy to ${d}: not a directory`);
      break;
    } catch (e) {
      if (!hasErrno(e, 'ENOENT')) throw e;
      missing.unshift(d);
      d = posix.dirname(d);
    }
  }
  for (const m of missing) {
    await mkdir(m, { mode: 0o755 });
    await chmod(m, 0o755);
    await lchown(m, owner.uid, owner.gid);
  }
}

/**
 * Copies sources into a container root filesystem by Docker's COPY rules: a file to `dest` (or into it
 * when `dest` ends in `/` or is a directory), a directory's contents into `dest`; several sources need a
 * directory destination. Modes and mtimes are kept, owners become `owner` (root by default), symlinks
 * inside directories are copied as symlinks, hard links within one copy stay linked.
 */
export async function copyIntoRootfs(rootfs: string, sources: SourcePath[], dest: string, options: CopyOptions = {}): Promise<void> {
  const owner = options.owner ?? { uid: 0, gid: 0 };
  const destIsDir = dest.endsWith('/') || sources.length > 1;
  if (sources.length > 1 && !dest.endsWith('/')) {
    throw new ShaleError('INVALID_ARGUMENT', `when using COPY with more than one source file, the destination must be a directory and end with a /`);
  }
  const links = new Map<string, string>();
  for (const src of sources) {
    const st = await stat(src.hostPath).catch((e) => {
      if (hasErrno(e, 'ENOENT')) throw new ShaleError('NOT_FOUND', `COPY source ${src.rel} does not exist`);
      throw e;
    });
    const destHost = await resolveInRoot(rootfs, dest);
    const existingDir = await stat(destHost).then((s) => s.isDirectory(), () => false);
    if (st.isDirectory()) {
      await mkdirOwned(destHost, owner);
      await copyTree({ from: src.hostPath, to: destHost, rel: src.rel, inSource: '', select: src.select }, options, owner, links, async () => {});
    } else {
      const target = destIsDir || existingDir ? posix.join(destHost, basename(src.rel === "." ? src.hostPath : src.rel)) : destHost;
      await mkdirOwned(posix.dirname(target), owner);
      await copyEntry(src.hostPath, target, options, owner, links, true);
    }
  }
}

interface TreeWalk {
  from: string;
  to: string;
  /** The directory's path in the context (for .dockerignore). */
  rel: string;
  /** The directory's path below the copied source directory ('' for the source itself). */
  inSource: string;
  select?: EntrySelector;
}

/**
 * Copies the entries of `walk.from` into `walk.to`. `ensureTo` makes `walk.to` exist first (a no-op
 * unless the directory is only being descended into); it runs before anything is copied into it.
 */
async function copyTree(
  walk: TreeWalk,
  options: CopyOptions,
  owner: { uid: number; gid: number },
  links: Map<string, string>,
  ensureTo: () => Promise<void>,
): Promise<void> {
  for (const name of (await readdir(walk.from)).sort()) {
    const childRel = walk.rel === '.' || walk.rel === '' ? name : `${walk.rel}/${name}`;
    if (options.exclude?.(childRel)) continue;
    const src = join(walk.from, name);
    const dst = join(walk.to, name);
    const st = await lstat(src);
    const inSource = walk.inSource === '' ? name : `${walk.inSource}/${name}`;
    const choice = walk.select?.(inSource, st.isDirectory()) ?? 'copy';
    if (choice === 'skip' || (choice === 'descend' && !st.isDirectory())) continue;
    const child: TreeWalk = { from: src, to: dst, rel: childRel, inSource, select: walk.select };
    if (!st.isDirectory()) {
      await ensureTo();
      await copyEntry(src, dst, options, owner, links, false);
      continue;
    }
    let made = false;
    const ensureDir = async () => {
      if (made) return;
      await ensureTo();
      const existing = await lstat(dst).catch(() => undefined);
      if (existing && !existing.isDirectory()) await rm(dst, { recursive: true, force: true });
      if (!existing?.isDirectory()) await mkdir(dst);
      made = true;
    };
    if (choice === 'copy') await ensureDir();
    await copyTree(child, options, owner, links, ensureDir);
    if (!made) continue;
    await lchown(dst, owner.uid, owner.gid); // before chmod: chown clears setuid bits
    await chmod(dst, options.mode ?? st.mode & 0o7777);
    await utimes(dst, st.atime, st.mtime);
  }
}

async function copyEntry(
  src: string,
  dst: string,
  options: CopyOptions,
  owner: { uid: number; gid: number },
  links: Map<string, string>,
  followSymlink: boolean,
): Promise<void> {
  const st = followSymlink ? await stat(src) : await lstat(src);
  const existing = await lstat(dst).catch(() => undefined);
  if (existing?.isDirectory() && !st.isDirectory()) await rm(dst, { recursive: true, force: true });
  else if (existing) await rm(dst, { force: true });
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dst);
    await lchown(dst, owner.uid, owner.gid);
    await lutimes(dst, st.atime, st.mtime);
    return;
  }
  if (!st.isFile()) throw new ShaleError('UNSUPPORTED', `COPY of ${src}: only files, directories and symlinks can be copied`);
  const key = `${st.dev}:${st.ino}`;
  const linked = st.nlink > 1 ? links.get(key) : undefined;
  if (linked) {
    await link(linked, dst);
    return;
  }
  await copyFile(src, dst);
  await lchown(dst, owner.uid, owner.gid);
  await chmod(dst, options.mode ?? st.mode & 0o7777);
  await utimes(dst, st.atime, st.mtime);
  if (st.nlink > 1) links.set(key, dst);
}
