/**
 * Ordinary users for the rootless tests, made (once, idempotently) by the root test runner: one with a
 * range in /etc/subuid and /etc/subgid, one without (the single-id map). Each gets a copy of the CLI it can
 * read (the checkout may be closed to other users), directories of its own that are removed after the
 * test, and its processes (the user namespace's holder, containers) are ended when the test ends.
 * Run shale as one with `shale(args, { root, user })` (test/support/shale.ts).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { commandOf, REPO_ROOT, spawnOptionsOf, type ShaleOptions, type ShaleResult, type ShaleUser } from './shale.js';
import { requireTool } from './tools.js';

/** The test users: `ranged` has a subordinate id range, `single` has none. */
export interface RootlessUsers {
  ranged: ShaleUser & { range: IdRange };
  single: ShaleUser;
}

/** `start..start+count-1`, as /etc/subuid writes it (`name:start:count`). */
export interface IdRange {
  start: number;
  count: number;
}

const RANGE_SIZE = 65536;

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Lines `name:start:count` of a subordinate id file. */
function subEntries(file: string): { who: string; start: number; count: number }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(':'))
    .filter((f) => f.length === 3 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!))
    .map(([who, start, count]) => ({ who: who!, start: Number(start), count: Number(count) }));
}

/** The user's first range in both files (they must agree), or undefined. */
function rangeOf(name: string, uid: number): IdRange | undefined {
  const mine = (file: string) => subEntries(file).find((e) => e.who === name || e.who === String(uid));
  const u = mine('/etc/subuid');
  const g = mine('/etc/subgid');
  return u && g && u.start === g.start && u.count === g.count ? { start: u.start, count: u.count } : undefined;
}

/** A range of RANGE_SIZE ids above every range either file gives anyone. */
function freeRange(): IdRange {
  const ends = [...subEntries('/etc/subuid'), ...subEntries('/etc/subgid')].map((e) => e.start + e.count);
  const start = Math.ceil(Math.max(100_000, ...ends) / RANGE_SIZE) * RANGE_SIZE;
  return { start, count: RANGE_SIZE };
}

function account(name: string): { uid: number; gid: number; home: string } | undefined {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const f = r.stdout.trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
}

/** The user `name`, made when missing; with `ranged`, given a subordinate range, else stripped of any. */
function ensureUser(name: string, ranged: boolean): { uid: number; gid: number; home: string; range?: IdRange } {
  // SUB_*_COUNT=0: useradd would otherwise pick a range itself; the ranges here are set explicitly
  if (!account(name)) run('useradd', ['-m', '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
  const acct = account(name);
  if (!acct) throw new Error(`useradd ${name} made no account`);
  for (const f of ['/etc/subuid', '/etc/subgid']) if (!existsSync(f)) writeFileSync(f, '', { mode: 0o644 });
  let range = rangeOf(name, acct.uid);
  const stray = subEntries('/etc/subuid').some((e) => e.who === name) || subEntries('/etc/subgid').some((e) => e.who === name);
  if (ranged && !range) {
    if (stray) run('sh', ['-c', `sed -i '/^${name}:/d' /etc/subuid /etc/subgid`]);
    range = freeRange();
    const ids = `${range.start}-${range.start + range.count - 1}`;
    run('usermod', ['--add-subuids', ids, '--add-subgids', ids, name]);
  } else if (!ranged && stray) {
    run('sh', ['-c', `sed -i '/^${name}:/d' /etc/subuid /etc/subgid`]);
    range = undefined;
  }
  return { ...acct, range };
}

const cliCopies = new Map<string, string>();

/**
 * A copy of bin/ (the shale launcher and the CLI entry), the dist/*.cjs bundles and package.json in a temp dir
 * owned by `user` (so the CLI can keep its code cache there); made once a process, removed at exit.
 */
function cliCopy(user: { name: string; uid: number; gid: number }): string {
  const hit = cliCopies.get(user.name);
  if (hit) return hit;
  const dir = mkdtempSync(join(tmpdir(), `shale-cli-${user.name}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist'));
  copyFileSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  for (const f of readdirSync(join(REPO_ROOT, 'bin'))) copyFileSync(join(REPO_ROOT, 'bin', f), join(dir, 'bin', f));
  const bundles = readdirSync(join(REPO_ROOT, 'dist')).filter((f) => f.endsWith('.cjs'));
  for (const f of bundles) copyFileSync(join(REPO_ROOT, 'dist', f), join(dir, 'dist', f));
  run('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
  run('chmod', ['-R', 'u=rwX,go=rX', dir]);
  const bin = join(dir, 'bin', 'shale');
  cliCopies.set(user.name, bin);
  return bin;
}

/**
 * The two test users, `name` (with a range) and `name-single`, made when missing; undefined (a skip, a
 * failure in CI) without root, useradd, newuidmap/newgidmap or runc. Their processes are ended when `t`
 * ends (and when this starts), so test files that run at once each take their own name.
 */
export function rootlessUsers(t: Pick<TestContext, 'skip' | 'after'>, name = 'shale-rl'): RootlessUsers | undefined {
  if (!requireTool(t, 'useradd') || !requireTool(t, 'newuidmap') || !requireTool(t, 'runc')) return undefined;
  const make = (name: string, ranged: boolean) => {
    const u = ensureUser(name, ranged);
    return { name, uid: u.uid, gid: u.gid, home: u.home, bin: cliCopy({ name, ...u }), range: u.range };
  };
  const ranged = make(name, true);
  const single = make(`${name}-single`, false);
  const users: RootlessUsers = { ranged: { ...ranged, range: ranged.range! }, single };
  // a holder or container left by an earlier, killed run would keep an old map: start clean
  endUserProcesses(users.ranged);
  endUserProcesses(users.single);
  t.after(() => {
    endUserProcesses(users.ranged);
    endUserProcesses(users.single);
  });
  return users;
}

/** Pids whose real uid is `uid` or in `range` (the ids a user namespace of that user maps). */
function processesOf(uid: number, range?: IdRange): number[] {
  const mine = (id: number) => id === uid || (range !== undefined && id >= range.start && id < range.start + range.count);
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const id = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'latin1'))?.[1];
        return id !== undefined && mine(Number(id));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * Ends every process of `user` (and of the ids its namespace maps): the namespace's holder, containers,
 * anything a failed test left; waits until they are gone (at most 10 s). Then removes the holder's
 * directory under the temp dir.
 */
export function endUserProcesses(user: ShaleUser & { range?: IdRange }): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = processesOf(user.uid, user.range);
    if (pids.length === 0) break;
    if (Date.now() > deadline) throw new Error(`processes of ${user.name} did not end: ${pids.join(' ')}`);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    spawnSync('sleep', ['0.05']);
  }
  rmSync(join(tmpdir(), `shale-${user.uid}`), { recursive: true, force: true });
}

/** A fresh directory owned by `user` (made by root, then chowned), removed when `t` ends. */
export function userDir(t: Pick<TestContext, 'after'>, user: ShaleUser, prefix = 'shale-rl-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chownSync(dir, user.uid, user.gid);
  return dir;
}

/** A fresh store location for `user` (in a directory of theirs; shale makes the store). */
export const userStore = (t: Pick<TestContext, 'after'>, user: ShaleUser): string => join(userDir(t, user, 'shale-rl-store-'), 'store');

/** Makes `dir` (made by root) readable by everyone: the users read build contexts and base tars there. */
export function openToAll(dir: string): string {
  chmodSync(dir, 0o755);
  run('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

/**
 * Runs shale as `opts.user` where the kernel refuses new user namespaces: in a user namespace of root's that
 * maps every id to itself (the user keeps their uid) and whose `user.max_user_namespaces` is 0. The limit
 * is that namespace's own, so the host's setting and every other process are left alone (and root needs
 * no CAP_SYS_RESOURCE on the host, which containers often drop).
 */
export async function shaleWithoutUserNamespaces(args: readonly string[], opts: ShaleOptions & { user: ShaleUser }): Promise<ShaleResult> {
  const { cwd, env } = spawnOptionsOf(opts);
  // unshare makes the namespace and runs sh in it; once root has written the maps, sh runs again as the
  // namespace's root (with its capabilities), sets the limit and becomes the user
  const inner = 'echo 0 > /proc/sys/user/max_user_namespaces && g=$1 && shift && exec setpriv --reuid="$0" --regid="$g" --clear-groups -- "$@"';
  const { file, argv } = commandOf(args, opts);
  const child = spawn('unshare', ['--user', '--', 'sh', '-c', `read go && exec sh -c '${inner}' "$@"`, 'sh', String(opts.user.uid), String(opts.user.gid), file, ...argv], {
    cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (status, signal) => resolve({ status, signal }));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const own = readlinkSync('/proc/self/ns/user');
    const deadline = Date.now() + 10_000;
    while (readlinkSync(`/proc/${child.pid}/ns/user`) === own) {
      if (Date.now() > deadline) throw new Error('unshare --user made no user namespace');
      await new Promise((r) => setTimeout(r, 10));
    }
    writeFileSync(`/proc/${child.pid}/uid_map`, '0 0 4294967295\n');
    writeFileSync(`/proc/${child.pid}/gid_map`, '0 0 4294967295\n');
    child.stdin!.end('go\n');
    return { ...(await exited), stdout, stderr };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
