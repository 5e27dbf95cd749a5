/**
 * A store shared by shale processes in other PID namespaces (containers mounting the same volume) or on
 * other hosts: what they lease and what they are ingesting is kept by `rmi` and `prune` here, because their
 * pids mean nothing in this namespace; what a provably dead process of this namespace left is collected.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { currentOwner, isProcessAlive, type LockOwner } from '../src/internal/lock.js';
import { shaleJson, shaleOk, tempDir, tempStore } from './support/shale.js';
import { tarDir } from './support/rootfs.js';

interface Inspect {
  manifest: { layers: { digest: string }[] };
}

/** An owner in another PID namespace of this host whose pid no process has here. */
function foreignOwner(token: string): LockOwner {
  let pid = 30_000;
  while (isProcessAlive(pid)) pid--;
  return { ...currentOwner(), pidNamespace: 'pid:[4026599999]', pid, startTime: '12345', token };
}

/** An owner of this namespace that has exited. */
function deadOwner(token: string): LockOwner {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid, require("fs").readFileSync("/proc/self/stat","latin1").split(") ")[1].split(" ")[19])'], { encoding: 'utf8' });
  const [pid, startTime] = r.stdout.trim().split(' ');
  return { ...currentOwner(), pid: Number(pid), startTime: startTime!, token };
}

test('leases and ingestions of a shale in another PID namespace survive rmi and prune; a dead local one\'s are collected', (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const rootfs = join(work, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(rootfs, 'file'), 'content\n');
  shaleOk(['import', tarDir(rootfs, join(work, 'rootfs.tar')), 'leased:1'], { root });
  const layer = shaleJson<Inspect>(['inspect', 'leased:1'], { root }).manifest.layers[0]!.digest;
  const blob = join(root, 'blobs', 'sha256', layer.slice(7));

  // a build in a container holds this layer (not yet in an image) and is writing a blob
  const foreign = foreignOwner('f'.repeat(32));
  const leases = join(root, 'shale', 'leases');
  const ingest = join(root, 'shale', 'ingest');
  mkdirSync(leases, { recursive: true });
  mkdirSync(ingest, { recursive: true });
  writeFileSync(join(leases, `proc-${foreign.token}`), JSON.stringify({ owner: foreign, digests: [layer] }));
  writeFileSync(join(ingest, `owner-${foreign.token}`), JSON.stringify(foreign));
  writeFileSync(join(ingest, `${foreign.pid}-${foreign.token}-0011223344556677`), 'half a blob');

  shaleOk(['rmi', 'leased:1'], { root });
  shaleOk(['prune'], { root });
  assert.ok(existsSync(blob), 'the leased layer is kept');
  assert.deepEqual(readdirSync(ingest).sort(), [`${foreign.pid}-${foreign.token}-0011223344556677`, `owner-${foreign.token}`].sort(), 'its ingestion is kept');
  assert.ok(existsSync(join(leases, `proc-${foreign.token}`)), 'its lease is kept');

  // the same files from a process of this namespace that has exited are collected
  const dead = deadOwner('d'.repeat(32));
  writeFileSync(join(leases, `proc-${foreign.token}`), JSON.stringify({ owner: dead, digests: [layer] }));
  writeFileSync(join(ingest, `owner-${foreign.token}`), JSON.stringify(dead));
  const pruned = shaleJson<{ deletedBlobs: string[] }>(['prune'], { root });
  assert.deepEqual(pruned.deletedBlobs, [layer]);
  assert.equal(existsSync(blob), false);
  assert.deepEqual(readdirSync(ingest), [], 'the dead process\'s ingestion and owner record are gone');
  assert.equal(existsSync(join(leases, `proc-${foreign.token}`)), false);
  assert.equal(readFileSync(join(root, 'index.json'), 'utf8').includes('leased'), false);
});
