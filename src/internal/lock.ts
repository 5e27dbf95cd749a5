import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
 * An exclusive lock between processes: a directory created atomically, holding the owner's pid.
 * A lock whose owner died (a killed process) is taken over.
 */
export async function withDirLock<T>(lockDir: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const started = Date.now();
  let wait = 5;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (e) {
      if (!hasErrno(e, 'EEXIST')) throw e;
    }
    const owner = Number.parseInt(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => ''), 10);
    if (Number.isFinite(owner) && owner !== process.pid && !isProcessAlive(owner)) {
      // The owner is gone: move its lock aside atomically so only one taker wins.
      const stale = `${lockDir}.stale.${process.pid}`;
      await rename(lockDir, stale).then(() => rm(stale, { recursive: true, force: true }), () => undefined);
      continue;
    }
    if (Date.now() - started > timeoutMs) {
      throw new ShaleError('LOCKED', `store is locked by process ${Number.isFinite(owner) ? owner : '?'} (${lockDir})`, {
        hint: 'wait for the other shale process to finish',
      });
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 200);
  }
  try {
    await writeFile(join(lockDir, 'pid'), String(process.pid));
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
