import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordTree } from './copy-snapshotter.js';
import { separateHardLinks } from './separate-hard-links.js';
import { xattrsOf } from './snapshot-fixtures.js';

const isRoot = process.geteuid?.() === 0;

test('separateHardLinks: each name its own inode, with the content, owner, mode, mtime and xattrs of the original; parent times kept', { skip: !isRoot && 'needs root (chown)' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'shale-separate-'));
  try {
    const r = (p: string) => join(root, p);
    mkdirSync(r('d'));
    mkdirSync(r('e'));
    writeFileSync(r('d/a'), 'shared');
    chownSync(r('d/a'), 1000, 1001);
    chmodSync(r('d/a'), 0o4750);
    execFileSync('setfattr', ['-n', 'user.k', '-v', 'v', r('d/a')]);
    utimesSync(r('d/a'), 1_600_000_000, 1_600_000_000);
    linkSync(r('d/a'), r('d/b'));
    linkSync(r('d/a'), r('e/c'));
    symlinkSync('target', r('d/s'));
    linkSync(r('d/s'), r('d/t')); // link(2) does not follow symlinks
    writeFileSync(r('single'), 'one');
    for (const dir of ['d', 'e']) utimesSync(r(dir), 1_500_000_000, 1_500_000_000);

    const made = await separateHardLinks(root, await recordTree(root));
    assert.deepEqual(made.sort(), ['d/b', 'd/t', 'e/c'].sort());
    const inodes = new Set(['d/a', 'd/b', 'e/c'].map((p) => lstatSync(r(p)).ino));
    assert.equal(inodes.size, 3);
    for (const p of ['d/a', 'd/b', 'e/c']) {
      const st = lstatSync(r(p));
      assert.deepEqual([st.nlink, st.mode & 0o7777, st.uid, st.gid, st.mtimeMs / 1000], [1, 0o4750, 1000, 1001, 1_600_000_000], p);
      assert.equal(readFileSync(r(p), 'utf8'), 'shared');
      assert.deepEqual(xattrsOf(r(p)), { 'user.k': 'v' }, p);
    }
    assert.notEqual(lstatSync(r('d/s')).ino, lstatSync(r('d/t')).ino);
    assert.equal(readlinkSync(r('d/t')), 'target');
    for (const dir of ['d', 'e']) assert.equal(lstatSync(r(dir)).mtimeMs / 1000, 1_500_000_000, dir);
    assert.deepEqual(await separateHardLinks(root, await recordTree(root)), [], 'nothing left to separate');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
