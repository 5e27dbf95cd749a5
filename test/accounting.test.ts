/**
 * Size accounting with shared layers (the seed's "720 vs 320", scaled down): three images on one base,
 * `shale df` and `shale images` must count each distinct layer once for the actual size and every listed
 * image for the virtual size. No Docker needed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendLayer, oneFileLayer } from './support/append-layer.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { shaleJson, shaleOk, tempDir, tempStore } from './support/shale.js';
import type { ImageRow } from './support/shale.js';

interface DiskUsage {
  images: { count: number; virtualSize: number; actualSize: number; reclaimable: number };
  layers: { count: number; sharedCount: number };
  containers: { count: number; size: number };
  disk: { total: number };
}

const SMALL = 2_000_000;
const LARGE = 10_000_000;

/** Sum of the sizes of the regular files below `dir` plus its symlinks' target lengths (what a layer's content size counts, as Docker's SIZE). */
function regularFileBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = lstatSync(p);
    if (s.isDirectory()) total += regularFileBytes(p);
    else if (s.isFile() || s.isSymbolicLink()) total += s.size;
  }
  return total;
}

const row = (rows: ImageRow[], tag: string): ImageRow => {
  const r = rows.find((x) => x.repository === 'acct' && x.tag === tag);
  assert.ok(r, `shale images lists acct:${tag}: ${JSON.stringify(rows)}`);
  return r;
};

test('df and images count shared layers once for the actual size and per image for the virtual size', { timeout: 120_000 }, async (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
  writeFileSync(join(rootfs, 'big.bin'), randomBytes(20_000_000));
  shaleOk(['import', tarDir(rootfs, join(work, 'rootfs.tar')), 'acct:base'], { root });

  const baseRows = shaleJson<ImageRow[]>(['images'], { root });
  assert.equal(baseRows.length, 1);
  const base = baseRows[0]!.size;
  assert.equal(base, regularFileBytes(rootfs), "an image's size is the sum of its layers' content sizes");
  assert.ok(base > 20_000_000);
  assert.deepEqual(
    { sharedSize: baseRows[0]!.sharedSize, uniqueSize: baseRows[0]!.uniqueSize, layers: baseRows[0]!.layers },
    { sharedSize: 0, uniqueSize: base, layers: 1 },
  );

  const small = await appendLayer(root, 'acct:base', 'acct:small', await oneFileLayer('small.bin', randomBytes(SMALL)));
  const large = await appendLayer(root, 'acct:base', 'acct:large', await oneFileLayer('large.bin', randomBytes(LARGE)));

  const du = shaleJson<DiskUsage>(['df'], { root });
  assert.equal(du.images.count, 3);
  assert.equal(du.images.virtualSize, base + (base + SMALL) + (base + LARGE));
  assert.equal(du.images.actualSize, base + SMALL + LARGE);
  assert.equal(du.images.reclaimable, du.images.actualSize, 'no container holds an image');
  assert.deepEqual(du.layers, { count: 3, sharedCount: 1 });
  assert.deepEqual(du.containers, { count: 0, size: 0 });
  assert.ok(du.disk.total >= du.images.actualSize, `disk.total ${du.disk.total} holds at least the layers' content`);

  const rows = shaleJson<ImageRow[]>(['images'], { root });
  assert.equal(rows.length, 3);
  assert.deepEqual(
    ['base', 'small', 'large'].map((tag) => {
      const r = row(rows, tag);
      return { tag, size: r.size, sharedSize: r.sharedSize, uniqueSize: r.uniqueSize, layers: r.layers };
    }),
    [
      { tag: 'base', size: base, sharedSize: base, uniqueSize: 0, layers: 1 },
      { tag: 'small', size: base + SMALL, sharedSize: base, uniqueSize: SMALL, layers: 2 },
      { tag: 'large', size: base + LARGE, sharedSize: base, uniqueSize: LARGE, layers: 2 },
    ],
  );
  assert.equal(row(rows, 'small').id, small.id);
  assert.equal(row(rows, 'large').id, large.id);

  // removing an image frees its unique layer and leaves the shared one (by ID: see the rmi-by-name test)
  const removed = shaleJson<{ untagged: string[]; deleted: string[] }>(['rmi', large.id], { root });
  assert.deepEqual(removed.untagged, ['acct:large']);
  assert.ok(removed.deleted.includes(large.id), `rmi reports the deleted image: ${JSON.stringify(removed)}`);
  assert.ok(removed.deleted.includes(large.layerDigest), 'and its unshared layer blob');
  assert.equal(existsSync(join(root, 'blobs', 'sha256', large.layerDigest.slice(7))), false, 'the layer blob is gone from disk');
  const after = shaleJson<DiskUsage>(['df'], { root });
  assert.equal(after.images.count, 2);
  assert.equal(after.images.virtualSize, base + (base + SMALL));
  assert.equal(after.images.actualSize, base + SMALL);
  assert.deepEqual(after.layers, { count: 2, sharedCount: 1 });
  assert.ok(after.disk.total < du.disk.total - LARGE, 'the disk total shrank by at least the removed layer');

  // re-pointing a tag leaves the old image dangling; prune removes it and its unique layer
  const first = await appendLayer(root, 'acct:base', 'acct:moving', await oneFileLayer('m1.bin', Buffer.alloc(1000, 1)));
  await appendLayer(root, 'acct:base', 'acct:moving', await oneFileLayer('m2.bin', Buffer.alloc(3000, 2)));
  const withDangling = shaleJson<ImageRow[]>(['images'], { root });
  assert.deepEqual(
    withDangling.filter((r) => r.repository === '<none>').map((r) => ({ id: r.id, tag: r.tag, size: r.size })),
    [{ id: first.id, tag: '<none>', size: base + 1000 }],
  );
  const dfDangling = shaleJson<DiskUsage>(['df'], { root });
  assert.equal(dfDangling.images.actualSize, base + SMALL + 1000 + 3000);
  assert.deepEqual(dfDangling.layers, { count: 4, sharedCount: 1 });

  const pruned = shaleJson<{ deletedImages: string[]; deletedBlobs: string[]; reclaimedBytes: number }>(['prune'], { root });
  assert.equal(pruned.deletedImages.length, 1);
  assert.ok(pruned.deletedBlobs.includes(first.layerDigest), `prune deletes the dangling image's layer: ${JSON.stringify(pruned)}`);
  assert.ok(pruned.reclaimedBytes >= 1000);
  const fsck = shaleJson<{ ok: boolean; problems: string[] }>(['fsck'], { root });
  assert.deepEqual(fsck.problems, []);
  assert.equal(fsck.ok, true);
  const final = shaleJson<DiskUsage>(['df'], { root });
  assert.equal(final.images.count, 3);
  assert.equal(final.images.virtualSize, base + (base + SMALL) + (base + 3000));
  assert.equal(final.images.actualSize, base + SMALL + 3000);
  assert.deepEqual(final.layers, { count: 3, sharedCount: 1 });

  // with the other images gone, the base's layer is no longer shared
  const moving = row(shaleJson<ImageRow[]>(['images'], { root }), 'moving');
  shaleOk(['rmi', small.id, moving.id], { root });
  const alone = shaleJson<ImageRow[]>(['images'], { root });
  assert.deepEqual(
    alone.map((r) => ({ tag: r.tag, size: r.size, sharedSize: r.sharedSize, uniqueSize: r.uniqueSize })),
    [{ tag: 'base', size: base, sharedSize: 0, uniqueSize: base }],
  );
  assert.deepEqual(shaleJson<DiskUsage>(['df'], { root }).layers, { count: 1, sharedCount: 0 });

  // a second tag is listed again, so the virtual size counts it again; nothing new is stored or shared
  shaleOk(['tag', 'acct:base', 'acct:alias'], { root });
  const aliased = shaleJson<DiskUsage>(['df'], { root });
  assert.equal(aliased.images.count, 1, 'one image, two tags');
  assert.equal(aliased.images.virtualSize, 2 * base);
  assert.equal(aliased.images.actualSize, base);
  assert.deepEqual(aliased.layers, { count: 1, sharedCount: 0 });
  assert.deepEqual(
    shaleJson<ImageRow[]>(['images'], { root }).map((r) => [r.tag, r.sharedSize, r.uniqueSize]).sort(),
    [['alias', 0, base], ['base', 0, base]],
  );
  assert.equal(shaleJson<{ ok: boolean }>(['fsck'], { root }).ok, true);
});

test('rmi by name untags, and deletes the image with its last tag', (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  mkdirSync(join(work, 'rootfs'));
  writeFileSync(join(work, 'rootfs', 'f'), 'x');
  const id = shaleOk(['import', tarDir(join(work, 'rootfs'), join(work, 'rootfs.tar')), 'named:one'], { root }).stdout.trim();
  shaleOk(['tag', 'named:one', 'named:two'], { root });
  const untag = shaleJson<{ untagged: string[]; deleted: string[] }>(['rmi', 'named:two'], { root });
  assert.deepEqual(untag, { untagged: ['named:two'], deleted: [] });
  assert.deepEqual(
    shaleJson<ImageRow[]>(['images'], { root }).map((r) => `${r.repository}:${r.tag}`),
    ['named:one'],
    'the untagged name is no longer listed',
  );
  const gone = shaleJson<{ untagged: string[]; deleted: string[] }>(['rmi', 'named:one'], { root });
  assert.deepEqual(gone.untagged, ['named:one']);
  assert.ok(gone.deleted.includes(id), 'the image goes with its last tag');
  assert.deepEqual(shaleJson(['images'], { root }), []);
  assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), [], 'and every blob with it');
});
