/**
 * `shale analyze` end to end: images made of hand-written layer tars on a busybox base (every hidden byte
 * known in advance), the seed example built by shale, the same images read back from Docker's
 * `docker save`, an oci-archive and an OCI layout, malformed sources, and `--compare`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendLayerToConfig, canonicalJson, makeManifest } from '../src/image/index.js';
import { MediaType } from '../src/oci/index.js';
import { Store, describeLayerBlob } from '../src/store/index.js';
import type { TarWriteEntry } from '../src/layer/index.js';
import { tarBytes } from './support/append-layer.js';
import { dirEntry, dockerArchive, fileEntry, hardlinkEntry } from './support/archives.js';
import { busyboxBase, dockerBuild, loadIntoDocker, shaleBuild, treeBytes } from './support/build.js';
import { dockerOk } from './support/docker.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { assertCliError, shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix, type ShaleOptions } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { DD, FIFTY_MIB, RM, SEED } from './support/seed.js';

interface Item {
  path: string;
  bytes: number;
  files: number;
  kind: string;
  layer: number;
  hiddenByLayer: number;
  createdBy: string;
  hiddenBy: string;
  base: boolean;
  fix: string;
}
interface LayerRow {
  index: number;
  digest: string;
  diffId: string;
  createdBy: string;
  sizeBytes: number;
  added: number;
  modified: number;
  removed: number;
  hiddenBytes: number;
  base: boolean;
}
interface AnalysisJson {
  image: string;
  id: string;
  sizeBytes: number;
  baseLayers: number;
  layers: LayerRow[];
  dive: { efficiency: number; wastedBytes: number; userWastedPercent: number | null; sizeBytes: number; userSizeBytes: number };
  waste: { hiddenBytes: number; baseHiddenBytes: number; userHiddenBytes: number; items: Item[] };
  ci?: { pass: boolean; rules: { name: string; limit: string; actual: number | null; pass: boolean }[] };
}

const COPY = (dest: string): string => `/bin/sh -c #(nop) COPY file:${'0a'.repeat(32)} in ${dest} `;
const RUN = (cmd: string): string => `/bin/sh -c ${cmd}`;

/** Tags as `newRef` the image `baseRef` with these layers (uncompressed tars) added on top, in one go. */
async function appendLayers(storeRoot: string, baseRef: string, newRef: string, layers: { entries: TarWriteEntry[]; createdBy: string }[]): Promise<void> {
  const store = await Store.open(storeRoot);
  const { image } = await store.resolve(baseRef);
  let config = image.config;
  const descriptors = [...image.manifest.layers];
  let created = Date.parse(image.config.created ?? '2020-01-01T00:00:00Z');
  for (const l of layers) {
    const tar = await tarBytes(l.entries);
    const ing = await store.content.ingest([tar], {}, 'test layer');
    try {
      const info = await describeLayerBlob(ing.digest, createReadStream(ing.tempPath), 'test layer');
      created += 1000;
      config = appendLayerToConfig(config, info.diffId, { created: new Date(created).toISOString(), created_by: l.createdBy });
      await store.withLock(async () => {
        if (await store.content.has(ing.digest)) await store.content.discard(ing);
        else await store.content.commit(ing);
        await store.layerInfos.put(info);
      });
      descriptors.push({ mediaType: MediaType.ociLayer, digest: ing.digest, size: ing.size });
    } finally {
      await store.content.discard(ing);
    }
  }
  const rawConfig = canonicalJson(config);
  await store.withLock(async () => {
    const configDigest = await store.content.putBytes(rawConfig);
    const rawManifest = canonicalJson(makeManifest({ mediaType: MediaType.ociConfig, digest: configDigest, size: rawConfig.length }, descriptors));
    const manifestDigest = await store.content.putBytes(rawManifest);
    await store.setTags({ mediaType: MediaType.ociManifest, digest: manifestDigest, size: rawManifest.length }, [newRef]);
  });
}

const whiteout = (target: string): TarWriteEntry => {
  const i = target.lastIndexOf('/');
  return fileEntry(i < 0 ? `.wh.${target}` : `${target.slice(0, i)}/.wh.${target.slice(i + 1)}`, '');
};
const opaque = (dir: string): TarWriteEntry => fileEntry(`${dir}/.wh..wh..opq`, '');

const pick = (i: Item) => ({
  path: i.path,
  bytes: i.bytes,
  files: i.files,
  kind: i.kind,
  layer: i.layer,
  hiddenByLayer: i.hiddenByLayer,
  createdBy: i.createdBy,
  hiddenBy: i.hiddenBy,
  base: i.base,
});
const counts = (a: AnalysisJson) => a.layers.slice(1).map((l) => ({ createdBy: l.createdBy, sizeBytes: l.sizeBytes, added: l.added, modified: l.modified, removed: l.removed, hiddenBytes: l.hiddenBytes, base: l.base }));

/** The store as listed and checked: what a failed analyze must leave as it was. */
const storeState = (o: ShaleOptions) => ({ images: shaleOk(['images', '--format', 'json'], o).stdout, fsck: shaleOk(['fsck', '--format', 'json'], o).stdout });

test('analyze: hidden bytes of hand-made layers, kinds, files, attribution, base layers, compare, malformed sources', { timeout: 300_000 }, async (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const o = { root };
  const rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
  shaleOk(['import', tarDir(rootfs, join(work, 'rootfs.tar')), 'an:base'], o);
  const baseBytes = treeBytes(rootfs).files + treeBytes(rootfs).symlinks;

  const data1000 = randomBytes(1000);
  const script = randomBytes(5000);
  const linked = randomBytes(4096);

  // a file overwritten by a later layer
  await appendLayers(root, 'an:base', 'an:over', [
    { entries: [dirEntry('app', { mode: 0o755 }), fileEntry('app/data.bin', data1000, { mode: 0o644 })], createdBy: COPY('/app/data.bin') },
    { entries: [dirEntry('app', { mode: 0o755 }), fileEntry('app/data.bin', randomBytes(400), { mode: 0o644 })], createdBy: RUN('head -c 400 /dev/urandom > /app/data.bin') },
  ]);
  // a chmod-only copy-up of a COPYed file
  await appendLayers(root, 'an:base', 'an:chmod', [
    { entries: [dirEntry('app', { mode: 0o755 }), fileEntry('app/run.sh', script, { mode: 0o644 })], createdBy: COPY('/app/run.sh') },
    { entries: [dirEntry('app', { mode: 0o755 }), fileEntry('app/run.sh', script, { mode: 0o755 })], createdBy: RUN('chmod +x /app/run.sh') },
  ]);
  // a deleted directory of 300 files of 100 bytes
  const cacheFiles = Array.from({ length: 300 }, (_, i) => fileEntry(`cache/f${String(i).padStart(3, '0')}`, randomBytes(100), { mode: 0o644 }));
  await appendLayers(root, 'an:base', 'an:deldir', [
    { entries: [dirEntry('cache', { mode: 0o755 }), ...cacheFiles], createdBy: RUN('fill-cache') },
    { entries: [whiteout('cache')], createdBy: RUN('rm -rf /cache') },
  ]);
  // an opaque directory: recreated, hiding its lower children a (111) and b (222)
  await appendLayers(root, 'an:base', 'an:opaque', [
    { entries: [dirEntry('opq', { mode: 0o755 }), fileEntry('opq/a', randomBytes(111)), fileEntry('opq/b', randomBytes(222))], createdBy: RUN('make-opq') },
    { entries: [dirEntry('opq', { mode: 0o755 }), opaque('opq'), fileEntry('opq/c', randomBytes(33))], createdBy: RUN('rm -rf /opq && mkdir /opq && make-c') },
  ]);
  // hard links: one name deleted, then both names deleted
  const pair = { entries: [dirEntry('hl', { mode: 0o755 }), fileEntry('hl/a', linked), hardlinkEntry('hl/b', 'hl/a')], createdBy: RUN('make-pair') };
  await appendLayers(root, 'an:base', 'an:hl-one', [pair, { entries: [dirEntry('hl', { mode: 0o755 }), whiteout('hl/a')], createdBy: RUN('rm /hl/a') }]);
  await appendLayers(root, 'an:base', 'an:hl-both', [pair, { entries: [dirEntry('hl', { mode: 0o755 }), whiteout('hl/a'), whiteout('hl/b')], createdBy: RUN('rm /hl/a /hl/b') }]);
  // a file replaced by a directory (Docker writes the new directory opaque), a directory replaced by a file
  await appendLayers(root, 'an:base', 'an:file2dir', [
    { entries: [fileEntry('x', randomBytes(700))], createdBy: RUN('make-x') },
    { entries: [dirEntry('x', { mode: 0o755 }), opaque('x'), fileEntry('x/inner', randomBytes(10))], createdBy: RUN('rm /x && mkdir /x && make-inner') },
  ]);
  await appendLayers(root, 'an:base', 'an:dir2file', [
    { entries: [dirEntry('y', { mode: 0o755 }), fileEntry('y/one', randomBytes(50)), fileEntry('y/two', randomBytes(60))], createdBy: RUN('make-y') },
    { entries: [fileEntry('y', randomBytes(5))], createdBy: RUN('rm -rf /y && make-y-file') },
  ]);

  const analyze = (ref: string, ...args: string[]) => shaleJson<AnalysisJson>(['analyze', ref, ...args], o);

  await t.test('a file overwritten by a later layer: 1000 bytes overwritten, made by the COPY, hidden by the RUN', () => {
    const a = analyze('an:over');
    assert.equal(a.image, 'an:over');
    assert.equal(a.baseLayers, 1, 'an:base is a prefix of an:over');
    assert.deepEqual(a.waste.items.map(pick), [
      { path: '/app/data.bin', bytes: 1000, files: 1, kind: 'overwritten', layer: 1, hiddenByLayer: 2, createdBy: COPY('/app/data.bin'), hiddenBy: RUN('head -c 400 /dev/urandom > /app/data.bin'), base: false },
    ]);
    assert.match(a.waste.items[0]!.fix, /COPY its final version once/);
    assert.deepEqual({ hidden: a.waste.hiddenBytes, user: a.waste.userHiddenBytes, base: a.waste.baseHiddenBytes }, { hidden: 1000, user: 1000, base: 0 });
    assert.equal(a.layers[0]!.base, true);
    assert.equal(a.layers[0]!.sizeBytes, baseBytes);
    assert.deepEqual(counts(a), [
      { createdBy: COPY('/app/data.bin'), sizeBytes: 1000, added: 1, modified: 0, removed: 0, hiddenBytes: 1000, base: false },
      { createdBy: RUN('head -c 400 /dev/urandom > /app/data.bin'), sizeBytes: 400, added: 0, modified: 1, removed: 0, hiddenBytes: 0, base: false },
    ]);
    assert.equal(a.sizeBytes, baseBytes + 1000 + 400);
    // dive: /app/data.bin scored 1000 and 400 (cumulative 1400, min 400); the base's leaves once each.
    // header sizes: the base's regular files only (symlinks have size 0)
    const B = treeBytes(rootfs).files;
    assert.equal(a.dive.wastedBytes, 1400);
    assert.equal(a.dive.efficiency, (B + 400) / (B + 1400));
    assert.equal(a.dive.userWastedPercent, 1400 / 1400);
  });

  await t.test('a chmod-only copy-up: the same 5000 bytes with a new mode is kind metadata, fix COPY --chmod', () => {
    const a = analyze('an:chmod');
    assert.deepEqual(a.waste.items.map(pick), [
      { path: '/app/run.sh', bytes: 5000, files: 1, kind: 'metadata', layer: 1, hiddenByLayer: 2, createdBy: COPY('/app/run.sh'), hiddenBy: RUN('chmod +x /app/run.sh'), base: false },
    ]);
    assert.match(a.waste.items[0]!.fix, /COPY --chmod/);
    assert.equal(a.waste.hiddenBytes, 5000);
    assert.deepEqual(counts(a).map((l) => [l.added, l.modified, l.removed]), [[1, 0, 0], [0, 1, 0]]);
  });

  await t.test('a deleted directory of 300 files: one item of 30000 bytes, files 300, kind deleted', () => {
    const a = analyze('an:deldir');
    // 300 files * 100 bytes
    assert.deepEqual(a.waste.items.map(pick), [
      { path: '/cache', bytes: 30_000, files: 300, kind: 'deleted', layer: 1, hiddenByLayer: 2, createdBy: RUN('fill-cache'), hiddenBy: RUN('rm -rf /cache'), base: false },
    ]);
    assert.match(a.waste.items[0]!.fix, /chain them/);
    assert.deepEqual(counts(a).map((l) => [l.sizeBytes, l.added, l.modified, l.removed, l.hiddenBytes]), [[30_000, 300, 0, 0, 30_000], [0, 0, 0, 300, 0]]);
    // dive counts the deleted directory once at its own path: nothing wasted
    assert.equal(a.dive.wastedBytes, 0);
    assert.equal(a.dive.efficiency, 1);
    const table = shaleOk(['analyze', 'an:deldir'], o).stdout;
    assert.match(table, /30kB\s+deleted\s+\/cache \(300 files\)/);
  });

  await t.test('an opaque directory hides its lower children: 333 bytes deleted at /opq', () => {
    const a = analyze('an:opaque');
    assert.deepEqual(a.waste.items.map(pick), [
      { path: '/opq', bytes: 333, files: 2, kind: 'deleted', layer: 1, hiddenByLayer: 2, createdBy: RUN('make-opq'), hiddenBy: RUN('rm -rf /opq && mkdir /opq && make-c'), base: false },
    ]);
    assert.deepEqual(counts(a).map((l) => [l.added, l.modified, l.removed]), [[2, 0, 0], [1, 0, 2]]);
  });

  await t.test('hard links: deleting one name hides nothing; deleting both hides the 4096 bytes once', () => {
    const one = analyze('an:hl-one');
    assert.deepEqual(one.waste.items, []);
    assert.equal(one.waste.hiddenBytes, 0);
    assert.equal(one.layers[1]!.sizeBytes, 4096, 'a hard link adds no content bytes');
    const both = analyze('an:hl-both');
    assert.deepEqual(both.waste.items.map(pick), [
      { path: '/hl/b', bytes: 4096, files: 1, kind: 'deleted', layer: 1, hiddenByLayer: 2, createdBy: RUN('make-pair'), hiddenBy: RUN('rm /hl/a /hl/b'), base: false },
    ]);
    assert.equal(both.waste.hiddenBytes, 4096);
    assert.deepEqual(counts(both).map((l) => [l.added, l.modified, l.removed]), [[2, 0, 0], [0, 0, 2]]);
  });

  await t.test('a file replaced by a directory, and a directory replaced by a file: overwritten', () => {
    const f2d = analyze('an:file2dir');
    assert.deepEqual(f2d.waste.items.map(pick), [
      { path: '/x', bytes: 700, files: 1, kind: 'overwritten', layer: 1, hiddenByLayer: 2, createdBy: RUN('make-x'), hiddenBy: RUN('rm /x && mkdir /x && make-inner'), base: false },
    ]);
    const d2f = analyze('an:dir2file');
    // y/one 50 + y/two 60
    assert.deepEqual(d2f.waste.items.map(pick), [
      { path: '/y', bytes: 110, files: 2, kind: 'overwritten', layer: 1, hiddenByLayer: 2, createdBy: RUN('make-y'), hiddenBy: RUN('rm -rf /y && make-y-file'), base: false },
    ]);
    assert.deepEqual(counts(d2f).map((l) => [l.added, l.modified, l.removed]), [[2, 0, 0], [0, 1, 0]]);
  });

  await t.test('base layers are found from the images in the store and shown apart; --base-layers overrides', async () => {
    await appendLayers(root, 'an:base', 'an:mid', [
      { entries: [fileEntry('big', randomBytes(2000))], createdBy: RUN('make-big') },
      { entries: [whiteout('big')], createdBy: RUN('rm /big') },
    ]);
    await appendLayers(root, 'an:mid', 'an:top', [{ entries: [fileEntry('top.txt', randomBytes(10))], createdBy: RUN('make-top') }]);
    const top = analyze('an:top');
    assert.equal(top.baseLayers, 3, 'an:mid (3 layers) is the longest image whose layers start an:top');
    assert.deepEqual(top.layers.map((l) => l.base), [true, true, true, false]);
    assert.deepEqual(top.waste.items.map(pick), [
      { path: '/big', bytes: 2000, files: 1, kind: 'deleted', layer: 1, hiddenByLayer: 2, createdBy: RUN('make-big'), hiddenBy: RUN('rm /big'), base: true },
    ]);
    assert.match(top.waste.items[0]!.fix, /base image/);
    assert.deepEqual({ hidden: top.waste.hiddenBytes, user: top.waste.userHiddenBytes, base: top.waste.baseHiddenBytes }, { hidden: 2000, user: 0, base: 2000 });
    assert.match(shaleOk(['analyze', 'an:top'], o).stdout, /the first 3 from the base image/);

    const mid = analyze('an:mid');
    assert.equal(mid.baseLayers, 1);
    assert.equal(mid.waste.items[0]!.base, false);
    assert.match(mid.waste.items[0]!.fix, /chain them/);
    assert.deepEqual({ user: mid.waste.userHiddenBytes, base: mid.waste.baseHiddenBytes }, { user: 2000, base: 0 });

    const none = analyze('an:top', '--base-layers', '0');
    assert.equal(none.baseLayers, 0);
    assert.deepEqual(none.layers.map((l) => l.base), [false, false, false, false]);
    assert.equal(none.waste.items[0]!.base, false);
    assert.equal(none.waste.userHiddenBytes, 2000);
    const forced = analyze('an:mid', '--base-layers', '3');
    assert.equal(forced.baseLayers, 3);
    assert.equal(forced.waste.baseHiddenBytes, 2000);
  });

  await t.test('--compare: added, removed and changed paths with their sizes', async () => {
    await appendLayers(root, 'an:base', 'an:cmp-a', [
      {
        entries: [fileEntry('a.txt', 'a'.repeat(10)), fileEntry('b.txt', 'b'.repeat(20)), fileEntry('c.txt', 'c'.repeat(30)), fileEntry('e.txt', 'hello'), fileEntry('m.sh', 'echo', { mode: 0o644 })],
        createdBy: COPY('/'),
      },
    ]);
    await appendLayers(root, 'an:base', 'an:cmp-b', [
      {
        entries: [fileEntry('b.txt', 'b'.repeat(20)), fileEntry('c.txt', 'C'.repeat(35)), fileEntry('d.txt', 'd'.repeat(40)), fileEntry('e.txt', 'world'), fileEntry('m.sh', 'echo', { mode: 0o755 })],
        createdBy: COPY('/'),
      },
    ]);
    const c = shaleJson<{ a: string; b: string; added: unknown[]; removed: unknown[]; changed: unknown[]; deltaBytes: number }>(['analyze', 'an:cmp-b', '--compare', 'an:cmp-a'], o);
    assert.deepEqual(c, {
      a: 'an:cmp-a',
      b: 'an:cmp-b',
      added: [{ path: '/d.txt', type: 'file', size: 40 }],
      removed: [{ path: '/a.txt', type: 'file', size: 10 }],
      changed: [
        { path: '/c.txt', type: 'file', before: 30, after: 35, what: ['content'] },
        { path: '/e.txt', type: 'file', before: 5, after: 5, what: ['content'] },
        { path: '/m.sh', type: 'file', before: 4, after: 4, what: ['mode'] },
      ],
      // (20 + 35 + 40 + 5 + 4) - (10 + 20 + 30 + 5 + 4) = 104 - 69
      deltaBytes: 35,
    });
    const text = shaleOk(['analyze', 'an:cmp-b', '--compare', 'an:cmp-a'], o).stdout;
    assert.match(text, /1 added, 1 removed, 3 changed/);
    assert.match(text, /^A \/d\.txt \(40B\)$/m);
  });

  await t.test('malformed sources and arguments: exit 2 with one error line naming the thing, the store unchanged', async () => {
    const before = storeState(o);
    const archive = join(work, 'over.tar');
    shaleOk(['save', '-o', archive, 'an:over'], o);
    const truncated = join(work, 'truncated.tar');
    writeFileSync(truncated, readFileSync(archive).subarray(0, Math.floor(statSync(archive).size / 2)));
    const evil = join(work, 'evil.tar');
    writeFileSync(evil, await dockerArchive([await tarBytes([fileEntry('../evil', 'x')])]));
    // a layer changed after its digest was taken: read in place, the digest is still checked
    const tampered = join(work, 'tampered.tar');
    const good = await dockerArchive([await tarBytes([fileEntry('data', 'content-before-tampering')])]);
    const at = good.indexOf('content-before-tampering');
    good[at] ^= 1;
    writeFileSync(tampered, good);
    // a header whose checksum field holds a newline: the error still comes on one line
    const newline = join(work, 'newline.tar');
    const text = Buffer.alloc(1024, 'a');
    text[150] = 0x0a;
    writeFileSync(newline, text);
    const badCi = join(work, 'bad-ci.yaml');
    writeFileSync(badCi, 'rules:\n  lowestEfficiency: very-high\n');
    const rangeCi = join(work, 'range-ci.yaml');
    writeFileSync(rangeCi, 'rules:\n  lowestEfficiency: 1.1\n');
    const cases: [string, string[], RegExp][] = [
      ['missing image', ['analyze', 'an:nosuch'], /an:nosuch/],
      ['truncated archive', ['analyze', `docker-archive:${truncated}`], /truncated/],
      ['path traversal in a layer', ['analyze', `docker-archive:${evil}`], /\.\.\/evil/],
      ['a newline in a header field', ['analyze', `docker-archive:${newline}`], /checksum field "a+\\na+" is not a number/],
      ['a layer whose bytes are not its diff_id', ['analyze', `docker-archive:${tampered}`], /has digest sha256:[a-f0-9]{64}, expected sha256:/],
      ['unknown --format', ['analyze', 'an:over', '--format', 'xml'], /xml/],
      ['bad --ci-config value', ['analyze', 'an:over', '--ci-config', badCi], /lowestEfficiency "very-high"/],
      ['missing --ci-config file', ['analyze', 'an:over', '--ci-config', join(work, 'absent.yaml')], /absent\.yaml/],
      ['bad --lowest-efficiency', ['analyze', 'an:over', '--lowest-efficiency', 'high'], /--lowest-efficiency/],
      ['--lowest-efficiency above 1', ['analyze', 'an:over', '--lowest-efficiency', '1.1'], /--lowest-efficiency: lowestEfficiency "1\.1" is outside the allowed range \(0-1\)/],
      ['negative --highest-user-wasted-percent', ['analyze', 'an:over', '--highest-user-wasted-percent', '-0.1'], /highestUserWastedPercent "-0\.1" is outside/],
      ['--ci-config efficiency above 1', ['analyze', 'an:over', '--ci-config', rangeCi], /range-ci\.yaml: lowestEfficiency "1\.1" is outside/],
      ['bad --base-layers', ['analyze', 'an:over', '--base-layers', 'two'], /--base-layers "two"/],
      ['fractional --base-layers', ['analyze', 'an:over', '--base-layers', '1.5'], /--base-layers "1\.5"/],
      ['missing --compare image', ['analyze', 'an:over', '--compare', 'an:gone'], /an:gone/],
    ];
    for (const [what, args, names] of cases) {
      const line = assertCliError(shale(args, o), what);
      assert.match(line, names, `${what}: ${line}`);
    }
    truncateSync(archive, 0);
    assertCliError(shale(['analyze', `docker-archive:${archive}`], o), 'empty archive');
    assert.deepEqual(storeState(o), before);
  });
});


/** What must not change with the source's transport: everything but the name and the blobs' own digests/sizes. */
const comparable = (a: AnalysisJson) => ({
  id: a.id,
  sizeBytes: a.sizeBytes,
  baseLayers: a.baseLayers,
  layers: a.layers.map((l) => ({ index: l.index, diffId: l.diffId, createdBy: l.createdBy, sizeBytes: l.sizeBytes, added: l.added, modified: l.modified, removed: l.removed, hiddenBytes: l.hiddenBytes, base: l.base })),
  dive: a.dive,
  waste: a.waste,
});

test('analyze the seed example: split hides 52,428,800 bytes, chained nothing; CI rules and config; Docker and OCI sources agree', { timeout: 600_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const o = { root };
  const name = `shale-analyze-${uniqueSuffix()}`;
  const base = busyboxBase(t, work, root, `${name}:base`);
  const buildArgs = ['--build-arg', `BASE=${base.ref}`];
  const split = shaleBuild(root, SEED, ['-f', join(SEED, 'Dockerfile.split'), '-t', `${name}:split`, ...buildArgs], undefined, { classic: true }).id;
  shaleBuild(root, SEED, ['-f', join(SEED, 'Dockerfile.chained'), '-t', `${name}:chained`, ...buildArgs], undefined, { classic: true });
  const B = treeBytes(base.rootfs).files; // the base layer's header sizes: its regular files
  const analyzeRun = (args: string[], cwd?: string) => {
    const r = shale(['analyze', ...args, '--format', 'json'], { root, cwd });
    assert.ok(r.status === 0 || r.status === 1, `exit 0 or 1:\n${r.stderr}`);
    return { status: r.status, a: JSON.parse(r.stdout) as AnalysisJson };
  };

  await t.test('split: 52,428,800 bytes deleted, made by the dd RUN, hidden by the rm RUN, fix: chain them', () => {
    const a = shaleJson<AnalysisJson>(['analyze', `${name}:split`], o);
    assert.equal(a.id, split);
    assert.equal(a.baseLayers, 1);
    assert.deepEqual(a.waste.items.map(pick), [
      { path: '/home/50M.file', bytes: FIFTY_MIB, files: 1, kind: 'deleted', layer: 2, hiddenByLayer: 3, createdBy: DD, hiddenBy: RM, base: false },
    ]);
    assert.match(a.waste.items[0]!.fix, /chain them/);
    assert.deepEqual({ hidden: a.waste.hiddenBytes, user: a.waste.userHiddenBytes }, { hidden: FIFTY_MIB, user: FIFTY_MIB });
    assert.deepEqual(
      a.layers.map((l) => [l.sizeBytes, l.added, l.modified, l.removed, l.hiddenBytes, l.base]),
      [
        [a.layers[0]!.sizeBytes, a.layers[0]!.added, 0, 0, 0, true],
        [0, 0, 0, 0, 0, false], // WORKDIR /home: the directory only
        [FIFTY_MIB, 1, 0, 0, FIFTY_MIB, false],
        [0, 0, 0, 1, 0, false],
      ],
    );
    // dive: /home/50M.file scored 52428800 then 0 (the whiteout of a file): all of it wasted;
    // efficiency = (B + 0) / (B + 52428800); user bytes = 52428800, so the ratio is 1
    assert.equal(a.dive.wastedBytes, FIFTY_MIB);
    assert.equal(a.dive.efficiency, B / (B + FIFTY_MIB));
    assert.equal(a.dive.userWastedPercent, 1);
    const table = shaleOk(['analyze', `${name}:split`], o).stdout;
    assert.match(table, /52\.4MB\s+deleted\s+\/home\/50M\.file/);
  });

  await t.test('the Dockerfile lines of both builds (classic and BuildKit output) name the steps, kept beside the image', () => {
    shaleBuild(root, SEED, ['-f', join(SEED, 'Dockerfile.split'), '-t', `${name}:split-buildkit`, ...buildArgs]);
    for (const [ref, createdBy, hiddenBy] of [
      [`${name}:split`, DD, RM],
      [`${name}:split-buildkit`, `RUN ${DD} # buildkit`, `RUN ${RM} # buildkit`],
    ] as const) {
      const a = shaleJson<{ waste: { items: { createdBy: string; hiddenBy: string; createdLine?: string; hiddenLine?: string }[] }; layers: { line?: string }[] }>(['analyze', ref], o);
      assert.deepEqual(
        a.waste.items.map((i) => [i.createdBy, i.createdLine, i.hiddenBy, i.hiddenLine]),
        [[createdBy, 'Dockerfile.split:5', hiddenBy, 'Dockerfile.split:6']],
        ref,
      );
      assert.deepEqual(a.layers.map((l) => l.line), [undefined, 'Dockerfile.split:4', 'Dockerfile.split:5', 'Dockerfile.split:6'], ref);
      assert.match(shaleOk(['analyze', ref], o).stdout, /made by +layer 2: RUN dd if=\/dev\/zero of=50M\.file bs=1M count=50 \(Dockerfile\.split:5\)/, ref);
    }
  });

  await t.test('chained: nothing hidden, dive finds nothing wasted', () => {
    const a = shaleJson<AnalysisJson>(['analyze', `${name}:chained`], o);
    assert.deepEqual(a.waste.items, []);
    assert.equal(a.waste.hiddenBytes, 0);
    assert.equal(a.dive.wastedBytes, 0);
    assert.equal(a.dive.efficiency, 1);
    assert.equal(a.layers.length, 3);
  });

  await t.test("--ci with dive's defaults fails on split (exit 1) and passes on chained (exit 0)", () => {
    const s = analyzeRun([`${name}:split`, '--ci']);
    assert.equal(s.status, 1);
    assert.equal(s.a.ci!.pass, false);
    assert.deepEqual(
      s.a.ci!.rules.map((r) => [r.name, r.limit, r.pass]),
      [['highestUserWastedPercent', '0.1', false], ['highestWastedBytes', 'disabled', true], ['lowestEfficiency', '0.9', false]],
    );
    const c = analyzeRun([`${name}:chained`, '--ci']);
    assert.equal(c.status, 0);
    assert.equal(c.a.ci!.pass, true);
    const text = shale(['analyze', `${name}:split`, '--ci'], o);
    assert.equal(text.status, 1);
    assert.match(text.stdout, /Result:FAIL \[Total:3\] \[Passed:0\] \[Failed:2\] \[Warn:0\] \[Skipped:1\]/);
    assert.equal(shale(['analyze', `${name}:split`], o).status, 0, 'without --ci no rule is checked');
    // as dive: CI=true in the environment turns the rules on; --no-ci turns them off again
    const inCi = { ...o, env: { CI: 'true' } };
    const ci = shale(['analyze', `${name}:split`], inCi);
    assert.equal(ci.status, 1, 'CI=true alone checks the rules');
    assert.match(ci.stdout, /Result:FAIL \[Total:3\]/);
    assert.equal(shale(['analyze', `${name}:chained`], inCi).status, 0);
    assert.equal(shale(['analyze', `${name}:split`, '--no-ci'], inCi).status, 0, '--no-ci wins over CI=true');
  });

  await t.test('.dive-ci in the working directory and --ci-config FILE are honoured; flags override the file', () => {
    const cwd = join(work, 'cwd');
    mkdirSync(cwd);
    writeFileSync(join(cwd, '.dive-ci'), 'rules:\n  lowest_efficiency: disabled\n  highestUserWastedPercent: disabled\n  highest-wasted-bytes: 1KB\n');
    let r = analyzeRun([`${name}:split`, '--ci'], cwd);
    assert.equal(r.status, 1, 'only highestWastedBytes 1KB is checked, and 52428800 > 1000');
    assert.deepEqual(r.a.ci!.rules.map((x) => [x.name, x.limit, x.actual, x.pass]), [
      ['highestUserWastedPercent', 'disabled', 1, true],
      ['highestWastedBytes', '1KB', FIFTY_MIB, false],
      ['lowestEfficiency', 'disabled', B / (B + FIFTY_MIB), true],
    ]);
    // 50MB = 50,000,000 < 52,428,800: fails; 50MiB = 52,428,800: not above, passes
    assert.equal(analyzeRun([`${name}:split`, '--ci', '--highest-wasted-bytes', '50MB'], cwd).status, 1);
    r = analyzeRun([`${name}:split`, '--ci', '--highest-wasted-bytes', '50MiB'], cwd);
    assert.equal(r.status, 0);
    assert.equal(r.a.ci!.rules.find((x) => x.name === 'highestWastedBytes')!.limit, '50MiB');

    // --ci-config FILE takes the place of ./.dive-ci; a key that names no rule (dive's sample has one) is skipped with a warning
    const cfg = join(work, 'strict.yaml');
    writeFileSync(cfg, 'plugins:\n  - plugin1\nrules:\n  lowestEfficiency: 1\n  highestUserWastedPercent: disabled\n  plugin1/rule1: error\n');
    const strict = shale(['analyze', `${name}:split`, '--ci-config', cfg, '--format', 'json'], { root, cwd });
    assert.equal(strict.status, 1, 'an efficiency below 1 fails a limit of 1; --ci-config alone turns the rules on');
    assert.match(strict.stderr, /^warning: CI config .*strict\.yaml: ignoring unknown rule "plugin1\/rule1"/m);
    assert.deepEqual((JSON.parse(strict.stdout) as AnalysisJson).ci!.rules.map((x) => [x.name, x.limit]), [['highestUserWastedPercent', 'disabled'], ['highestWastedBytes', 'disabled'], ['lowestEfficiency', '1']]);
    assert.equal(analyzeRun([`${name}:chained`, '--ci-config', cfg], cwd).status, 0, 'an efficiency of 1 meets a limit of 1');
    assert.equal(analyzeRun([`${name}:split`, '--ci', '--ci-config', cfg, '--lowest-efficiency', '0'], cwd).status, 0);
  });

  const inStore = shaleJson<AnalysisJson>(['analyze', `${name}:split`], o);

  await t.test('an oci-archive and an OCI layout directory of the image analyse the same', () => {
    const archive = join(work, 'split.oci.tar');
    shaleOk(['save', '--format', 'oci-archive', '-o', archive, `${name}:split`], o);
    const fromArchive = shaleJson<AnalysisJson>(['analyze', `oci-archive:${archive}`], o);
    assert.deepEqual(comparable(fromArchive), comparable(inStore));
    const layout = join(work, 'split-layout');
    mkdirSync(layout);
    execFileSync('tar', ['-C', layout, '-xf', archive]);
    const fromLayout = shaleJson<AnalysisJson>(['analyze', `oci:${layout}`], o);
    assert.deepEqual(comparable(fromLayout), comparable(inStore));
  });

  await t.test("Docker's own `docker save` of the image analyses the same as the store's", (st) => {
    if (!requireTool(st, 'docker')) return;
    const ref = `${name}:split`;
    loadIntoDocker(st, root, split, ref, work);
    const saved = join(work, 'docker-saved.tar');
    dockerOk(['save', '-o', saved, ref]);
    const fromDocker = shaleJson<AnalysisJson>(['analyze', `docker-archive:${saved}`], o);
    assert.deepEqual(comparable(fromDocker), comparable(inStore));
    // a store that does not know the base: the same numbers, no base layers
    const other = tempStore(st);
    const alone = shaleJson<AnalysisJson>(['analyze', `docker-archive:${saved}`], { root: other });
    assert.equal(alone.baseLayers, 0);
    assert.deepEqual({ dive: alone.dive, hidden: alone.waste.hiddenBytes }, { dive: inStore.dive, hidden: inStore.waste.hiddenBytes });
  });
});

test("a Docker-built image (Docker's own whiteouts, opaque directory, copy-up of a hard-linked file) is accounted exactly", { timeout: 300_000 }, async (t) => {
  if (!requireTool(t, 'docker')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const name = `shale-analyze-docker-${uniqueSuffix()}`;
  const base = busyboxBase(t, work, root, `${name}:base`, { docker: true });
  const make = 'mkdir -p /d/sub && echo hello > /d/a && echo x > /d/sub/b && dd if=/dev/zero of=/f bs=1k count=3 && mkdir /y && echo 123456 > /y/one && ln /d/a /d/hard && echo abc > /x';
  const change = 'chmod 600 /d/a && rm -rf /d/sub && rm /f && rm -rf /y && echo 12 > /y && rm /x && mkdir /x && echo i > /x/i';
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${base.ref}\nRUN ${make}\nRUN ${change}\n`);
  const ref = `${name}:built`;
  dockerBuild(t, ctx, ref);
  const saved = join(work, 'built.tar');
  dockerOk(['save', '-o', saved, ref]);
  const a = shaleJson<AnalysisJson>(['analyze', `docker-archive:${saved}`], { root });
  assert.equal(a.baseLayers, 1, 'the base is in the store');
  // layer 1 content: d/a 6 ("hello\n"), d/hard (a hard link: 0), d/sub/b 2, f 3072, x 4, y/one 7 = 3091
  // layer 2 (Docker): d/a 6 (copied up by chmod), d/.wh.sub, .wh.f, x/ + x/.wh..wh..opq + x/i 2, y 3 = 11
  assert.deepEqual(
    a.layers.slice(1).map((l) => [l.sizeBytes, l.added, l.modified, l.removed, l.hiddenBytes]),
    [
      [3091, 6, 0, 0, 3085],
      [11, 1, 2, 2, 0], // x/i added; d/a and y modified; d/sub/b and f removed
    ],
  );
  // d/a's old content lives on through d/hard: not hidden. f 3072 deleted; y/one 7 overwritten by the file y;
  // x 4 overwritten by the directory x; d/sub/b 2 deleted. 3072 + 7 + 4 + 2 = 3085
  assert.deepEqual(
    a.waste.items.map((i) => [i.path, i.bytes, i.files, i.kind, i.layer, i.hiddenByLayer, i.createdBy, i.hiddenBy]),
    [
      ['/f', 3072, 1, 'deleted', 1, 2, `/bin/sh -c ${make}`, `/bin/sh -c ${change}`],
      ['/y', 7, 1, 'overwritten', 1, 2, `/bin/sh -c ${make}`, `/bin/sh -c ${change}`],
      ['/x', 4, 1, 'overwritten', 1, 2, `/bin/sh -c ${make}`, `/bin/sh -c ${change}`],
      ['/d/sub', 2, 1, 'deleted', 1, 2, `/bin/sh -c ${make}`, `/bin/sh -c ${change}`],
    ],
  );
  assert.equal(a.waste.hiddenBytes, 3085);
  // dive: scored twice: /d/a 6 + 6 and /f 3072 + 0 -> wasted 3084. Scored once: /d/hard 0, /d/sub/b 2,
  // /x 4, /y/one 7, /d/sub 2 (the whiteout of a directory: its subtree), /x/i 2, /y 3.
  // min sum = B + 6 + 0 + 0 + 2 + 4 + 7 + 2 + 2 + 3 = B + 26; cumulative sum = B + 12 + 3072 + 0 + 2 + 4 + 7 + 2 + 2 + 3 = B + 3104
  const B = treeBytes(base.rootfs).files;
  assert.equal(a.dive.wastedBytes, 3084);
  assert.equal(a.dive.efficiency, (B + 26) / (B + 3104));
  assert.equal(a.dive.userSizeBytes, 3091 + 11);
  assert.equal(a.dive.userWastedPercent, 3084 / 3102);
});
