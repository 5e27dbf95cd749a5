/**
 * The store lock's owner is more than a pid: a holder in another PID namespace (a container sharing the
 * store) or on another host is waited for, never broken; a holder provably dead on this host is.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { isShaleError } from './errors.js';
import { currentOwner, isProcessAlive, withFileLock, type LockOwner } from './lock.js';

const LOCK_MODULE = fileURLToPath(new URL('./lock.js', import.meta.url));

function tempLock(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'shale-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'lock');
}

/** Tries to take the lock for `ms`; returns the LOCKED error's message, or fails when the lock was taken. */
async function lockedMessage(path: string, ms = 300): Promise<string> {
  let ran = false;
  const err = await withFileLock(path, async () => {
    ran = true;
  }, ms).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(ran, false, 'the lock was taken from its owner');
  assert.ok(isShaleError(err, 'LOCKED'), `expected a LOCKED error, got ${String(err)}`);
  return err.message;
}

const startTimeOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};

const writeOwner = (path: string, owner: LockOwner) => writeFileSync(path, JSON.stringify(owner));

test('a holder in another PID namespace whose pid is free here is waited for, not broken; the error names it', async (t) => {
  if (process.getuid?.() !== 0 || spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status !== 0) {
    if (process.env.CI === 'true') assert.fail('unshare --pid needs root (CI=true: this test must run)');
    t.skip('unshare --pid is not available');
    return;
  }
  const path = tempLock(t);
  // the holder's pid (inside its namespace) is one no process has out here, so a pid-only check would call it dead
  let pid = 30_000;
  while (isProcessAlive(pid)) pid--;
  const script = `import(${JSON.stringify(LOCK_MODULE)}).then((m) => m.withFileLock(${JSON.stringify(path)}, () => { console.log('held', process.pid); setInterval(() => {}, 1000); return new Promise(() => {}); }))`;
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid; ${JSON.stringify(process.execPath)} -e "$0" & wait $!`, script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  const held = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`the holder exited (${code}) before taking the lock`)));
  });
  assert.equal(held, `held ${pid}`, 'the holder runs with the chosen pid in its namespace');
  const owner = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  assert.equal(owner.pid, pid);
  assert.equal(isProcessAlive(pid), false, 'out here no process has that pid');
  assert.notEqual(owner.pidNamespace, currentOwner().pidNamespace);
  assert.equal(owner.bootId, currentOwner().bootId);

  const message = await lockedMessage(path);
  assert.match(message, new RegExp(`^store is locked by process ${pid} on host \\S+ in another PID namespace \\(pid:\\[\\d+\\]: a container sharing the store\\?\\): `));
  assert.ok(existsSync(path), 'the lock is still there');

  // killed in its namespace, the holder leaves its file: from here it cannot be proven dead, so it is still waited for
  child.kill('SIGKILL'); // unshare blocks SIGTERM; --kill-child takes its namespace down with it
  await new Promise((r) => child.on('close', r));
  assert.match(await lockedMessage(path, 50), /another PID namespace/);
});

test('a holder on another host or boot is never broken; the error says where it is', async (t) => {
  const path = tempLock(t);
  writeOwner(path, { ...currentOwner(), host: 'builder-7', bootId: '00000000-0000-0000-0000-000000000000', pid: 424242 });
  assert.match(await lockedMessage(path), /^store is locked by process 424242 on host builder-7 \(another machine or boot\): /);
});

test('a holder on this host and in this PID namespace is broken only when provably dead', async (t) => {
  const path = tempLock(t);
  const self = currentOwner();

  await t.test('alive, the same process (its start time matches): waited for', async () => {
    writeOwner(path, { ...self, pid: process.ppid, startTime: startTimeOf(process.ppid), token: 'parent' });
    assert.match(await lockedMessage(path), new RegExp(`^store is locked by process ${process.ppid} on host `));
  });

  await t.test('the pid now names a process that started at another time (reused): broken', async () => {
    writeOwner(path, { ...self, pid: process.ppid, startTime: '1', token: 'reused' });
    assert.equal(await withFileLock(path, async () => 'taken', 2000), 'taken');
    assert.equal(existsSync(path), false, 'released after use');
  });

  await t.test('the process has exited: broken', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid, require("fs").readFileSync("/proc/self/stat","latin1").split(") ")[1].split(" ")[19])'], { encoding: 'utf8' });
    const [pid, startTime] = gone.stdout.trim().split(' ');
    writeOwner(path, { ...self, pid: Number(pid), startTime: startTime!, token: 'gone' });
    assert.equal(await withFileLock(path, async () => 'taken', 2000), 'taken');
  });

  await t.test('an owner without a start time (an older lock) is not guessed dead', async () => {
    writeOwner(path, { host: self.host, pid: 999_999, token: 'old' } as LockOwner);
    await lockedMessage(path, 50);
    rmSync(path);
  });
});

test('a lock directory an older version left (its pid gone) is moved aside; one whose pid runs is waited for', async (t) => {
  const path = tempLock(t);
  mkdirSync(path);
  writeFileSync(join(path, 'pid'), String(process.ppid));
  assert.match(await lockedMessage(path, 50), /an older shale \(a lock directory\)/);
  let pid = 30_000;
  while (isProcessAlive(pid)) pid--;
  writeFileSync(join(path, 'pid'), String(pid));
  assert.equal(await withFileLock(path, async () => 'taken', 2000), 'taken');
  assert.equal(existsSync(path), false);
});

test('holders in one process exclude each other, and each release leaves the lock free', async (t) => {
  const path = tempLock(t);
  let inside = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: 6 }, () =>
      withFileLock(path, async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 2));
        inside--;
      }),
    ),
  );
  assert.equal(most, 1);
  assert.equal(existsSync(path), false);
});
