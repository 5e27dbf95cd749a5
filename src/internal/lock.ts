import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { link, lstat, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { hasErrno, ShaleError } from './errors.js';

/** True while a process with this pid exists and has not exited (a zombie waiting to be reaped has). */
export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return !hasErrno(e, 'ESRCH');
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
};

/**
 * Who holds a lock. A pid names a process only within one PID namespace of one running kernel, and only
 * until it is reused: the owner is the kernel (boot ID), the PID namespace, the pid and the process's start
 * time, plus a random token that tells two holders apart byte for byte.
 */
export interface LockOwner {
  host: string;
  /** /proc/sys/kernel/random/boot_id: one per running kernel, the same in every container on it. */
  bootId?: string;
  /** readlink /proc/self/ns/pid, e.g. `pid:[4026531836]`. */
  pidNamespace?: string;
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot when the process started. */
  startTime?: string;
  token: string;
}

const readOr = (read: () => string): string | undefined => {
  try {
    return read().trim() || undefined;
  } catch {
    return undefined;
  }
};

/** The start time of `pid` as this PID namespace sees it, or undefined when there is no such process. */
function processStartTime(pid: number): string | undefined {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, 'latin1'));
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): a zombie has ended
  return fields[0] === 'Z' ? undefined : fields[19];
}

/** This process as a lock owner. */
export function currentOwner(): LockOwner {
  return {
    host: hostname(),
    bootId: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'latin1')),
    pidNamespace: readOr(() => readlinkSync('/proc/self/ns/pid')),
    pid: process.pid,
    startTime: processStartTime(process.pid),
    token: randomBytes(16).toString('hex'),
  };
}

let ownerOfThisProcess: LockOwner | undefined;

/** This process as the owner of what outlives a call (leases, ingestions): one token for its whole life. */
export function processOwner(): LockOwner {
  ownerOfThisProcess ??= currentOwner();
  return ownerOfThisProcess;
}

/**
 * True only when the owner is provably gone: it ran on this kernel in this PID namespace, and its pid is
 * now free or names a process that started at another time (the pid was reused). An owner on another
 * host, another boot or in another PID namespace cannot be checked from here, so it is never declared dead.
 */
export function ownerIsDead(owner: LockOwner, self: LockOwner = currentOwner()): boolean {
  if (!owner.bootId || !owner.pidNamespace || !owner.startTime) return false;
  if (owner.bootId !== self.bootId || owner.pidNamespace !== self.pidNamespace) return false;
  return processStartTime(owner.pid) !== owner.startTime;
}

/** The owner as the LOCKED error names it. */
export function describeOwner(owner: LockOwner | undefined, self: LockOwner = currentOwner()): string {
  if (!owner) return 'an unknown process (the lock file is unreadable)';
  const where =
    owner.bootId !== self.bootId
      ? `on host ${owner.host} (another machine or boot)`
      : owner.pidNamespace !== self.pidNamespace
        ? `on host ${owner.host} in another PID namespace (${owner.pidNamespace ?? 'unknown'}: a container sharing the store?)`
        : `on host ${owner.host}`;
  return `process ${owner.pid} ${where}`;
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const o = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || typeof o.token !== 'string' || typeof o.host !== 'string') return undefined;
    return o as LockOwner;
  } catch {
    return undefined;
  }
}

async function readOwner(path: string): Promise<{ owner?: LockOwner; raw: string } | undefined> {
  try {
    const raw = await readFile(path, 'utf8');
    return { owner: parseOwner(raw), raw };
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) return undefined;
    if (hasErrno(e, 'EISDIR')) return { raw: '' };
    throw e;
  }
}

/**
 * Creates `path` holding `owner`, atomically and only if it does not exist: the content is written to a
 * file of its own first and then hard-linked to `path` (link(2) fails when the name exists, also on NFS),
 * so a reader never sees a half-written owner. Returns false when `path` exists.
 */
async function tryCreate(path: string, owner: LockOwner): Promise<boolean> {
  const temp = `${path}.${owner.token}.new`;
  await writeFile(temp, JSON.stringify(owner), { mode: 0o644 });
  try {
    await link(temp, path);
    return true;
  } catch (e) {
    if (hasErrno(e, 'EEXIST')) return false;
    throw e;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Removes the lock file at `path` if it still holds exactly `staleRaw`. Only one process breaks a lock at a
 * time (the `.break` lock, itself owned as the main one is), so a lock taken again meanwhile is never removed.
 */
async function breakStale(path: string, staleRaw: string, self: LockOwner): Promise<boolean> {
  const breakPath = `${path}.break`;
  if (!(await tryCreate(breakPath, self))) {
    const holder = await readOwner(breakPath);
    // a breaker that died mid-break (a moment's window) is moved aside by whoever sees it dead first
    if (holder?.owner && ownerIsDead(holder.owner, self)) {
      const aside = `${breakPath}.${self.token}.stale`;
      await rename(breakPath, aside).catch(() => undefined);
      const moved = await readFile(aside, 'utf8').catch(() => undefined);
      if (moved !== undefined && moved !== holder.raw) await link(aside, breakPath).catch(() => undefined);
      await rm(aside, { force: true });
      return true;
    }
    return false; // another process is breaking it: wait
  }
  try {
    const now = await readOwner(path);
    if (now && now.raw === staleRaw) await unlink(path).catch(() => undefined);
    return true;
  } finally {
    await unlink(breakPath).catch(() => undefined);
  }
}

/**
 * Older versions locked with a directory holding a `pid` file. One whose pid is gone here is taken for
 * the leftover of a killed process on this host (those versions knew no better) and moved aside.
 */
async function breakLegacyDirLock(path: string, self: LockOwner): Promise<boolean> {
  if (!(await lstat(path).then((s) => s.isDirectory(), () => false))) return false;
  const pid = Number.parseInt(await readFile(`${path}/pid`, 'utf8').catch(() => ''), 10);
  if (!Number.isInteger(pid) || isProcessAlive(pid)) return false;
  const aside = `${path}.${self.token}.stale`;
  await rename(path, aside).then(() => rm(aside, { recursive: true, force: true }), () => undefined);
  return true;
}

/**
 * An exclusive lock between processes, also in other PID namespaces or on other hosts sharing the
 * directory: the file `path`, created atomically, names its owner (`LockOwner`). A lock whose owner is
 * provably dead (killed on this host, in this PID namespace) is broken; any other is waited for, and after
 * `timeoutMs` the LOCKED error names the owner.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const self = currentOwner();
  const started = Date.now();
  let wait = 5;
  for (;;) {
    if (await tryCreate(path, self)) break;
    const held = await readOwner(path);
    if (held === undefined) continue; // released meanwhile
    if (held.owner && ownerIsDead(held.owner, self) && (await breakStale(path, held.raw, self))) continue;
    if (!held.owner && (await breakLegacyDirLock(path, self))) continue;
    if (Date.now() - started > timeoutMs) {
      const isDir = await lstat(path).then((s) => s.isDirectory(), () => false);
      throw new ShaleError('LOCKED', `store is locked by ${isDir ? 'an older shale (a lock directory)' : describeOwner(held.owner, self)}: ${path}`, {
        hint: 'wait for the other shale process to finish; remove the lock file only when you know it has ended',
      });
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 200);
  }
  try {
    return await fn();
  } finally {
    // release only what is still ours
    const now = await readOwner(path).catch(() => undefined);
    if (now?.owner?.token === self.token) await unlink(path).catch(() => undefined);
  }
}
