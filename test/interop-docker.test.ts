/**
 * Interop with the real tools: Docker Engine (load/build/save/create/export/run), skopeo and umoci.
 * Skipped locally when a tool is missing; in CI (CI=true) a missing tool fails the test.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { dockerArchive, dirEntry, fileEntry, hardlinkEntry, symlinkEntry } from './support/archives.js';
import { tarBytes } from './support/append-layer.js';
import { docker, dockerCleanup, dockerImageId, dockerOk } from './support/docker.js';
import { shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { dockerServerMajor, requireTool } from './support/tools.js';
import { compareTars, compareTrees, extractTar, treeOf, type TreeEntry } from './support/tree-compare.js';

/** What Docker's container init layer adds to every container's filesystem (docker export shows them). */
const DOCKER_INIT_PATHS = ['.dockerenv', 'dev', 'dev/*', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/mtab', 'proc', 'sys'];

/** The ignore list for comparing `shale export` (a) with `docker export` (b): `etc` too when the image has none. */
const dockerExportIgnore = (shaleTree: Map<string, TreeEntry>): string[] =>
  shaleTree.has('etc') ? DOCKER_INIT_PATHS : [...DOCKER_INIT_PATHS, 'etc'];

const LONG_DIR = `data/long/${'a'.repeat(60)}/${'b'.repeat(60)}`;
const LONG_NAME = `${'n'.repeat(120)}.txt`; // one component over 100 bytes: needs PAX or a GNU long name
const LONG_PATH = `${LONG_DIR}/${LONG_NAME}`;

const dockerfile = (from: string): string => `FROM ${from}
COPY hello.txt /data/hello.txt
RUN mkdir -p /data/dir/sub /victim/inner /${LONG_DIR} \\
 && echo deep > /${LONG_PATH} \\
 && ln -s /${LONG_PATH} /data/long-link \\
 && echo x > /victim/inner/f \\
 && ln -s ../hello.txt /data/dir/link \\
 && ln /data/hello.txt /data/hard \\
 && echo keep > /data/keep && ln /data/keep /data/keep-link \\
 && mkfifo /data/fifo \\
 && echo s > /data/suid && chmod 4755 /data/suid \\
 && chmod 1777 /data/dir/sub && chmod 0640 /data/hello.txt \\
 && echo owned > /data/dir/owned && chown -R 1000:1000 /data/dir
RUN rm -rf /victim && rm /base-file.txt && echo new > /data/hello.txt
`;

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('docker interop: shale images through docker build, save, load, export and run', { timeout: 240_000 }, async (t) => {
  if (!requireTool(t, 'docker')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const cleanup = dockerCleanup(t);
  const name = `shale-e2e-${uniqueSuffix()}`;
  const base = `${name}:base`;
  const built = `${name}:built`;

  // base: a busybox rootfs imported by shale, saved, loaded into Docker
  const rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
  writeFileSync(join(rootfs, 'base-file.txt'), 'from the base\n');
  const baseId = shaleOk(['import', tarDir(rootfs, join(work, 'rootfs.tar')), base], { root }).stdout.trim();
  assert.match(baseId, /^sha256:[a-f0-9]{64}$/);
  shaleOk(['save', '-o', join(work, 'base.tar'), base], { root });
  cleanup.image(base);
  assert.match(dockerOk(['load', '-i', join(work, 'base.tar')]), new RegExp(`Loaded image: ${base}`));
  assert.equal(dockerImageId(base), baseId, 'Docker gives the image shale saved the same ID');

  // a classic-builder build on top of it, saved by Docker, loaded by shale
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
  writeFileSync(join(ctx, 'Dockerfile'), dockerfile(base));
  cleanup.image(built);
  dockerOk(['build', '-q', '-t', built, ctx], { env: { DOCKER_BUILDKIT: '0' } });
  const builtId = dockerImageId(built);
  const builtTar = join(work, 'built.tar');
  dockerOk(['save', '-o', builtTar, built]);
  const loaded = shaleJson<{ ref: string | null; id: string }[]>(['load', '-i', builtTar], { root });
  assert.deepEqual(loaded, [{ ref: built, id: builtId }]);
  const inspected = shaleJson<{ id: string; manifest: { layers: { digest: string }[] } }>(['inspect', built], { root });
  assert.equal(inspected.id, builtId);
  assert.equal(inspected.manifest.layers.length, 4, 'import + COPY + 2 RUN layers');

  await t.test('shale export of the docker-built image equals docker export of a container', () => {
    const shaleTar = join(work, 'shale-export.tar');
    shaleOk(['export', built, '-o', shaleTar], { root });
    const cid = dockerOk(['create', built, 'sh']).trim();
    cleanup.container(cid);
    const dockerTar = join(work, 'docker-export.tar');
    dockerOk(['export', '-o', dockerTar, cid]);
    dockerOk(['rm', cid]);
    const { diffs, a } = compareTars(shaleTar, dockerTar, { ignore: (a) => dockerExportIgnore(a), names: ['shale', 'docker'] });
    assert.deepEqual(diffs, [], `shale export and docker export differ:\n${diffs.join('\n')}`);

    // the build did what the Dockerfile says, so the comparison above covered each case
    const at = (p: string) => {
      const e = a.get(p);
      assert.ok(e, `${p} is in the exported tree`);
      return e;
    };
    assert.equal(at('data/hello.txt').sha256, sha('new\n'), 'overwritten in the last layer');
    assert.equal(at('data/hard').sha256, sha('hello\n'), 'the hard link made before the overwrite keeps the old content');
    assert.deepEqual(at('data/keep').hardLinks, ['data/keep-link']);
    assert.equal(at('data/fifo').type, 'fifo');
    assert.equal(at('data/dir/link').linkTarget, '../hello.txt');
    assert.equal(at('data/long-link').linkTarget, `/${LONG_PATH}`);
    assert.equal(at(LONG_PATH).sha256, sha('deep\n'));
    assert.equal(at('data/suid').mode, '4755');
    assert.equal(at('data/dir/sub').mode, '1777');
    assert.equal(at('data/hello.txt').mode, '0640');
    for (const p of ['data/dir', 'data/dir/owned', 'data/dir/sub', 'data/dir/link']) {
      assert.deepEqual([at(p).uid, at(p).gid], [1000, 1000], `${p} is owned by 1000:1000`);
    }
    assert.equal(a.has('victim'), false, 'rm -rf in a later layer removed the directory');
    assert.equal(a.has('base-file.txt'), false, 'a base file deleted by a later layer is gone');
    assert.equal(at('bin/busybox').size, readFileSync('/bin/busybox').length);
  });

  await t.test('shale save under a new tag: docker load, same ID, docker run reads the files', () => {
    const resaved = `${name}:resaved`;
    shaleOk(['tag', built, resaved], { root });
    const archive = join(work, 'resaved.tar');
    shaleOk(['save', '-o', archive, resaved], { root });
    // drop Docker's own copy of the built layers so the load below really reads shale's archive
    cleanup.image(resaved);
    dockerOk(['rmi', built]);
    assert.match(dockerOk(['load', '-i', archive]), new RegExp(`Loaded image: ${resaved}`));
    assert.equal(dockerImageId(resaved), builtId, 'Docker reports the ID shale has');
    assert.equal(dockerOk(['run', '--rm', resaved, 'cat', '/data/hello.txt']), 'new\n');
    assert.equal(dockerOk(['run', '--rm', resaved, 'cat', `/${LONG_PATH}`]), 'deep\n');
    assert.equal(dockerOk(['run', '--rm', resaved, 'stat', '-c', '%u:%g %a', '/data/dir/owned']), '1000:1000 644\n');
    assert.equal(docker(['run', '--rm', resaved, 'test', '-e', '/base-file.txt']).status, 1, 'the deleted base file stays deleted');
  });

  await t.test('gzip-compressed archives load: docker save | gzip, and the Docker 25+ layout', () => {
    const gz = join(work, 'built.tar.gz');
    execFileSync('bash', ['-o', 'pipefail', '-c', 'docker save "$1" | gzip -c > "$2"', 'bash', `${name}:resaved`, gz]);
    const fresh = tempStore(t);
    assert.deepEqual(shaleJson(['load', '-i', gz], { root: fresh }), [{ ref: `${name}:resaved`, id: builtId }]);
    assert.equal(shaleOk(['fsck'], { root: fresh }).status, 0);

    // Docker 25+ writes an OCI layout with manifest.json; older engines the legacy layout. shale's own
    // docker-archive is the 25+ layout, so it stands in for it on an older engine.
    const members = (p: string) => execFileSync('tar', ['-tzf', p], { encoding: 'utf8' }).split('\n');
    const dockerHas25Layout = members(gz).includes('oci-layout');
    assert.equal(dockerHas25Layout, dockerServerMajor() >= 25, 'docker save layout matches the engine version');
    const shaleGz = join(work, 'resaved.tar.gz');
    execFileSync('sh', ['-c', 'gzip -c < "$1" > "$2"', 'sh', join(work, 'resaved.tar'), shaleGz]);
    const m = members(shaleGz);
    for (const f of ['oci-layout', 'index.json', 'manifest.json', `blobs/sha256/${builtId.slice(7)}`]) assert.ok(m.includes(f), `25+ layout has ${f}`);
    const fresh2 = tempStore(t);
    assert.deepEqual(shaleJson(['load', '-i', shaleGz], { root: fresh2 }), [{ ref: `${name}:resaved`, id: builtId }]);
  });

  await t.test('skopeo reads shale archives; shale and umoci read what skopeo writes', (st) => {
    if (!requireTool(st, 'skopeo')) return;
    const ociArchive = join(work, 'built.oci.tar');
    shaleOk(['save', '--format', 'oci-archive', '-o', ociArchive, built], { root });
    const sk = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${ociArchive}`], { encoding: 'utf8' })) as { Layers: string[]; Digest: string };
    const mine = shaleJson<{ manifestDigest: string; manifest: { layers: { digest: string }[] } }>(['inspect', built], { root });
    assert.deepEqual(sk.Layers, mine.manifest.layers.map((l) => l.digest));
    assert.equal(sk.Digest, mine.manifestDigest);

    const layout = join(work, 'skopeo-oci');
    execFileSync('skopeo', ['copy', '-q', `oci-archive:${ociArchive}`, `oci:${layout}:copied`]);
    const fresh = tempStore(t);
    assert.deepEqual(
      shaleJson<{ id: string }[]>(['load', '-i', layout], { root: fresh }).map((l) => l.id),
      [builtId],
    );

    const layout2 = join(work, 'skopeo-oci2');
    execFileSync('skopeo', ['copy', '-q', `docker-archive:${join(work, 'resaved.tar')}`, `oci:${layout2}:x`]);
    const fresh2 = tempStore(t);
    const fromDockerArchive = shaleJson<{ id: string }[]>(['load', '-i', layout2], { root: fresh2 });
    assert.equal(fromDockerArchive.length, 1);
    // skopeo rewrites a docker-archive's manifest as OCI, but the layers' diffIds are unchanged
    const reread = shaleJson<{ config: { rootfs: { diff_ids: string[] } } }>(['inspect', fromDockerArchive[0]!.id], { root: fresh2 });
    const orig = shaleJson<{ config: { rootfs: { diff_ids: string[] } } }>(['inspect', built], { root });
    assert.deepEqual(reread.config.rootfs.diff_ids, orig.config.rootfs.diff_ids);
    // ... and its (now gzip-compressed) layers give the same root filesystem
    const viaSkopeo = join(work, 'via-skopeo.tar');
    shaleOk(['export', fromDockerArchive[0]!.id, '-o', viaSkopeo], { root: fresh2 });
    const direct = join(work, 'direct.tar');
    shaleOk(['export', built, '-o', direct], { root });
    const { diffs } = compareTars(direct, viaSkopeo, { names: ['original', 'via skopeo'] });
    assert.deepEqual(diffs, []);
  });

  await t.test('umoci unpacks the skopeo-copied layout to the tree shale exports', (st) => {
    if (!requireTool(st, 'skopeo') || !requireTool(st, 'umoci', { optional: true })) return;
    const layout = join(work, 'skopeo-oci');
    assert.ok(existsSync(layout), 'the skopeo subtest made the layout');
    const bundle = join(work, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:copied`, bundle], { stdio: ['ignore', 'ignore', 'pipe'] });
    const shaleTree = join(work, 'shale-tree');
    extractTar(join(work, 'shale-export.tar'), shaleTree);
    const a = treeOf(shaleTree);
    const b = treeOf(join(bundle, 'rootfs'));
    const diffs = compareTrees(a, b, { names: ['shale', 'umoci'] });
    assert.deepEqual(diffs, [], `shale export and umoci unpack differ:\n${diffs.join('\n')}`);
  });

  await t.test('inspect and history read docker-archive: and docker-daemon: sources without loading them', () => {
    const before = shaleJson(['images'], { root });
    const fromArchive = shaleJson<{ id: string; repoTags: string[]; config: { history: unknown[] } }>(['inspect', `docker-archive:${builtTar}`], { root });
    assert.equal(fromArchive.id, builtId);
    assert.deepEqual(fromArchive.repoTags, [built]);
    const history = shaleJson<{ id: string; createdBy: string; size: number; emptyLayer: boolean }[]>(['history', `docker-archive:${builtTar}`], { root });
    assert.equal(history.length, fromArchive.config.history.length);
    assert.equal(history[0]!.id, builtId);
    assert.match(history[0]!.createdBy, /rm -rf \/victim/);
    const baseRow = (before as { tag: string; size: number }[]).find((r) => r.tag === 'base');
    assert.equal(history.at(-1)!.size, baseRow!.size, 'the oldest entry is the imported base layer');

    const fromDaemon = shaleJson<{ id: string }>(['inspect', `docker-daemon:${name}:resaved`], { root });
    assert.equal(fromDaemon.id, builtId);
    const missing = shale(['inspect', `docker-daemon:${name}:no-such-tag`], { root });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^error: .*no-such-tag/);

    assert.deepEqual(shaleJson(['images'], { root }), before, 'reading sources does not change the store');
    const scratch = join(root, 'shale', 'tmp');
    assert.deepEqual(existsSync(scratch) ? readdirSync(scratch) : [], [], 'scratch stores are removed');
  });

  await t.test('a hand-made image (hard link to an overwritten file, whiteouts, opaque dir) exports as Docker exports it', async () => {
    const l1 = await tarBytes([
      fileEntry('a', 'old\n'),
      hardlinkEntry('b', 'a'),
      dirEntry('d', { mode: 0o750 }),
      fileEntry('d/x', 'x\n'),
      fileEntry('d/y', 'y\n'),
      dirEntry('gone'),
      fileEntry('gone/f', 'f\n'),
      symlinkEntry('s', 'a'),
    ]);
    const l2 = await tarBytes([
      fileEntry('a', 'new content\n', { mode: 0o600 }),
      dirEntry('d', { mode: 0o750 }),
      fileEntry('d/.wh..wh..opq', ''),
      fileEntry('d/z', 'z\n', { uid: 1000, gid: 1000 }),
      fileEntry('.wh.gone', ''),
    ]);
    const ref = `${name}:handmade`;
    const archive = join(work, 'handmade.tar');
    writeFileSync(archive, await dockerArchive([l1, l2], { repoTags: [ref] }));
    cleanup.image(ref);
    dockerOk(['load', '-i', archive]);
    shaleOk(['load', '-i', archive], { root });
    const shaleTar = join(work, 'handmade-shale.tar');
    shaleOk(['export', ref, '-o', shaleTar], { root });
    const cid = dockerOk(['create', ref, 'none']).trim();
    cleanup.container(cid);
    const dockerTar = join(work, 'handmade-docker.tar');
    dockerOk(['export', '-o', dockerTar, cid]);
    const { diffs, a } = compareTars(shaleTar, dockerTar, { ignore: (a) => dockerExportIgnore(a), names: ['shale', 'docker'] });
    assert.deepEqual(diffs, [], `shale export and docker export differ:\n${diffs.join('\n')}`);
    assert.deepEqual([...a.keys()].sort(), ['a', 'b', 'd', 'd/z', 's']);
    assert.equal(a.get('b')!.sha256, sha('old\n'));
  });
});
