import { lstat, open, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { multiarchOf, readElfInfo, type ElfInfo } from './elf-info.js';

/**
 * The paths of an image a minified image keeps, each with why: the probe that touched it, the loader
 * rule, or `--include`. Paths are absolute container paths.
 */
export class KeptPaths {
  readonly reasons = new Map<string, Set<string>>();
  /** How the probes touched a path themselves (not as a link or directory on the way to another). */
  readonly accesses = new Map<string, Set<string>>();

  add(path: string, reason: string): void {
    const r = this.reasons.get(path);
    if (r) r.add(reason);
    else this.reasons.set(path, new Set([reason]));
  }

  noteAccess(path: string, kinds: readonly string[]): void {
    const a = this.accesses.get(path) ?? new Set<string>();
    for (const k of kinds) a.add(k);
    this.accesses.set(path, a);
  }

  has(path: string): boolean {
    return this.reasons.has(path);
  }
}

const MAX_LINKS = 40;

/**
 * Resolves a container path in `rootfs` as the kernel does (every symlink followed, the last one too
 * unless `followLast` is false), without ever leaving the rootfs. Returns every existing path met on the
 * way (the directories above, each symlink of the chain, the end) and the resolved end when it exists.
 */
export async function resolvePath(rootfs: string, path: string, followLast = true): Promise<{ met: string[]; end?: string }> {
  let parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let cur: string[] = [];
  const met: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const name = parts.shift()!;
    if (name === '..') {
      cur.pop();
      continue;
    }
    const p = `/${[...cur, name].join('/')}`;
    const st = await lstat(join(rootfs, p)).catch(() => undefined);
    if (!st) return { met };
    met.push(p);
    if (st.isSymbolicLink() && (parts.length > 0 || followLast)) {
      if (++links > MAX_LINKS) return { met };
      const target = await readlink(join(rootfs, p));
      if (target.startsWith('/')) cur = [];
      parts = [...target.split('/').filter((x) => x !== '' && x !== '.'), ...parts];
      continue;
    }
    cur.push(name);
  }
  return { met, end: `/${cur.join('/')}` };
}

/** Keeps a path with its symlink chain and the directories above; returns the resolved end when it exists. */
export async function keepPath(rootfs: string, kept: KeptPaths, path: string, reason: string): Promise<string | undefined> {
  const { met, end } = await resolvePath(rootfs, path);
  for (const p of met) kept.add(p, reason);
  return end;
}

/**
 * The loader rule: for every kept ELF file, its program interpreter (ld.so), /etc/ld.so.cache and its
 * DT_NEEDED libraries found as the loader finds them (DT_RPATH when there is no DT_RUNPATH, the image's
 * LD_LIBRARY_PATH, DT_RUNPATH, the directories of ld.so.conf, then the multiarch and default directories; a library of another class
 * or machine is passed over), recursively; for a kept script, its `#!` interpreter. Adds to `kept`.
 */
export async function keepLoaderNeeds(rootfs: string, kept: KeptPaths, options: { libraryPath?: string[] } = {}): Promise<void> {
  const reason = 'loader';
  const confDirs = await ldConfDirs(rootfs);
  const done = new Set<string>();
  const queue = [...kept.reasons.keys()];
  while (queue.length > 0) {
    const path = queue.pop()!;
    if (done.has(path)) continue;
    done.add(path);
    const host = join(rootfs, path);
    const st = await lstat(host).catch(() => undefined);
    if (!st?.isFile() || st.size < 4) continue;
    const head = await readHead(host, 256);
    const keepAndQueue = async (p: string) => {
      const end = await keepPath(rootfs, kept, p, reason);
      if (end) queue.push(end);
    };
    if (head.subarray(0, 2).toString() === '#!') {
      const interpreter = head.subarray(2).toString('utf8').split('\n')[0]!.trim().split(/\s+/)[0];
      if (interpreter?.startsWith('/')) await keepAndQueue(interpreter);
      continue;
    }
    if (head.readUInt32BE(0) !== 0x7f454c46) continue;
    const info = await readElfInfo(host).catch(() => undefined);
    if (!info) continue;
    if (info.interpreter) await keepAndQueue(info.interpreter);
    if (info.needed.length > 0) await keepAndQueue('/etc/ld.so.cache');
    for (const name of info.needed) {
      const found = await findLibrary(rootfs, name, path, info, { libraryPath: options.libraryPath ?? [], confDirs });
      if (found) await keepAndQueue(found);
    }
  }
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Where the loader finds library `name` needed by the object at `from`, or undefined. */
async function findLibrary(rootfs: string, name: string, from: string, info: ElfInfo, search: { libraryPath: string[]; confDirs: string[] }): Promise<string | undefined> {
  const origin = posix.dirname(from);
  if (name.includes('/')) return posix.resolve(origin, name);
  const expand = (d: string) => d.replace(/\$\{ORIGIN\}|\$ORIGIN/g, origin);
  const triplet = multiarchOf(info);
  const defaults = [...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []), ...(info.bits === 64 ? ['/lib64', '/usr/lib64'] : []), '/lib', '/usr/lib'];
  const dirs = [...(info.runpath.length === 0 ? info.rpath.map(expand) : []), ...search.libraryPath, ...info.runpath.map(expand), ...search.confDirs, ...defaults];
  for (const dir of dirs) {
    const candidate = posix.join(dir, name);
    const { end } = await resolvePath(rootfs, candidate);
    if (!end) continue;
    const lib = await readElfInfo(join(rootfs, end)).catch(() => undefined);
    if (lib && lib.bits === info.bits && lib.machine === info.machine) return candidate;
  }
  return undefined;
}

/** The directories /etc/ld.so.conf names (its `include` globs followed), as ldconfig puts them in the cache. */
async function ldConfDirs(rootfs: string): Promise<string[]> {
  const dirs: string[] = [];
  const seen = new Set<string>();
  const readConf = async (file: string, depth: number): Promise<void> => {
    if (depth > 8 || seen.has(file)) return;
    seen.add(file);
    const { end } = await resolvePath(rootfs, file);
    const text = end ? await readFile(join(rootfs, end), 'utf8').catch(() => '') : '';
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') continue;
      const inc = /^include\s+(.+)$/.exec(line);
      if (!inc) {
        dirs.push(...line.split(/[\s:,]+/).filter((d) => d.startsWith('/')));
        continue;
      }
      for (const pattern of inc[1]!.trim().split(/\s+/)) {
        const abs = posix.resolve(posix.dirname(file), pattern);
        for (const f of await globFiles(rootfs, abs)) await readConf(f, depth + 1);
      }
    }
  };
  await readConf('/etc/ld.so.conf', 0);
  return dirs;
}

/** The files a glob of one `*`-pattern file name in a plain directory names (ld.so.conf's `include`), sorted. */
async function globFiles(rootfs: string, pattern: string): Promise<string[]> {
  const dir = posix.dirname(pattern);
  const re = new RegExp(`^${posix.basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const { end } = await resolvePath(rootfs, dir);
  if (!end) return [];
  const names = await readdir(join(rootfs, end)).catch(() => [] as string[]);
  return names.filter((n) => re.test(n)).sort().map((n) => posix.join(dir, n));
}
