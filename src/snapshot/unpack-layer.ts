import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { cleanHeaderPath, cleanLinkTarget, parseWhiteout, readTar, type TarHeader } from '../layer/index.js';
import { makeNode } from './make-node.js';
import { explainUnmappedOwner, inUserNamespace } from '../internal/user-namespace.js';
import { isOverlayXattr, OPAQUE_VALUE, OPAQUE_XATTR } from './overlay-marks.js';
import { writeXattrTree, type XattrTree } from './xattr-tree.js';

/**
 * `overlay`: the directory becomes one overlayfs lowerdir (whiteouts as 0:0 character devices, opaque
 * directories marked with the opaque xattr, OPAQUE_XATTR). `plain`: the layer is applied onto the tree already
 * in the directory (whiteouts delete, opaque markers empty), as a copy-based snapshotter needs.
 */
export type LayerFormat = 'overlay' | 'plain';

export interface UnpackOptions {
  format: LayerFormat;
  /** Names the layer in errors. */
  what?: string;
}

const parentOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};
const childOf = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);
const within = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

const lstatOrNull = (path: string): Stats | null => lstatSync(path, { throwIfNoEntry: false }) ?? null;

/**
 * Extracts one layer tar into `dir`, keeping type, mode (setuid, setgid, sticky too), owner, mtime, symlink
 * targets, hard links, fifos, device nodes and xattrs (overlay bookkeeping `*.overlay.*` from the tar is dropped: only
 * whiteout entries may make those).
 *
 * Safety: names with `..`, absolute names and NULs are refused (UNSAFE_PATH), and so is any entry or hard
 * link target whose parent path inside `dir` is a symlink; every parent component is checked with lstat,
 * so nothing is ever written outside `dir`. Hard link targets must already exist inside `dir`.
 *
 * Whiteouts and opaque markers act on what lower layers put there, never on this layer's own entries,
 * wherever they stand in the tar.
 *
 * File system calls are synchronous between reads of the tar: one at a time through the thread pool made
 * unpacking about 7 times slower than GNU tar (measured on a 1.1 GB, 55k-entry tar); see the README.
 */
export async function unpackLayer(tar: AsyncIterable<Uint8Array>, dir: string, options: UnpackOptions): Promise<void> {
  const u = new Unpacker(dir, options.format, options.what ?? 'layer');
  try {
    for await (const e of readTar(tar, { what: u.what })) await u.entry(e.header, e.body);
    await u.finish();
  } catch (e) {
    throw explainUnmappedOwner(e, { step: u.what, root: dir });
  } finally {
    u.dropTemplate();
  }
}

class Unpacker {
  /** Paths this layer wrote (entries), and the ancestors of those. */
  private readonly written = new Set<string>();
  private readonly touched = new Set<string>();
  /** Paths known to be real directories (never symlinks) during this unpack. */
  private readonly dirs = new Set<string>(['']);
  /** Overlay format: paths that are whiteout devices made by this layer. */
  private readonly whiteouts = new Set<string>();
  /** Applied at the end, once no more children are created: directory mtimes and xattrs. */
  private readonly dirTimes = new Map<string, number>();
  private readonly xattrs: XattrTree = new Map();
  /** Overlay format: one whiteout device the others are hard links of (as the kernel itself does). */
  private template?: string;
  /** The directory was empty at the start: a path this unpack has not made does not exist (no lstat needed). */
  private readonly fresh: boolean;
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;

  constructor(
    private readonly dir: string,
    private readonly format: LayerFormat,
    readonly what: string,
  ) {
    this.fresh = readdirSync(dir).length === 0;
  }

  private abs(p: string): string {
    return p === '' ? this.dir : join(this.dir, p);
  }

  /** lstat of a path, skipped (null) when the directory started empty and this unpack never made the path. */
  private stat(p: string): Stats | null {
    if (this.fresh && !this.written.has(p) && !this.touched.has(p) && !this.dirs.has(p) && !this.whiteouts.has(p)) return null;
    return lstatOrNull(this.abs(p));
  }

  private unsafe(entry: string, via: string): ShaleError {
    return new ShaleError('UNSAFE_PATH', `${this.what}: entry "${entry}" would be written through the symlink "${via}"`, {
      hint: 'the archive may be hostile; it was not applied',
    });
  }

  async entry(header: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const path = cleanHeaderPath(header, `${this.what}: entry`);
    const mark = parseWhiteout(path);
    if (mark?.kind === 'opaque') return this.opaque(mark.dir, path);
    if (mark) return this.whiteout(mark.target, path);

    // symlink(2) refuses an empty target
    if (header.type === 'symlink' && header.linkname === '') throw new ShaleError('CORRUPT_INPUT', `${this.what}: symlink "${path}" has an empty target`);
    let linkTarget = '';
    if (header.type === 'hardlink') {
      linkTarget = cleanLinkTarget(header.linkname, path);
      if (linkTarget === path) throw new ShaleError('CORRUPT_INPUT', `${this.what}: hard link "${path}" points to itself`);
    }
    if (path !== '') this.ensureDir(parentOf(path), path);
    if (header.type === 'hardlink') this.checkLinkTarget(linkTarget, path);

    const abs = this.abs(path);
    const existing = path === '' ? lstatOrNull(abs) : this.stat(path);
    const wasWhiteout = this.whiteouts.delete(path);
    const merge = header.type === 'dir' && existing?.isDirectory() === true;
    if (existing && !merge) this.removePath(path, existing.isDirectory());
    // A node this unpack just made is owned by us already: chown only when the header says otherwise.
    const chownNeeded = merge || header.uid !== this.euid || header.gid !== this.egid;
    const mode = header.mode & 0o7777;
    // A user namespace cannot make device nodes (but whiteouts): they are left out of the tree, as Docker's
    // rootless mode does; the stored layer keeps them, and a container's /dev is its own tmpfs.
    if ((header.type === 'char' || header.type === 'block') && inUserNamespace() && (header.type === 'block' || header.devmajor !== 0 || header.devminor !== 0)) return;

    switch (header.type) {
      case 'dir':
        if (!merge) mkdirSync(abs);
        this.dirs.add(path);
        break;
      case 'file': {
        const fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const c of body) {
            for (let off = 0; off < c.length; ) off += writeSync(fd, c, off, c.length - off);
          }
          // chown clears setuid/setgid, so the mode comes after it.
          if (chownNeeded) fchownSync(fd, header.uid, header.gid);
          fchmodSync(fd, mode);
          futimesSync(fd, header.mtime, header.mtime);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink':
        symlinkSync(header.linkname, abs);
        break;
      case 'hardlink':
        linkSync(this.abs(linkTarget), abs);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        await makeNode(abs, header.type, header.mode, header.devmajor, header.devminor);
        break;
    }

    if (header.type !== 'hardlink' && header.type !== 'file') {
      if (chownNeeded) lchownSync(abs, header.uid, header.gid);
      if (header.type !== 'symlink') chmodSync(abs, mode);
      if (header.type === 'dir') this.dirTimes.set(path, header.mtime);
      else lutimesSync(abs, header.mtime, header.mtime);
    }
    if (header.type !== 'hardlink') {
      // A directory keeps an opaque mark this layer already gave it; otherwise the entry's xattrs replace any.
      const keep = Object.entries(header.xattrs ?? {}).filter(([k]) => !isOverlayXattr(k));
      const opaque = header.type === 'dir' ? this.xattrs.get(path)?.[OPAQUE_XATTR] : undefined;
      const attrs = { ...(opaque ? { [OPAQUE_XATTR]: opaque } : {}), ...Object.fromEntries(keep) };
      if (Object.keys(attrs).length > 0) this.xattrs.set(path, attrs);
      else this.xattrs.delete(path);
    }
    // A whiteout of this layer hid what lower layers had at this name; a directory put there must keep hiding it.
    if (wasWhiteout && header.type === 'dir') this.markOpaque(path);
    this.markWritten(path);
  }

  private markWritten(path: string): void {
    this.written.add(path);
    for (let p = path; p !== ''; ) {
      p = parentOf(p);
      if (this.touched.has(p)) break;
      this.touched.add(p);
    }
  }

  private markOpaque(path: string): void {
    this.xattrs.set(path, { ...(this.xattrs.get(path) ?? {}), [OPAQUE_XATTR]: OPAQUE_VALUE });
  }

  /**
   * Makes `path` a real directory, creating missing components (mode 0755, owned by us) and replacing a
   * non-directory in the way; a symlink in the way is UNSAFE_PATH.
   */
  private ensureDir(path: string, entry: string): void {
    if (this.dirs.has(path)) return;
    this.ensureDir(parentOf(path), entry);
    const st = this.stat(path);
    if (st?.isDirectory()) {
      this.dirs.add(path);
      return;
    }
    if (st?.isSymbolicLink()) throw this.unsafe(entry, path);
    const wasWhiteout = this.whiteouts.delete(path);
    if (st) this.removePath(path, false);
    mkdirSync(this.abs(path));
    chmodSync(this.abs(path), 0o755);
    if (wasWhiteout) this.markOpaque(path);
    this.dirs.add(path);
  }

  /** True when `path` and all its parents are real directories (no symlinks, nothing missing). */
  private isRealDir(path: string): boolean {
    if (this.dirs.has(path)) return true;
    if (!this.isRealDir(parentOf(path))) return false;
    if (!this.stat(path)?.isDirectory()) return false;
    this.dirs.add(path);
    return true;
  }

  /** A hard link target must be an existing non-directory reached through real directories only. */
  private checkLinkTarget(target: string, entry: string): void {
    const notAFile = () =>
      new ShaleError(
        'CORRUPT_INPUT',
        `${this.what}: hard link "${entry}" points to "${target}", which is not a file ${this.format === 'overlay' ? 'of this layer' : 'in the tree'}`,
        { hint: this.format === 'overlay' ? 'a layer unpacked on its own can link only to its own files' : undefined },
      );
    const parent = parentOf(target);
    let at = '';
    for (const part of parent === '' ? [] : parent.split('/')) {
      at = childOf(at, part);
      if (this.dirs.has(at)) continue;
      const st = this.stat(at);
      if (st?.isSymbolicLink()) throw this.unsafe(`${entry} (hard link target "${target}")`, at);
      if (!st?.isDirectory()) throw notAFile();
      this.dirs.add(at);
    }
    const st = this.stat(target);
    if (!st || st.isDirectory()) throw notAFile();
  }

  /** Removes a path and forgets what this unpack knew about it and below it. */
  private removePath(path: string, isDir: boolean): void {
    rmSync(this.abs(path), { recursive: true, force: true });
    const sets: (Set<string> | Map<string, unknown>)[] = [this.dirs, this.whiteouts, this.dirTimes, this.xattrs, this.written, this.touched];
    for (const s of sets) {
      s.delete(path);
      if (isDir) for (const k of s.keys()) if (within(k, path)) s.delete(k);
    }
  }

  /** Plain format: removes a lower path (keeping its parent's mtime), or, inside this layer's entries, what lower layers left below them. */
  private prune(path: string): void {
    const st = lstatOrNull(this.abs(path));
    if (!st) return;
    if (this.written.has(path) || this.touched.has(path)) {
      if (st.isDirectory()) for (const name of readdirSync(this.abs(path))) this.prune(childOf(path, name));
      return;
    }
    const parent = lstatSync(this.abs(parentOf(path)));
    this.removePath(path, st.isDirectory());
    lutimesSync(this.abs(parentOf(path)), parent.atime, parent.mtime);
  }

  private async whiteout(target: string, entry: string): Promise<void> {
    if (target === '' || target.endsWith('/')) throw new ShaleError('CORRUPT_INPUT', `${this.what}: whiteout "${entry}" names nothing`);
    if (this.format === 'plain') {
      if (this.isRealDir(parentOf(target))) this.prune(target);
      return;
    }
    if (this.written.has(target) || this.touched.has(target)) {
      // This layer has its own entry there: a file already hides the lower one, a directory must be opaque.
      if (this.dirs.has(target)) this.markOpaque(target);
      return;
    }
    if (this.whiteouts.has(target)) return;
    this.ensureDir(parentOf(target), entry);
    const st = this.stat(target);
    if (st) this.removePath(target, st.isDirectory()); // only whiteouts of this layer live there
    if (!this.template) {
      this.template = `.shale-whiteout-${process.pid}-${randomBytes(6).toString('hex')}`;
      await makeNode(this.abs(this.template), 'char', 0, 0, 0);
    }
    linkSync(this.abs(this.template), this.abs(target));
    this.whiteouts.add(target);
  }

  private opaque(dir: string, entry: string): void {
    if (this.format === 'overlay') {
      this.ensureDir(dir, entry);
      this.markOpaque(dir);
      return;
    }
    if (!this.isRealDir(dir)) return;
    for (const name of readdirSync(this.abs(dir))) this.prune(childOf(dir, name));
  }

  async finish(): Promise<void> {
    this.dropTemplate();
    await writeXattrTree(this.dir, this.xattrs);
    for (const [p, t] of this.dirTimes) lutimesSync(this.abs(p), t, t);
  }

  dropTemplate(): void {
    if (!this.template) return;
    try {
      unlinkSync(this.abs(this.template));
    } catch {
      // already gone
    }
    this.template = undefined;
  }
}
