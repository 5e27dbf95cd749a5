import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasErrno, ShaleError } from '../internal/errors.js';
import type { SnapshotterKind } from './snapshotter.js';

/** Who made an active snapshot: a killed owner's snapshots are stale. */
export interface OwnerRecord {
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22), so a reused pid is not taken for the owner. */
  startTicks: number;
  kind: SnapshotterKind;
  /** Kept when the owner dies (a container's snapshot); removed only by its owner's record. */
  persistent?: boolean;
}

export const OWNER_FILE = 'owner.json';
const KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function checkKey(key: string): void {
  if (!KEY_RE.test(key)) {
    throw new ShaleError('INVALID_ARGUMENT', `snapshot key "${key}" is not valid`, {
      hint: 'use letters, digits, ".", "_" and "-" (at most 128, not starting with "." or "-")',
    });
  }
}

/** The start time of a process in clock ticks, or undefined when there is no such process. */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch (e) {
    if (hasErrno(e, 'ENOENT') || hasErrno(e, 'ESRCH')) return undefined;
    throw e;
  }
}

export async function ownerIsAlive(owner: OwnerRecord): Promise<boolean> {
  return (await processStartTicks(owner.pid)) === owner.startTicks;
}

export const activeRoot = (root: string): string => join(root, 'active');

/** A scratch name under active/ or layers/ that says which process made it: `.PREFIX-NAME-PID-RANDOM`. */
export const scratchName = (prefix: string, name: string): string =>
  `.${prefix}-${name}-${process.pid}-${randomBytes(4).toString('hex')}`;

/** The pid a scratch name carries, or undefined when the name is not one. */
export function scratchPid(name: string): number | undefined {
  const m = /^\.[a-z]+-.*-(\d+)-[0-9a-f]{8}$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Creates an active snapshot's directory under a scratch name, with its owner record, and hands back a
 * `commit` that renames it to `active/KEY` (ALREADY_EXISTS when the key is taken) and a `discard`.
 */
export async function createActiveDir(root: string, key: string, kind: SnapshotterKind, persistent = false) {
  checkKey(key);
  const parent = activeRoot(root);
  await mkdir(parent, { recursive: true });
  const final = join(parent, key);
  const scratch = join(parent, scratchName('new', key));
  await mkdir(scratch);
  const owner: OwnerRecord = { pid: process.pid, startTicks: (await processStartTicks(process.pid))!, kind, ...(persistent ? { persistent } : {}) };
  await writeFile(join(scratch, OWNER_FILE), `${JSON.stringify(owner)}\n`);
  return {
    dir: scratch,
    final,
    async commit(): Promise<string> {
      try {
        await rename(scratch, final);
      } catch (e) {
        if (hasErrno(e, 'ENOTEMPTY') || hasErrno(e, 'EEXIST')) {
          throw new ShaleError('ALREADY_EXISTS', `snapshot "${key}" already exists in ${parent}`, { hint: 'remove it first, or pick another key' });
        }
        throw e;
      }
      return final;
    },
    discard: () => rm(scratch, { recursive: true, force: true }),
  };
}

/** Renames an active dir out of the way, then deletes it, so a crash midway never leaves a half snapshot under its key. */
export async function deleteActiveDir(dir: string, key: string): Promise<void> {
  const doomed = join(dir, '..', scratchName('removing', key));
  try {
    await rename(dir, doomed);
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) return;
    throw e;
  }
  await rm(doomed, { recursive: true, force: true });
}

export async function readOwner(dir: string): Promise<OwnerRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as OwnerRecord;
  } catch {
    return undefined;
  }
}
