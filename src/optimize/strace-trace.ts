import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Reads the output of `strace -f -y --pidns-translation` run around `runc run` and finds the paths the
 * container's own processes touched. The container's first process is the runc process that did
 * `pivot_root`, from its first successful `execve` on (before that it is runc setting the container up);
 * every process it and its descendants clone belongs to the container, runc's own threads do not. Paths
 * are then as the container sees them: relative ones are resolved against the directory strace shows
 * for the `*at()` call's dirfd (`3</dir>`, `AT_FDCWD</cwd>`), else the process's last known cwd.
 */

/** How a path was touched. */
export type Access = 'exec' | 'open' | 'stat' | 'readlink' | 'access' | 'list' | 'chdir' | 'other';

/** The strace options this reader expects (before `-o FILE` and the traced command). */
export const STRACE_OPTIONS = ['-f', '-qq', '-y', '--pidns-translation', '-s', '4096', '-e', 'trace=%file,%process,fchdir,getdents,getdents64', '-e', 'signal=none'];

/** One syscall line: pid, name, its arguments as strace printed them, and the return value text. */
export interface SyscallLine {
  pid: number;
  name: string;
  args: string[];
  ret: string;
}

/**
 * The syscall lines of a trace, an `<unfinished ...>` call joined with its `<... resumed>` rest; exit
 * and signal lines are left out. Reads the trace's lines as they come (a trace can be large).
 */
export async function* syscallLines(rawLines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<SyscallLine> {
  const pending = new Map<number, string>();
  for await (const raw of rawLines) {
    const m = /^(\d+)\s+(.*)$/.exec(raw);
    if (!m) continue;
    const pid = Number(m[1]);
    let body = m[2]!;
    if (body.startsWith('+++') || body.startsWith('---')) continue;
    const resumed = /^<\.\.\. [\w]+ resumed>(.*)$/.exec(body);
    if (resumed) {
      const head = pending.get(pid);
      pending.delete(pid);
      if (head === undefined) continue;
      body = head + resumed[1]!;
    }
    if (body.endsWith(' <unfinished ...>')) {
      pending.set(pid, body.slice(0, -' <unfinished ...>'.length));
      continue;
    }
    const parsed = parseCall(body);
    if (parsed) yield { pid, ...parsed };
  }
}

/** `name(arg, arg, ...) = ret`: the arguments split at top-level commas (quotes, brackets and `<...>` fd paths respected). */
export function parseCall(body: string): { name: string; args: string[]; ret: string } | undefined {
  const open = body.indexOf('(');
  if (open <= 0 || !/^\w+$/.test(body.slice(0, open))) return undefined;
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  let i = open + 1;
  for (; i < body.length; i++) {
    const c = body[i]!;
    if (c === '"' || (c === '<' && /[\dD]$/.test(body.slice(start, i)))) {
      // a string, or the path strace appends to an fd (`3</x>`, `AT_FDCWD</x>`): runs to its closing mark
      const close = c === '"' ? '"' : '>';
      for (i++; i < body.length && body[i] !== close; i++) if (body[i] === '\\') i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    else if (c === ')' && depth === 0) break;
    else if (c === ',' && depth === 0) {
      args.push(body.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (i >= body.length) return undefined;
  const last = body.slice(start, i).trim();
  if (last !== '' || args.length > 0) args.push(last);
  const ret = /^\)\s*=\s*(.*)$/.exec(body.slice(i))?.[1];
  if (ret === undefined) return undefined;
  return { name: body.slice(0, open), args, ret };
}

/** The bytes of a C-escaped strace string body (`\"`, `\\`, `\n`, `\xHH`, `\ooo`), as UTF-8 text. */
export function unescapeStrace(s: string): string {
  const bytes: number[] = [];
  const named: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, a: 7, b: 8, e: 27 };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const n = s[++i]!;
    if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(n)) {
      const oct = /^[0-7]{1,3}/.exec(s.slice(i))![0];
      bytes.push(parseInt(oct, 8));
      i += oct.length - 1;
    } else bytes.push(named[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A quoted string argument's text, or undefined (not a string, or cut short by strace: `"..."...`). */
function stringArg(arg: string | undefined): string | undefined {
  if (!arg || !arg.startsWith('"') || arg.endsWith('...')) return undefined;
  const m = /^"((?:[^"\\]|\\.)*)"$/s.exec(arg);
  return m ? unescapeStrace(m[1]!) : undefined;
}

/** The path strace shows for an fd argument (`3</etc>`, `AT_FDCWD</>`), when it is a container path. */
export function fdPath(arg: string | undefined): string | undefined {
  const m = arg ? /^(?:\d+|AT_FDCWD)<((?:[^>\\]|\\.)*)>/.exec(arg) : undefined;
  if (!m) return undefined;
  const p = unescapeStrace(m[1]!);
  return p.startsWith('/') && !p.endsWith(' (deleted)') ? p : undefined;
}

/**
 * Which arguments of a syscall are paths: [dirfd argument or -1, path argument] pairs, and how they are
 * touched. Calls not listed touch no path this reader keeps.
 */
const PATH_ARGS: Record<string, { pairs: [number, number][]; access: Access }> = {
  execve: { pairs: [[-1, 0]], access: 'exec' },
  execveat: { pairs: [[0, 1]], access: 'exec' },
  open: { pairs: [[-1, 0]], access: 'open' },
  creat: { pairs: [[-1, 0]], access: 'open' },
  openat: { pairs: [[0, 1]], access: 'open' },
  openat2: { pairs: [[0, 1]], access: 'open' },
  stat: { pairs: [[-1, 0]], access: 'stat' },
  lstat: { pairs: [[-1, 0]], access: 'stat' },
  stat64: { pairs: [[-1, 0]], access: 'stat' },
  lstat64: { pairs: [[-1, 0]], access: 'stat' },
  newfstatat: { pairs: [[0, 1]], access: 'stat' },
  fstatat64: { pairs: [[0, 1]], access: 'stat' },
  statx: { pairs: [[0, 1]], access: 'stat' },
  statfs: { pairs: [[-1, 0]], access: 'stat' },
  readlink: { pairs: [[-1, 0]], access: 'readlink' },
  readlinkat: { pairs: [[0, 1]], access: 'readlink' },
  access: { pairs: [[-1, 0]], access: 'access' },
  faccessat: { pairs: [[0, 1]], access: 'access' },
  faccessat2: { pairs: [[0, 1]], access: 'access' },
  chdir: { pairs: [[-1, 0]], access: 'chdir' },
  getxattr: { pairs: [[-1, 0]], access: 'stat' },
  lgetxattr: { pairs: [[-1, 0]], access: 'stat' },
  listxattr: { pairs: [[-1, 0]], access: 'stat' },
  llistxattr: { pairs: [[-1, 0]], access: 'stat' },
  truncate: { pairs: [[-1, 0]], access: 'other' },
  chmod: { pairs: [[-1, 0]], access: 'other' },
  fchmodat: { pairs: [[0, 1]], access: 'other' },
  chown: { pairs: [[-1, 0]], access: 'other' },
  lchown: { pairs: [[-1, 0]], access: 'other' },
  fchownat: { pairs: [[0, 1]], access: 'other' },
  utimensat: { pairs: [[0, 1]], access: 'other' },
  rename: { pairs: [[-1, 0], [-1, 1]], access: 'other' },
  renameat: { pairs: [[0, 1], [2, 3]], access: 'other' },
  renameat2: { pairs: [[0, 1], [2, 3]], access: 'other' },
  link: { pairs: [[-1, 0]], access: 'other' },
  linkat: { pairs: [[0, 1]], access: 'other' },
  unlink: { pairs: [[-1, 0]], access: 'other' },
  unlinkat: { pairs: [[0, 1]], access: 'other' },
  mkdir: { pairs: [[-1, 0]], access: 'other' },
  mkdirat: { pairs: [[0, 1]], access: 'other' },
  rmdir: { pairs: [[-1, 0]], access: 'other' },
  chroot: { pairs: [[-1, 0]], access: 'other' },
};

const CLONES = new Set(['clone', 'clone3', 'fork', 'vfork']);

/** The host pid a clone returned: the translated one (`7 /* 9989 in strace's PID NS *\/`), else the number. */
function clonedPid(ret: string): number | undefined {
  const m = /^(\d+)(?:\s*\/\*\s*(\d+) in strace's PID NS\s*\*\/)?/.exec(ret);
  if (!m) return undefined;
  return Number(m[2] ?? m[1]);
}

const succeeded = (ret: string): boolean => !/^-1\b/.test(ret) && !ret.startsWith('?');

/** A path the container touched and how (the first access kinds seen, in order). */
export interface TouchedPath {
  path: string;
  accesses: Access[];
}

/**
 * The paths the container's processes touched, absolute and normalised, in the order first seen. `cwd`
 * is the container's working directory when it started. `open` gives the trace's lines, and is called
 * twice: the first pass finds the container's processes, the second their paths.
 */
export async function containerPaths(open: () => AsyncIterable<string> | Iterable<string>, cwd = '/'): Promise<TouchedPath[]> {
  const children = new Map<number, number[]>();
  let init: number | undefined;
  let initExec = -1;
  const pivoted = new Set<number>();
  let index = 0;
  for await (const l of syscallLines(open())) {
    // runc enters the rootfs with pivot_root (or chroot where it cannot pivot)
    if ((l.name === 'pivot_root' || l.name === 'chroot') && succeeded(l.ret)) pivoted.add(l.pid);
    else if ((l.name === 'execve' || l.name === 'execveat') && init === undefined && pivoted.has(l.pid) && succeeded(l.ret)) {
      init = l.pid;
      initExec = index;
    } else if (CLONES.has(l.name) && succeeded(l.ret)) {
      const child = clonedPid(l.ret);
      if (child !== undefined) children.set(l.pid, [...(children.get(l.pid) ?? []), child]);
    }
    index++;
  }
  if (init === undefined) return [];
  const inContainer = new Set<number>([init]);
  for (const queue = [init]; queue.length > 0; ) {
    for (const c of children.get(queue.pop()!) ?? []) {
      if (!inContainer.has(c)) {
        inContainer.add(c);
        queue.push(c);
      }
    }
  }
  const cwds = new Map<number, string>([[init, cwd]]);
  const found = new Map<string, Access[]>();
  const touch = (path: string, access: Access) => {
    const list = found.get(path);
    if (!list) found.set(path, [access]);
    else if (!list.includes(access)) list.push(access);
  };
  index = 0;
  for await (const l of syscallLines(open())) {
    if (index++ < initExec || !inContainer.has(l.pid)) continue;
    const here = cwds.get(l.pid) ?? '/';
    if (CLONES.has(l.name)) {
      const child = clonedPid(l.ret);
      if (child !== undefined && !cwds.has(child)) cwds.set(child, here);
      continue;
    }
    // every AT_FDCWD strace annotates tells the process's cwd
    for (const a of l.args) if (a.startsWith('AT_FDCWD<')) cwds.set(l.pid, fdPath(a) ?? here);
    if (l.name === 'getdents' || l.name === 'getdents64') {
      const dir = fdPath(l.args[0]);
      if (dir) touch(dir, 'list');
      continue;
    }
    if (l.name === 'fchdir') {
      const dir = fdPath(l.args[0]);
      if (dir && succeeded(l.ret)) cwds.set(l.pid, dir);
      continue;
    }
    const spec = PATH_ARGS[l.name];
    if (!spec) continue;
    for (const [dirArg, pathArg] of spec.pairs) {
      const p = stringArg(l.args[pathArg]);
      if (p === undefined || p === '') continue;
      const base = dirArg >= 0 ? (fdPath(l.args[dirArg]) ?? (l.args[dirArg]?.startsWith('AT_FDCWD') ? cwds.get(l.pid) : undefined)) : cwds.get(l.pid);
      if (!p.startsWith('/') && base === undefined) continue;
      const abs = posix.resolve(base ?? '/', p);
      touch(abs, spec.access);
      if (l.name === 'chdir' && succeeded(l.ret)) cwds.set(l.pid, abs);
    }
  }
  return [...found].map(([path, accesses]) => ({ path, accesses }));
}

/** The lines of a file, read as a stream. */
export function fileLines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
}
