/**
 * Crash safety: `shale load` killed with SIGKILL at any moment leaves a store that `shale fsck` accepts,
 * whose index lists either nothing new or the whole image, and that a later load and prune put right.
 * No Docker needed.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendLayer, oneFileLayer } from './support/append-layer.js';
import { shale, shaleJson, shaleOk, spawnShale, tempDir, tempStore } from './support/shale.js';
import { tarDir } from './support/rootfs.js';

const LAYER_BYTES = 12_000_000;
const KILLS = 8;
const REF = 'crash:big';

interface Fsck {
  ok: boolean;
  problems: string[];
  blobs: number;
  images: number;
}

const listing = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

/** Runs `shale load -i archive` and SIGKILLs it after `delayMs`; resolves how it ended. */
function loadAndKill(root: string, archive: string, delayMs: number): Promise<{ killed: boolean; status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnShale(['load', '-i', archive], { root });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout!.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', status, stderr });
    });
  });
}

test('shale load killed at random moments never leaves a broken store', { timeout: 240_000 }, async (t) => {
  const work = tempDir(t);

  // a 4-layer image of ~48 MB of incompressible content, saved as a docker-archive
  const source = tempStore(t);
  const rootfs = join(work, 'rootfs');
  mkdirSync(join(rootfs, 'data'), { recursive: true });
  writeFileSync(join(rootfs, 'data', 'base.bin'), randomBytes(LAYER_BYTES));
  shaleOk(['import', tarDir(rootfs, join(work, 'rootfs.tar')), 'crash:l1'], { root: source });
  await appendLayer(source, 'crash:l1', 'crash:l2', await oneFileLayer('data/two.bin', randomBytes(LAYER_BYTES)));
  await appendLayer(source, 'crash:l2', 'crash:l3', await oneFileLayer('data/three.bin', randomBytes(LAYER_BYTES)));
  const { id } = await appendLayer(source, 'crash:l3', REF, await oneFileLayer('data/four.bin', randomBytes(LAYER_BYTES)));
  const archive = join(work, 'big.tar');
  shaleOk(['save', '-o', archive, REF], { root: source });
  assert.ok(statSync(archive).size > 4 * LAYER_BYTES, 'the archive holds all four layers');

  // how long an uninterrupted load takes here, so the kills land while it works
  const calib = tempStore(t);
  const started = Date.now();
  shaleOk(['load', '-i', archive], { root: calib });
  const loadMs = Date.now() - started;
  const span = Math.min(1500, Math.max(200, Math.round(loadMs * 0.95)));

  const root = tempStore(t);
  let killed = 0;
  for (let i = 0; i < KILLS; i++) {
    // spread over [0, span], with a little jitter
    const delay = Math.round((span * i) / (KILLS - 1) + Math.random() * 40);
    const r = await loadAndKill(root, archive, delay);
    if (r.killed) killed++;
    else assert.equal(r.status, 0, `a load that was not killed succeeds: ${r.stderr}`);
    const fsck = shale(['fsck', '--format', 'json'], { root });
    assert.equal(fsck.status, 0, `fsck after a load killed at ${delay} ms: ${fsck.stdout}${fsck.stderr}`);
    assert.deepEqual((JSON.parse(fsck.stdout) as Fsck).problems, []);
    // the index lists nothing or the whole image, never a part of it
    const images = shaleJson<{ repository: string; tag: string; id: string; layers: number }[]>(['images'], { root });
    assert.ok(
      images.length === 0 || (images.length === 1 && images[0]!.id === id && images[0]!.layers === 4),
      `after a kill at ${delay} ms the store lists: ${JSON.stringify(images)}`,
    );
  }
  t.diagnostic(
    `uninterrupted load: ${loadMs} ms; kills spread over ${span} ms; ${killed}/${KILLS} loads were killed mid-way; ` +
      `${listing(join(root, 'shale', 'ingest')).length} ingestions left behind`,
  );
  assert.ok(killed >= KILLS / 2, `most loads were killed while working (${killed}/${KILLS})`);

  // a full load afterwards works, even over a lock or ingestions the killed processes left
  assert.deepEqual(shaleJson(['load', '-i', archive], { root }), [{ ref: REF, id }]);
  const fsck = shaleJson<Fsck>(['fsck'], { root });
  assert.deepEqual(fsck.problems, []);
  assert.equal(fsck.images, 1);

  const pruned = shaleJson<{ deletedImages: string[]; deletedBlobs: string[] }>(['prune'], { root });
  assert.deepEqual(pruned.deletedImages, [], 'no dangling image was made');
  assert.deepEqual(listing(join(root, 'shale', 'ingest')), [], 'prune removes ingestions of dead processes');
  assert.equal(existsSync(join(root, 'shale', 'lock')), false, 'no lock is left held');
  const after = shaleJson<Fsck>(['fsck'], { root });
  assert.equal(after.ok, true);
  // 4 layers + config + manifest, nothing else
  assert.equal(after.blobs, 6);
  assert.deepEqual(listing(join(root, 'blobs', 'sha256')).sort(), listing(join(calib, 'blobs', 'sha256')).sort());

  // the loaded image is the one that was saved, byte for byte
  const again = join(work, 'again.tar');
  shaleOk(['save', '-o', again, REF], { root });
  assert.equal(statSync(again).size, statSync(archive).size);
  const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  assert.equal(digest(again), digest(archive), 'save is deterministic and the content survived the crashes');
});
