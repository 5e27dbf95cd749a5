/**
 * `shale squash`: the layers above the base become one layer holding their final tree. The seed's split
 * image loses its hidden 50 MiB, the base layer stays the same blob, the exported tree is unchanged, and
 * Docker runs the result; hand-built layers (whiteouts of base files, an opaque directory, hard and
 * symbolic links) squash to the same tree; --all, --from-layer and the errors.
 */
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { appendLayer, tarBytes } from './support/append-layer.js';
import { busyboxBase, loadIntoDocker, shaleBuild, shaleImageLayers } from './support/build.js';
import { docker, dockerOk } from './support/docker.js';
import { assertCliError, shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix, type ImageRow } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { exportDiffs } from './support/tree-compare.js';
import { makeHeader } from '../src/layer/index.js';
import { dirEntry, fileEntry, hardlinkEntry, symlinkEntry } from './support/archives.js';
import { FIFTY_MIB, SEED } from './support/seed.js';


interface SquashJson {
  id: string;
  ref: string;
  before: { sizeBytes: number; layers: number };
  after: { sizeBytes: number; layers: number };
  savedBytes: number;
  keptBaseLayers: number;
}
interface Inspected {
  id: string;
  manifest: { layers: { digest: string }[] };
  config: { created?: string; rootfs: { diff_ids: string[] }; history?: { created_by?: string; empty_layer?: boolean; comment?: string }[]; config: Record<string, unknown> };
}

const inspect = (root: string, ref: string) => shaleJson<Inspected>(['inspect', ref], { root });

/** What an error must leave alone: the index, and the blob and record files. */
function storeState(root: string): string {
  const list = (d: string) => readdirSync(join(root, d)).sort().join(',');
  return JSON.stringify([shaleJson<unknown>(['images'], { root }), list('blobs/sha256'), list('shale/layers')]);
}

test('squash of the seed split image drops the hidden 50 MiB, keeps the base layer, same tree, runs under Docker', { timeout: 300_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const name = `shale-squash-${uniqueSuffix()}`;
  const base = busyboxBase(t, work, root, `${name}:base`);
  const split = shaleBuild(root, SEED, ['-f', join(SEED, 'Dockerfile.split'), '-t', `${name}:split`, '--build-arg', `BASE=${base.ref}`], undefined, { classic: true }).id;

  const r = shaleJson<SquashJson>(['squash', `${name}:split`, '-t', `${name}:squashed`], { root });
  const original = inspect(root, split);
  const squashed = inspect(root, `${name}:squashed`);

  await t.test('JSON: 52,428,800 bytes saved, 4 layers become 2, one base layer kept', () => {
    assert.equal(r.savedBytes, FIFTY_MIB);
    assert.equal(r.keptBaseLayers, 1);
    assert.deepEqual([r.before.layers, r.after.layers], [4, 2]);
    assert.equal(r.before.sizeBytes - r.after.sizeBytes, FIFTY_MIB);
    assert.equal(r.id, squashed.id);
    const rows = shaleJson<ImageRow[]>(['images'], { root });
    const row = (tag: string) => rows.find((x) => x.repository === name && x.tag === tag)!;
    assert.deepEqual([row('squashed').size, row('squashed').layers], [r.after.sizeBytes, 2]);
    assert.equal(row('squashed').size, row('base').size, 'the squashed image is as big as its base (home/ holds no bytes)');
  });

  await t.test('the base layer is the same blob and diffId; the squashed layer holds only home/', async () => {
    assert.equal(squashed.manifest.layers[0]!.digest, original.manifest.layers[0]!.digest);
    assert.equal(squashed.config.rootfs.diff_ids[0], original.config.rootfs.diff_ids[0]);
    assert.equal(squashed.config.rootfs.diff_ids.length, 2);
    const layers = await shaleImageLayers(root, `${name}:squashed`);
    assert.deepEqual(layers[1], ['d 0755 0:0 0 home']);
    const df = shaleJson<{ layers: { count: number; sharedCount: number } }>(['df'], { root });
    assert.ok(df.layers.sharedCount >= 1, 'the base layer is shared by base, split and squashed');
  });

  await t.test('config and history: the same config; squashed steps kept as empty entries, one squash entry', () => {
    assert.deepEqual(squashed.config.config, original.config.config);
    const h0 = original.config.history!;
    const h1 = squashed.config.history!;
    assert.deepEqual(h1[0], h0[0], 'the base entry is unchanged');
    assert.deepEqual(
      h1.slice(1, -1).map((h) => [h.created_by, h.empty_layer, h.comment]),
      h0.slice(1).map((h) => [h.created_by, true, h.comment]),
    );
    assert.equal(h1.at(-1)!.created_by, 'shale squash of layers 1-3');
    assert.notEqual(h1.at(-1)!.empty_layer, true);
    assert.equal(h1.filter((h) => !h.empty_layer).length, squashed.config.rootfs.diff_ids.length);
  });

  await t.test('the exported tree is the original one, path by path', () => {
    assert.deepEqual(exportDiffs(root, work, `${name}:split`, `${name}:squashed`), []);
  });

  await t.test('fsck is clean; the same squash under SOURCE_DATE_EPOCH gives the same image', () => {
    assert.equal(shaleJson<{ ok: boolean }>(['fsck'], { root }).ok, true);
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = shaleJson<SquashJson>(['squash', `${name}:split`, '-t', `${name}:epoch-a`], { root, env });
    const b = shaleJson<SquashJson>(['squash', `${name}:split`, '-t', `${name}:epoch-b`], { root, env });
    assert.equal(a.id, b.id);
    assert.equal(inspect(root, a.id).config.created, '2023-11-14T22:13:20Z');
  });

  await t.test('docker load of shale save runs the squashed image', async (st) => {
    if (!requireTool(st, 'docker')) return;
    loadIntoDocker(st, root, squashed.id, `${name}:docker-squashed`, work);
    assert.match(dockerOk(['run', '--rm', `${name}:docker-squashed`, 'cat', '/etc/passwd']), /^root:x:0:0:/);
    assert.equal(dockerOk(['run', '--rm', `${name}:docker-squashed`, 'ls', '-A', '/home']), '');
    assert.equal(docker(['run', '--rm', `${name}:docker-squashed`, 'test', '-e', '/home/50M.file']).status, 1);
    assert.equal(dockerOk(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', `${name}:docker-squashed`]).trim(), '2');
  });
});

/**
 * A base with a directory of files, a hard-linked pair and a file to delete, then three hand-built layers:
 * whiteouts of base files, an opaque directory, hard links (one whose file is replaced later, one to a
 * base file), symlinks, a device, an xattr, owners and modes, and a big file added then deleted.
 */
async function handBuilt(t: TestContext, work: string, root: string, name: string) {
  const base = busyboxBase(t, work, root, `${name}:base`, {
    extra: (rootfs) => {
      mkdirSync(join(rootfs, 'opt/data'), { recursive: true });
      writeFileSync(join(rootfs, 'opt/data/one'), 'one\n');
      writeFileSync(join(rootfs, 'opt/data/two'), 'two\n');
      writeFileSync(join(rootfs, 'etc/motd'), 'hello\n');
      writeFileSync(join(rootfs, 'etc/pair-a'), 'pair\n');
      linkSync(join(rootfs, 'etc/pair-a'), join(rootfs, 'etc/pair-b'));
    },
  });
  const L1 = await tarBytes([
    dirEntry('etc'),
    fileEntry('etc/.wh.motd', ''),
    dirEntry('opt/data', { mode: 0o750, uid: 1000, gid: 1000 }),
    fileEntry('opt/data/.wh..wh..opq', ''),
    fileEntry('opt/data/new', 'new\n', { mode: 0o640, uid: 1000, gid: 1000 }),
    dirEntry('srv'),
    fileEntry('srv/file', 'first\n', { mode: 0o600 }),
    hardlinkEntry('srv/link', 'srv/file'),
    symlinkEntry('srv/sym', 'file'),
    symlinkEntry('srv/abs', '/etc/passwd'),
    fileEntry('srv/big', Buffer.alloc(1 << 20, 7)),
    { header: makeHeader({ name: 'srv/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }) },
    fileEntry('srv/cap', 'x', { xattrs: { 'user.note': Buffer.from('kept') } }),
  ]);
  const L2 = await tarBytes([
    dirEntry('srv'),
    fileEntry('srv/file', 'second\n', { mode: 0o644 }),
    fileEntry('srv/.wh.big', ''),
    fileEntry('srv/setuid', '#!/bin/sh\n', { mode: 0o4755 }),
    dirEntry('etc'),
    fileEntry('etc/.wh.pair-b', ''),
  ]);
  const L3 = await tarBytes([dirEntry('srv'), fileEntry('srv/later', 'later\n')]);
  await appendLayer(root, base.ref, `${name}:l1`, L1, 'layer one');
  await appendLayer(root, `${name}:l1`, `${name}:l2`, L2, 'layer two');
  await appendLayer(root, `${name}:l2`, `${name}:img`, L3, 'layer three');
  // the intermediate images go (their layers stay, used by img): the base is the only other image
  shaleOk(['rmi', `${name}:l1`, `${name}:l2`], { root });
  return { base, ref: `${name}:img` };
}

test('squash of hand-built layers: whiteouts, an opaque dir, hard and symbolic links; --all; --from-layer', { timeout: 180_000 }, async (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const name = `shale-squash-hand-${uniqueSuffix()}`;
  const { ref } = await handBuilt(t, work, root, name);
  const original = inspect(root, ref);
  assert.equal(original.manifest.layers.length, 4);

  await t.test('default: the base is found in the store; the tree is unchanged; 1 MiB of hidden bytes go', async () => {
    const r = shaleJson<SquashJson>(['squash', ref, '-t', `${name}:sq`], { root });
    assert.equal(r.keptBaseLayers, 1);
    assert.deepEqual([r.before.layers, r.after.layers], [4, 2]);
    assert.equal(r.savedBytes, 1 << 20, 'the deleted big file (the replaced srv/file stays as srv/link)');
    assert.deepEqual(exportDiffs(root, work, ref, `${name}:sq`), []);
    const sq = inspect(root, `${name}:sq`);
    assert.equal(sq.manifest.layers[0]!.digest, original.manifest.layers[0]!.digest);
    const layer = (await shaleImageLayers(root, `${name}:sq`))[1]!;
    assert.ok(layer.includes('whiteout etc/.wh.motd'), layer.join('\n'));
    assert.ok(layer.includes('whiteout opt/data/.wh..wh..opq'), layer.join('\n'));
    assert.ok(layer.includes('d 0750 1000:1000 0 opt/data'), layer.join('\n'));
    assert.ok(!layer.some((l) => l.includes('srv/big')), 'the deleted file is gone, whiteout and all');
    assert.ok(!layer.some((l) => l.includes('opt/data/one')), 'nothing of the replaced directory is written');
  });

  await t.test('--all: one layer with the same tree', () => {
    const r = shaleJson<SquashJson>(['squash', ref, '-t', `${name}:all`, '--all'], { root });
    assert.deepEqual([r.keptBaseLayers, r.after.layers], [0, 1]);
    assert.equal(inspect(root, `${name}:all`).config.history!.at(-1)!.created_by, 'shale squash of layers 0-3');
    assert.deepEqual(exportDiffs(root, work, ref, `${name}:all`), []);
  });

  await t.test('--from-layer 2: layers 0 and 1 kept as they are, 2 and 3 merged', () => {
    const r = shaleJson<SquashJson>(['squash', ref, '-t', `${name}:from2`, '--from-layer', '2'], { root });
    assert.deepEqual([r.keptBaseLayers, r.after.layers], [2, 3]);
    const sq = inspect(root, `${name}:from2`);
    assert.deepEqual(sq.manifest.layers.slice(0, 2), original.manifest.layers.slice(0, 2));
    assert.deepEqual(sq.config.history!.map((h) => [h.created_by ?? '', h.empty_layer === true]), [
      ...original.config.history!.slice(0, 2).map((h) => [h.created_by ?? '', h.empty_layer === true]),
      ['layer two', true],
      ['layer three', true],
      ['shale squash of layers 2-3', false],
    ]);
    assert.deepEqual(exportDiffs(root, work, ref, `${name}:from2`), []);
  });

  await t.test('one layer above the kept ones: nothing to merge, the tag names the same image', () => {
    const r = shaleJson<SquashJson>(['squash', ref, '-t', `${name}:same`, '--from-layer', '3'], { root });
    assert.equal(r.id, original.id);
    assert.deepEqual([r.savedBytes, r.after.layers, r.keptBaseLayers], [0, 4, 3]);
    assert.equal(inspect(root, `${name}:same`).id, original.id);
  });

  await t.test('a hard link to a kept base file stays a link to it (as the source layer had it)', async () => {
    await appendLayer(root, ref, `${name}:xlink`, await tarBytes([dirEntry('bin'), hardlinkEntry('bin/alias', 'bin/busybox')]), 'link to base');
    const r = shaleJson<SquashJson>(['squash', `${name}:xlink`, '-t', `${name}:xlink-sq`, '--from-layer', '1'], { root });
    assert.deepEqual([r.keptBaseLayers, r.after.layers], [1, 2]);
    const layer = (await shaleImageLayers(root, `${name}:xlink-sq`))[1]!;
    assert.ok(layer.includes('h 0755 0:0 0 bin/alias -> bin/busybox'), layer.join('\n'));
    assert.ok(!layer.some((l) => /^f .* bin\/busybox$/.test(l)), 'the base file itself is not copied');
    assert.deepEqual(exportDiffs(root, work, `${name}:xlink`, `${name}:xlink-sq`), []);
  });

  await t.test('docker runs the squashed image: opaque dir, kept hard-link content, links', async (st) => {
    if (!requireTool(st, 'docker')) return;
    const id = inspect(root, `${name}:sq`).id;
    const dref = `${name}:docker-sq`;
    loadIntoDocker(st, root, id, dref, work);
    const out = dockerOk(['run', '--rm', dref, 'sh', '-c', 'ls /opt/data; cat /srv/link /srv/file; readlink /srv/sym; test -e /etc/motd || echo no-motd; test -e /etc/pair-b || cat /etc/pair-a']);
    assert.equal(out, 'new\nfirst\nsecond\nfile\nno-motd\npair\n');
  });
});

test('squash errors: exit 2 with one error line, and the store unchanged', { timeout: 120_000 }, async (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const name = `shale-squash-err-${uniqueSuffix()}`;
  const { ref, base } = await handBuilt(t, work, root, name);
  const before = storeState(root);
  const cases: [string, string[]][] = [
    ['unknown ref', ['squash', `${name}:nope`, '-t', `${name}:x`]],
    ['--from-layer past the top', ['squash', ref, '-t', `${name}:x`, '--from-layer', '4']],
    ['--from-layer not a number', ['squash', ref, '-t', `${name}:x`, '--from-layer', 'two']],
    ['--from-layer negative', ['squash', ref, '-t', `${name}:x`, '--from-layer', '-1']],
    ['--all with --from-layer', ['squash', ref, '-t', `${name}:x`, '--all', '--from-layer', '1']],
    ['bad tag', ['squash', ref, '-t', 'Not A Ref']],
    ['no base image in the store', ['squash', base.ref, '-t', `${name}:x`]],
    ['no -t', ['squash', ref]],
  ];
  for (const [what, args] of cases) {
    const r = shale(args, { root });
    assertCliError(r, what);
    assert.equal(storeState(root), before, `${what}: the store is unchanged`);
  }
  const noBase = shale(['squash', base.ref, '-t', `${name}:x`], { root });
  assert.match(noBase.stderr, /--from-layer/, 'the hint names --from-layer and --all');
  // once the base tag is gone, the default finds no base either
  shaleOk(['rmi', base.ref], { root });
  const state = storeState(root);
  const r = shale(['squash', ref, '-t', `${name}:x`], { root });
  assert.match(assertCliError(r, 'no base'), /no base image/);
  assert.equal(storeState(root), state);
});
