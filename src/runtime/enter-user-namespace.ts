/**
 * shale without root: the CLI runs as uid 0 of a user namespace of the caller's, with a mount namespace of
 * its own, so it can mount overlayfs (`userxattr`), give files any owner the namespace maps, and run runc
 * rootless. The caller is mapped to 0 and the first range of /etc/subuid and /etc/subgid to 1..N (through
 * newuidmap/newgidmap), so files of other owners (apt's `_apt`, `USER 1000`) keep their ids; without a range
 * only the caller's own id is mapped.
 *
 * One holder process (`sleep infinity`, detached) keeps the namespaces, as podman's pause process does:
 * every command joins the same ones (`nsenter`), so a detached container, its mounts and its processes
 * are seen and signalled by the commands that follow. Its pid is in `$XDG_RUNTIME_DIR/shale/userns.pid`
 * (or a private directory under the temp dir); killing it ends the namespace.
 *
 * This module runs before the CLI is loaded, in the caller's own namespace, and loads nothing heavy.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { isShaleError, ShaleError } from '../internal/errors.js';
import { withFileLock } from '../internal/lock.js';
import { selfCommand } from '../internal/self-command.js';

/** Commands that never touch a store: they run where they are. */
const NO_NAMESPACE = new Set(['lint', 'help']);

/** The command a CLI invocation names: its first argument that is not a global option (`--root DIR` included), when it is a word. */
export function commandOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--root') i++;
    else if (!args[i]!.startsWith('-')) return /^[a-z][a-z-]*$/.test(args[i]!) ? args[i] : undefined;
  }
  return undefined;
}

/** True when this CLI invocation should run in the user namespace: not root, and a command that uses a store. */
export function needsUserNamespace(args: string[]): boolean {
  if (process.getuid?.() === 0) return false;
  const command = commandOf(args);
  return command !== undefined && !NO_NAMESPACE.has(command) && !args.includes('--help') && !args.includes('-h');
}

/** A subordinate range of /etc/subuid or /etc/subgid: `start..start+count-1` are the caller's to map. */
interface SubRange {
  start: number;
  count: number;
}

/** The caller's first range in a subordinate id file (lines `name-or-id:start:count`). */
export function firstSubRange(text: string, names: string[]): SubRange | undefined {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who && names.includes(who) && /^\d+$/.test(start ?? '') && /^\d+$/.test(count ?? '') && Number(count) > 0) {
      return { start: Number(start), count: Number(count) };
    }
  }
  return undefined;
}

const onPath = (tool: string): boolean => (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).some((d) => d && existsSync(join(d, tool)));

/** The private directory of the caller's holder: the runtime dir, else one under the temp dir only they own. */
async function holderDir(): Promise<string> {
  const uid = process.getuid!();
  const dir = process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'shale') : join(tmpdir(), `shale-${uid}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new ShaleError('FAILED_PRECONDITION', `${dir} is not a private directory of uid ${uid}: shale keeps its user namespace's holder there`, {
      hint: 'remove it, or set XDG_RUNTIME_DIR to a directory of your own',
    });
  }
  return dir;
}

/** The holder's pid when that process still holds a user namespace of the caller's. */
function liveHolder(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return uid === String(process.getuid!()) && cmdline === 'sleep\0infinity\0' && readlinkSync(`/proc/${pid}/ns/user`) !== readlinkSync('/proc/self/ns/user');
  } catch {
    return false;
  }
}

async function readHolder(pidFile: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'latin1').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 && liveHolder(pid) ? pid : undefined;
}

/** unshare's arguments for the holder: the full map with a subordinate range, else the caller's id alone. */
function holderArgs(): { args: string[]; single: boolean } {
  const names = [userInfo().username, String(process.getuid!())];
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const uids = firstSubRange(read('/etc/subuid'), names);
  const gids = firstSubRange(read('/etc/subgid'), [userInfo().username, String(process.getgid!())]);
  const ns = ['--user', '--map-root-user', '--mount', '--propagation', 'slave'];
  const holder = ['sh', '-c', 'echo ready; exec sleep infinity </dev/null >/dev/null 2>&1'];
  if (uids && gids && onPath('newuidmap') && onPath('newgidmap')) {
    return { args: [...ns, `--map-users=${uids.start},1,${uids.count}`, `--map-groups=${gids.start},1,${gids.count}`, ...holder], single: false };
  }
  return { args: [...ns, ...holder], single: true };
}

/** Why unshare could not make the namespace, in words that say what to change. */
function refusal(stderr: string): ShaleError {
  const said = stderr.trim().split('\n').pop() ?? '';
  const sysctl = (name: string) => {
    try {
      return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'latin1').trim();
    } catch {
      return undefined;
    }
  };
  const why = 'shale without root needs a user namespace';
  if (sysctl('kernel.unprivileged_userns_clone') === '0') {
    return new ShaleError('FAILED_PRECONDITION', `${why}, and the kernel refuses them to ordinary users (kernel.unprivileged_userns_clone is 0)`, {
      hint: 'sysctl -w kernel.unprivileged_userns_clone=1 (as root), or run shale as root',
    });
  }
  if (/No space left on device/.test(said)) {
    const max = sysctl('user.max_user_namespaces');
    return new ShaleError('FAILED_PRECONDITION', `${why}, and the kernel allows no more (user.max_user_namespaces is ${max ?? 'unknown'}, or 32 are nested already): ${said}`, {
      hint: max === '0' ? 'sysctl -w user.max_user_namespaces=15000 (as root), or run shale as root' : 'raise user.max_user_namespaces (as root), or run shale as root',
    });
  }
  if (/newuidmap|newgidmap/.test(said)) {
    return new ShaleError('FAILED_PRECONDITION', `shale without root could not map your /etc/subuid and /etc/subgid ranges: ${said}`, {
      hint: 'check the ranges in /etc/subuid and /etc/subgid, and that newuidmap and newgidmap (Debian: uidmap) are setuid root',
    });
  }
  return new ShaleError('FAILED_PRECONDITION', `${why}, and the kernel refused one: ${said || 'unshare failed'}`, {
    hint: 'allow unprivileged user namespaces (a security policy, a seccomp filter or a chroot may forbid them), or run shale as root',
  });
}

/** Starts the holder and waits until its namespaces are mapped; returns its pid. */
function startHolder(): Promise<{ pid: number; single: boolean }> {
  const { args, single } = holderArgs();
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout!.on('data', () => {
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.unref();
      resolve({ pid: child.pid!, single });
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new ShaleError('FAILED_PRECONDITION', 'shale without root needs unshare (util-linux)', { hint: 'apt-get install -y util-linux uidmap' }) : e),
    );
    child.on('exit', () => reject(refusal(stderr)));
  });
}

/** The pid of the caller's holder, started when there is none (one at a time: a lock next to its pid file). */
async function holder(): Promise<number> {
  const dir = await holderDir();
  const pidFile = join(dir, 'userns.pid');
  const found = await readHolder(pidFile);
  if (found) return found;
  return withFileLock(join(dir, 'userns.lock'), async () => {
    const again = await readHolder(pidFile);
    if (again) return again;
    const { pid, single } = await startHolder();
    await writeFile(`${pidFile}.tmp`, `${pid}\n`);
    await rename(`${pidFile}.tmp`, pidFile);
    if (single) {
      process.stderr.write(`warning: no range for ${userInfo().username} in /etc/subuid and /etc/subgid (or no newuidmap): only your own id is mapped, so files of other owners (a chown, USER with another id, apt's _apt) cannot be made\n`);
    }
    return pid;
  });
}

/**
 * Runs this CLI invocation (its arguments `args`) again inside the caller's user namespace and ends with
 * its status. Signals that are not the terminal's (those reach both processes) are passed on.
 */
export async function runInUserNamespace(args: string[]): Promise<void> {
  let pid: number;
  try {
    pid = await holder();
  } catch (e) {
    if (!isShaleError(e)) throw e;
    process.stderr.write(`error: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
    process.exit(2);
  }
  const child = spawn('nsenter', [`--target=${pid}`, '--user', '--mount', '--preserve-credentials', `--wd=${process.cwd()}`, '--', ...selfCommand(), ...args], { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  const fromTerminal = process.stdin.isTTY === true;
  for (const sig of ['SIGTERM', 'SIGHUP', ...(fromTerminal ? [] : ['SIGINT', 'SIGQUIT'])] as NodeJS.Signals[]) process.on(sig, forward);
  if (fromTerminal) for (const sig of ['SIGINT', 'SIGQUIT'] as const) process.on(sig, () => undefined);
  child.on('error', (e) => {
    process.stderr.write(`error: cannot enter the user namespace: ${e.message}\nhint: apt-get install -y util-linux\n`);
    process.exit(2);
  });
  child.on('exit', (code, sig) => {
    if (sig) {
      process.removeAllListeners(sig);
      process.kill(process.pid, sig);
    }
    process.exit(code ?? 1);
  });
}
