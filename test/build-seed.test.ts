/**
 * The seed's worked example (examples/seed/): `RUN dd` + `RUN rm` in two layers keeps the 50 MiB in the
 * image, the chained `RUN dd ... && rm` does not. Built by shale with exact size arithmetic, then by
 * Docker's classic builder on the same base: same layers (entry by entry), same history, same sizes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  busyboxBase,
  dockerBuild,
  dockerSavedImage,
  historyLines,
  loadIntoDocker,
  shaleBuild,
  shaleImageLayers,
  symlinkBytes,
  treeBytes,
} from './support/build.js';
import { docker, dockerOk } from './support/docker.js';
import { shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix, type ImageRow } from './support/shale.js';
import { probeTool, requireTool } from './support/tools.js';
import { DD, FIFTY_MIB, RM, SEED } from './support/seed.js';


interface HistoryRow {
  createdBy: string;
  size: number;
  emptyLayer: boolean;
  comment: string;
  line?: string;
}

/** History oldest first, as `created_by` / size / empty-layer triples. */
const historyOf = (root: string, ref: string) =>
  shaleJson<HistoryRow[]>(['history', ref], { root })
    .reverse()
    .map((h) => ({ createdBy: h.createdBy, size: h.size, emptyLayer: h.emptyLayer }));

const MAINTAINER = '/bin/sh -c #(nop)  MAINTAINER ailala';
const WORKDIR = '/bin/sh -c #(nop) WORKDIR /home';
const CHAINED = '/bin/sh -c dd if=/dev/zero of=50M.file bs=1M count=50 && rm -rf 50M.file';

test('seed example: split RUN dd / RUN rm is base + 52,428,800 bytes in 4 layers, chained is the base in 3; Docker agrees', { timeout: 300_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const name = `shale-seed-${uniqueSuffix()}`;
  const base = busyboxBase(t, work, root, `${name}:base`, { docker: probeTool('docker').ok });
  const buildArgs = ['--build-arg', `BASE=${base.ref}`];

  const split = shaleBuild(root, SEED, ['-f', join(SEED, 'Dockerfile.split'), '-t', `${name}:split`, ...buildArgs], undefined, { classic: true }).id;
  const chained = shaleBuild(root, SEED, ['-f', join(SEED, 'Dockerfile.chained'), '-t', `${name}:chained`, ...buildArgs], undefined, { classic: true }).id;

  await t.test('shale: image sizes and layer counts, exactly', () => {
    const rows = shaleJson<ImageRow[]>(['images'], { root });
    const row = (tag: string) => {
      const r = rows.find((x) => x.repository === name && x.tag === tag);
      assert.ok(r, `${name}:${tag} is listed: ${JSON.stringify(rows)}`);
      return r;
    };
    const b = row('base').size;
    assert.equal(b, treeBytes(base.rootfs).files + treeBytes(base.rootfs).symlinks, "the base's size is its regular files' bytes plus its symlinks' target lengths");
    assert.deepEqual(
      ['base', 'split', 'chained'].map((tag) => ({ tag, id: row(tag).id, size: row(tag).size, layers: row(tag).layers })),
      [
        { tag: 'base', id: base.id, size: b, layers: 1 },
        { tag: 'split', id: split, size: b + FIFTY_MIB, layers: 4 },
        { tag: 'chained', id: chained, size: b, layers: 3 },
      ],
    );
  });

  await t.test('shale: history entries, their sizes and created_by strings read as Docker writes them', () => {
    const b = treeBytes(base.rootfs).files + treeBytes(base.rootfs).symlinks;
    assert.deepEqual(historyOf(root, `${name}:split`), [
      { createdBy: '', size: b, emptyLayer: false },
      { createdBy: MAINTAINER, size: 0, emptyLayer: true },
      { createdBy: WORKDIR, size: 0, emptyLayer: false },
      { createdBy: DD, size: FIFTY_MIB, emptyLayer: false },
      { createdBy: RM, size: 0, emptyLayer: false },
    ]);
    assert.deepEqual(historyOf(root, `${name}:chained`), [
      { createdBy: '', size: b, emptyLayer: false },
      { createdBy: MAINTAINER, size: 0, emptyLayer: true },
      { createdBy: WORKDIR, size: 0, emptyLayer: false },
      { createdBy: CHAINED, size: 0, emptyLayer: false },
    ]);
    const rows = shaleJson<HistoryRow[]>(['history', `${name}:split`], { root }).reverse();
    assert.deepEqual(rows.slice(1).map((h) => h.line), ['Dockerfile.split:3', 'Dockerfile.split:4', 'Dockerfile.split:5', 'Dockerfile.split:6'], 'each step names its Dockerfile line');
    assert.deepEqual(rows.slice(1).map((h) => h.comment), ['', '', '', ''], 'the line is kept beside the image, not in its history');
    const config = shaleJson<{ config: { author?: string; config: { WorkingDir?: string } } }>(['inspect', split], { root }).config;
    assert.equal(config.author, 'ailala', 'MAINTAINER sets the author');
    assert.equal(config.config.WorkingDir, '/home');
  });

  await t.test('shale: what each layer holds (the rm layer is a whiteout over the 50 MiB below it)', async () => {
    const layers = await shaleImageLayers(root, `${name}:split`);
    assert.deepEqual(layers.slice(1), [
      ['d 0755 0:0 0 home'],
      ['d 0755 0:0 0 home', `f 0644 0:0 ${FIFTY_MIB} home/50M.file`],
      ['d 0755 0:0 0 home', 'whiteout home/.wh.50M.file'],
    ]);
    const chainedLayers = await shaleImageLayers(root, `${name}:chained`);
    assert.deepEqual(chainedLayers.slice(1), [['d 0755 0:0 0 home'], ['d 0755 0:0 0 home']]);
    assert.deepEqual(layers[0], chainedLayers[0], 'both sit on the same base layer');

    // the container never sees the file, though the image carries it
    const exported = join(work, 'split-export.tar');
    shaleOk(['export', `${name}:split`, '-o', exported], { root });
    const names = execFileSync('tar', ['-tf', exported], { encoding: 'utf8' }).split('\n');
    assert.ok(names.some((n) => /^(\.\/)?home\/?$/.test(n)), 'home/ is in the export');
    assert.ok(!names.some((n) => n.includes('50M.file')), 'the deleted file is not in the merged root filesystem');
  });

  await t.test('docker: the same files on the same base give the same layers, history and sizes', async (st) => {
    if (!requireTool(st, 'docker')) return;
    const dockerSplit = `${name}:docker-split`;
    const dockerChained = `${name}:docker-chained`;
    dockerBuild(st, SEED, dockerSplit, ['-f', join(SEED, 'Dockerfile.split'), ...buildArgs]);
    dockerBuild(st, SEED, dockerChained, ['-f', join(SEED, 'Dockerfile.chained'), ...buildArgs]);
    // shale's images in Docker too, read back the same way as Docker's own
    loadIntoDocker(st, root, split, `${name}:shale-split`, work);
    loadIntoDocker(st, root, chained, `${name}:shale-chained`, work);

    for (const [mine, theirs, layerCount] of [
      [`${name}:shale-split`, dockerSplit, 4],
      [`${name}:shale-chained`, dockerChained, 3],
    ] as const) {
      const s = await dockerSavedImage(mine);
      const d = await dockerSavedImage(theirs);
      assert.equal(d.layers.length, layerCount, `${theirs}: Docker made ${layerCount} layers`);
      assert.deepEqual(s.layers, d.layers, `${mine} and ${theirs}: the same layers, entry by entry`);
      assert.deepEqual(historyLines(s.config), historyLines(d.config), `${mine} and ${theirs}: the same history`);
      assert.equal(s.config.author, d.config.author);

      // sizes: Docker's SIZE of a layer is its files' bytes plus its symlinks' target lengths (it sums
      // lstat sizes of the unpacked layer); shale counts the same, so every row and the total agree
      const sizes = (ref: string) =>
        dockerOk(['history', '--human=false', '--no-trunc', '--format', '{{.Size}}', ref])
          .trim()
          .split('\n')
          .map(Number)
          .reverse();
      const shaleRows = historyOf(root, mine === `${name}:shale-split` ? split : chained);
      const dockerSizes = sizes(theirs);
      assert.equal(dockerSizes.length, shaleRows.length, 'one history row per entry on both sides');
      assert.deepEqual(dockerSizes, shaleRows.map((h) => h.size), `${theirs}: Docker's per-entry SIZE = shale's`);
      const dockerTotal = Number(dockerOk(['image', 'inspect', '--format', '{{.Size}}', theirs]).trim());
      const shaleTotal = shaleJson<ImageRow[]>(['images'], { root }).find((r) => r.id === (layerCount === 4 ? split : chained))!.size;
      assert.equal(dockerTotal, shaleTotal);
    }
    assert.equal(symlinkBytes((await dockerSavedImage(dockerSplit)).layers[0]!), treeBytes(base.rootfs).symlinks);

    // shale's image runs under Docker and does not show the deleted file
    assert.equal(dockerOk(['run', '--rm', `${name}:shale-split`, 'ls', '-A', '/home']), '');
    assert.equal(docker(['run', '--rm', `${name}:shale-split`, 'test', '-e', '/home/50M.file']).status, 1);
  });
});
