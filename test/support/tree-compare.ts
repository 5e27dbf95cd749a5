/**
 * Compares root filesystems given as tars: both are extracted with the system tar (as root,
 * `--numeric-owner`, permissions kept) into temp dirs, then every path's type, mode, owner, size, content
 * hash, symlink target and hard-link group is compared.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shaleOk, uniqueSuffix } from './shale.js';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';
  /** Permission bits with setuid/setgid/sticky (mode & 0o7777), in octal. */
  mode: string;
  uid: number;
  gid: number;
  /** Bytes of a regular file; 0 otherwise. */
  size: number;
  sha256?: string;
  linkTarget?: string;
  /** The other paths of the tree that are the same inode (hard links), sorted; absent when none. */
  hardLinks?: string[];
}

/** Extracts a tar into `dir` (created) with GNU tar, as root, keeping numeric owners and modes. */
export function extractTar(tarPath: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['--numeric-owner', '--same-owner', '--same-permissions', '-xf', tarPath, '-C', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

const typeOf = (s: Stats): TreeEntry['type'] =>
  s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : s.isFIFO() ? 'fifo' : s.isCharacterDevice() ? 'char' : s.isBlockDevice() ? 'block' : 'socket';

/** Every path below `root` (relative, without the root itself) with what it is. */
export function treeOf(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const inodes = new Map<string, string[]>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(root, path);
      const s = lstatSync(full);
      const e: TreeEntry = { type: typeOf(s), mode: (s.mode & 0o7777).toString(8).padStart(4, '0'), uid: s.uid, gid: s.gid, size: 0 };
      if (e.type === 'file') {
        e.size = s.size;
        e.sha256 = createHash('sha256').update(readFileSync(full)).digest('hex');
      } else if (e.type === 'symlink') {
        e.linkTarget = readlinkSync(full);
      }
      if (e.type !== 'dir') {
        const key = `${s.dev}:${s.ino}`;
        inodes.set(key, [...(inodes.get(key) ?? []), path]);
      }
      out.set(path, e);
      if (e.type === 'dir') walk(path);
    }
  };
  walk('');
  for (const paths of inodes.values()) {
    if (paths.length < 2) continue;
    for (const p of paths) out.get(p)!.hardLinks = paths.filter((o) => o !== p).sort();
  }
  return out;
}

/** True when `path` is matched by an ignore pattern: an exact path, or `DIR/*` for everything below DIR. */
export function isIgnored(path: string, ignore: readonly string[]): boolean {
  return ignore.some((p) => path === p || (p.endsWith('/*') && path.startsWith(p.slice(0, -1))));
}

const FIELDS: (keyof TreeEntry)[] = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'linkTarget', 'hardLinks'];

/** The differences between two trees as readable lines; empty when equal. `a`/`b` name the sides. */
export function compareTrees(
  a: Map<string, TreeEntry>,
  b: Map<string, TreeEntry>,
  options: { ignore?: readonly string[]; names?: [string, string] } = {},
): string[] {
  const ignore = options.ignore ?? [];
  const [na, nb] = options.names ?? ['a', 'b'];
  const diffs: string[] = [];
  const paths = [...new Set([...a.keys(), ...b.keys()])].filter((p) => !isIgnored(p, ignore)).sort();
  for (const p of paths) {
    const x = a.get(p);
    const y = b.get(p);
    if (!x) {
      diffs.push(`${p}: only in ${nb} (${y!.type})`);
      continue;
    }
    if (!y) {
      diffs.push(`${p}: only in ${na} (${x.type})`);
      continue;
    }
    for (const f of FIELDS) {
      // hard-link groups are compared without the ignored paths
      const norm = (v: unknown) => (f === 'hardLinks' && Array.isArray(v) ? v.filter((q: string) => !isIgnored(q, ignore)).join(',') || undefined : v);
      const vx = norm(x[f]);
      const vy = norm(y[f]);
      if (JSON.stringify(vx) !== JSON.stringify(vy)) diffs.push(`${p}: ${f} ${na}=${JSON.stringify(vx)} ${nb}=${JSON.stringify(vy)}`);
    }
  }
  return diffs;
}

/**
 * Extracts both tars into temp dirs and compares them; the temp dirs are removed. Returns the difference
 * lines (empty when equal) and the two trees for further checks.
 */
export function compareTars(
  tarA: string,
  tarB: string,
  options: { ignore?: readonly string[] | ((a: Map<string, TreeEntry>, b: Map<string, TreeEntry>) => readonly string[]); names?: [string, string] } = {},
): { diffs: string[]; a: Map<string, TreeEntry>; b: Map<string, TreeEntry> } {
  const work = mkdtempSync(join(tmpdir(), 'shale-tree-'));
  try {
    extractTar(tarA, join(work, 'a'));
    extractTar(tarB, join(work, 'b'));
    const a = treeOf(join(work, 'a'));
    const b = treeOf(join(work, 'b'));
    const ignore = typeof options.ignore === 'function' ? options.ignore(a, b) : options.ignore;
    return { diffs: compareTrees(a, b, { ignore, names: options.names }), a, b };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Exports both images with `shale export` and returns the differences of their trees (empty when equal). */
export function exportDiffs(root: string, work: string, a: string, b: string): string[] {
  const ta = join(work, `export-${uniqueSuffix()}-a.tar`);
  const tb = join(work, `export-${uniqueSuffix()}-b.tar`);
  shaleOk(['export', a, '-o', ta], { root });
  shaleOk(['export', b, '-o', tb], { root });
  return compareTars(ta, tb, { names: [a, b] }).diffs;
}
