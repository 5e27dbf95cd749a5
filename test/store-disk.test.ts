/**
 * `shale df`'s "On disk" counts what the store holds: symlinks are not followed, a file with several hard
 * links counts once, mounts below the store are not entered. The oracle is find(1) over the store
 * (`-xdev`, each inode once, symlinks as themselves).
 */
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { shaleJson, shaleOk, tempDir, tempStore } from './support/shale.js';
import { tarDir } from './support/rootfs.js';
import { findBytes } from './support/disk.js';

interface Df {
  disk: { total: number };
}

test('df: "On disk" does not follow symlinks out of the store and counts hard-linked files once', (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const rootfs = join(work, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc', 'file'), 'x'.repeat(10_000));
  shaleOk(['import', tarDir(rootfs, join(work, 'rootfs.tar')), 'tiny:1'], { root });
  const before = shaleJson<Df>(['df'], { root }).disk.total;
  assert.equal(before, findBytes(root));

  // what a store holds in snapshots and containers: absolute symlinks (a rootfs's /bin/sh -> /bin/busybox),
  // links to big files and to / outside it, and hard links (a layer unpacked by linking)
  const big = join(work, 'big');
  writeFileSync(big, '');
  truncateSync(big, 200_000_000);
  const holder = join(root, 'shale', 'snapshots', 'layers', 'example');
  mkdirSync(holder, { recursive: true });
  symlinkSync(big, join(holder, 'to-big'));
  symlinkSync('/', join(holder, 'to-root'));
  symlinkSync('/usr', join(holder, 'to-usr'));
  const blob = readdirSync(join(root, 'blobs', 'sha256'))[0]!;
  linkSync(join(root, 'blobs', 'sha256', blob), join(holder, 'hard-link-of-a-blob'));

  const after = shaleJson<Df>(['df'], { root }).disk.total;
  assert.equal(after, before + big.length + '/'.length + '/usr'.length, 'the links count their own length, the hard link nothing');
  assert.equal(after, findBytes(root));
});
