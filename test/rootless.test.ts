/**
 * shale without root (issue 14), run by ordinary users that the suite makes: builds give what the same build
 * by root gives from the same base tar (the seed's split and chained builds, COPY --chown, USER 1000, hard
 * links, whiteouts and opaque directories, the apt build on Debian); containers run, log, stop, diff, commit,
 * squash, push and pull as the user; without a subordinate range only root-owned files can be made and the
 * errors say why; a kernel that refuses user namespaces and a store of root's are refused with one clear line.
 * The cases run in order and share one base tar, one root store and one store of the user's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { busyboxBase, CONTAINER_PATHS, shaleBuild, shaleImageLayers, writeContext, type LayerListing } from './support/build.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { debianRootfsTar, TIME_DEPENDENT, TIMESTAMPED_LOGS } from './support/debian.js';
import { startRegistry } from './support/registry.js';
import { openToAll, rootlessUsers, shaleWithoutUserNamespaces, userDir, userStore } from './support/rootless.js';
import { FIFTY_MIB, SEED } from './support/seed.js';
import { assertErrorAfterProgress, shale, shaleJson, shaleOk, spawnOptionsOf, tempDir, tempStore, type ImageRow, type ShaleOptions, type ShaleUser } from './support/shale.js';
import { compareTars } from './support/tree-compare.js';

const BASE = 'rl-base:1';

/** The context of the ownership and whiteout cases (COPY layers compared by digest: same files, same times). */
const EDGE = {
  Dockerfile: `FROM ${BASE}
COPY --chown=1000:1000 owned/ /
COPY plain/ /
USER 1000
RUN mkdir /tmp/u && echo hi > /tmp/u/f && ln /tmp/u/f /tmp/u/g
USER 0
RUN ln /a.txt /a-hard && rm /etc/motd && rm -rf /opt/app && mkdir /opt/app && echo new > /opt/app/three
`,
  'Dockerfile.chown': `FROM ${BASE}\nCOPY --chown=1000:1000 owned/ /\n`,
  'Dockerfile.fail': `FROM ${BASE}\nRUN false\n`,
  'owned/a.txt': 'a\n',
  'owned/sub': { dir: true },
  'owned/sub/c.txt': 'c\n',
  'plain/p.txt': 'p\n',
} as const;

/** The apt build: `_apt` (uid 42) owns what apt-get update makes, so the map needs more than one id. */
const APT = `FROM rl-debian:base\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n`;

/** Files of the apt build whose bytes depend on when it ran (test/support/debian.ts): their type, mode and owner are still compared. */
const varies = (path: string): boolean => [...TIME_DEPENDENT, ...TIMESTAMPED_LOGS].includes(path);

/** Asserts that no layer carries overlayfs' own marks (`trusted.overlay.*` as root, `user.overlay.*` without). */
function assertNoOverlayXattrs(layers: LayerListing[], what: string): void {
  const leaked = layers.flat().filter((l) => /xattrs=.*\b(user|trusted)\.overlay\./.test(l));
  assert.deepEqual(leaked, [], `${what}: no overlay xattrs in any layer`);
}

/** The id maps of the user's namespace, read from its holder (pid in /tmp/shale-UID/userns.pid, no XDG_RUNTIME_DIR). */
function holderMaps(user: ShaleUser): { uid: number[][]; gid: number[][] } {
  const pid = readFileSync(join(tmpdir(), `shale-${user.uid}`, 'userns.pid'), 'utf8').trim();
  assert.equal(readFileSync(`/proc/${pid}/cmdline`, 'latin1'), 'sleep\0infinity\0', 'the holder is a sleep');
  const map = (f: string) => readFileSync(`/proc/${pid}/${f}`, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  return { uid: map('uid_map'), gid: map('gid_map') };
}

interface HistoryRow {
  createdBy: string;
  size: number;
  emptyLayer: boolean;
  comment: string;
}

/** What a build must give alike as root and as the user: sizes, history (not `created`), layer listings, analysis. */
async function imageFacts(o: ShaleOptions, ref: string) {
  const [repository, tag] = ref.split(':');
  const row = shaleJson<ImageRow[]>(['images'], o).find((r) => r.repository === repository && r.tag === tag);
  assert.ok(row, `${ref} is listed${o.user ? ` in ${o.user.name}'s store` : ''}`);
  const history = shaleJson<HistoryRow[]>(['history', ref], o).map((h) => ({ createdBy: h.createdBy, size: h.size, emptyLayer: h.emptyLayer, comment: h.comment }));
  const analysis = shaleJson<{ dive: { wastedBytes: number; efficiency: number }; layers: { sizeBytes: number; createdBy: string; added: number; modified: number; removed: number; hiddenBytes: number }[] }>(['analyze', ref], o);
  return {
    size: row.size,
    layerCount: row.layers,
    history,
    listings: await shaleImageLayers(o.root, ref, o.user),
    wastedBytes: analysis.dive.wastedBytes,
    efficiency: analysis.dive.efficiency,
    analyzedLayers: analysis.layers.map(({ sizeBytes, createdBy, added, modified, removed, hiddenBytes }) => ({ sizeBytes, createdBy, added, modified, removed, hiddenBytes })),
  };
}

const layerDigests = (o: ShaleOptions, ref: string): string[] =>
  shaleJson<{ manifest: { layers: { digest: string }[] } }>(['inspect', ref], o).manifest.layers.map((l) => l.digest);

/** Every path of a tree with type, mode, owner, size, times and content hash: a store's state, byte for byte. */
function treeState(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = join(rel, name);
      const full = join(root, path);
      const s = lstatSync(full, { bigint: true });
      const what = s.isFile() ? createHash('sha256').update(readFileSync(full)).digest('hex') : s.isSymbolicLink() ? `-> ${readlinkSync(full)}` : '';
      out.push(`${path} ${s.mode.toString(8)} ${s.uid}:${s.gid} ${s.size} ${s.mtimeNs} ${s.ctimeNs} ${what}`);
      if (s.isDirectory()) walk(path);
    }
  };
  walk('');
  return out;
}

test('rootless: builds as an ordinary user match root builds; containers, registry, single-id map and refusals', { timeout: 900_000 }, async (t) => {
  const users = rootlessUsers(t);
  if (!users) return;
  const { ranged, single } = users;
  // root's inputs (base tars, build contexts) in one directory everyone can read
  const shared = tempDir(t, 'shale-rl-shared-');
  const work = tempDir(t);
  const asRoot: ShaleOptions = { root: tempStore(t) };
  const asUser: ShaleOptions = { root: userStore(t, ranged), user: ranged };

  busyboxBase(t, shared, asRoot.root, BASE, {
    extra: (rootfs) => writeContext(rootfs, { 'etc/motd': 'hello\n', 'opt/app': { dir: true }, 'opt/app/one': '1\n', 'opt/app/two': '2\n' }),
  });
  const baseTar = join(shared, 'base-rootfs.tar');
  const seed = join(shared, 'seed');
  cpSync(SEED, seed, { recursive: true, preserveTimestamps: true });
  const edge = writeContext(join(shared, 'edge'), EDGE);
  openToAll(shared);
  const userBase = shaleOk(['import', baseTar, BASE], asUser).stdout.trim();
  assert.match(userBase, /^sha256:[a-f0-9]{64}$/);
  assert.deepEqual(layerDigests(asUser, BASE), layerDigests(asRoot, BASE), 'the same base tar gives the same base layer in both stores');
  assert.deepEqual(holderMaps(ranged), {
    uid: [[0, ranged.uid, 1], [1, ranged.range.start, ranged.range.count]],
    gid: [[0, ranged.gid, 1], [1, ranged.range.start, ranged.range.count]],
  }, 'the user is 0 in the namespace, their subordinate range 1..N');

  await t.test('the seed split and chained builds: the same layers, sizes, history and analysis as root', async () => {
    for (const [file, ref, classic] of [
      ['Dockerfile.split', 'rl-seed:split', true],
      ['Dockerfile.chained', 'rl-seed:chained', false],
    ] as const) {
      for (const o of [asRoot, asUser]) shaleBuild(o.root, seed, ['-f', join(seed, file), '-t', ref, '--build-arg', `BASE=${BASE}`], undefined, { classic, user: o.user });
      const mine = await imageFacts(asUser, ref);
      assert.deepEqual(mine, await imageFacts(asRoot, ref), `${ref}: the user's build is root's`);
    }
    const split = await imageFacts(asUser, 'rl-seed:split');
    assertNoOverlayXattrs(split.listings, 'rl-seed:split');
    assert.equal(split.layerCount, 4);
    assert.equal(split.size, (await imageFacts(asUser, BASE)).size + FIFTY_MIB, 'the split build keeps the 50 MiB');
    assert.equal(split.wastedBytes, FIFTY_MIB, 'analyze sees the 50 MiB hidden by the rm layer');
    assert.deepEqual(split.listings.slice(2), [
      ['d 0755 0:0 0 home', `f 0644 0:0 ${FIFTY_MIB} home/50M.file`],
      ['d 0755 0:0 0 home', 'whiteout home/.wh.50M.file'],
    ]);
  });

  await t.test('COPY --chown, USER 1000, hard links, a whiteout and an opaque directory: layers as root makes them', async () => {
    for (const o of [asRoot, asUser]) shaleBuild(o.root, edge, ['-t', 'rl-edge:1'], undefined, { user: o.user });
    const [rootDigests, userDigests] = [layerDigests(asRoot, 'rl-edge:1'), layerDigests(asUser, 'rl-edge:1')];
    assert.equal(userDigests.length, 5);
    assert.deepEqual(userDigests.slice(0, 3), rootDigests.slice(0, 3), 'the base and both COPY layers are byte-equal to root\'s');
    const layers = await shaleImageLayers(asUser.root, 'rl-edge:1', ranged);
    assert.deepEqual(layers, await shaleImageLayers(asRoot.root, 'rl-edge:1'), 'the RUN layers hold the same entries as root\'s');
    assert.deepEqual(layers[1], ['f 0644 1000:1000 2 a.txt', 'd 0755 1000:1000 0 sub', 'f 0644 1000:1000 2 sub/c.txt'], 'COPY --chown gives 1000:1000');
    assert.deepEqual(layers[2], ['f 0644 0:0 2 p.txt'], 'COPY without --chown gives 0:0 (the context files are root\'s, unmapped in the namespace)');
    const run1 = layers[3]!.join('\n');
    assert.match(run1, /^d 0755 1000:1000 0 tmp\/u$/m, 'USER 1000 made /tmp/u');
    assert.match(run1, /^f 0644 1000:1000 3 tmp\/u\/f$/m);
    assert.match(run1, /^h 0644 1000:1000 0 tmp\/u\/g -> tmp\/u\/f$/m, 'the hard link is a link entry');
    const run2 = layers[4]!;
    assert.ok(run2.includes('whiteout etc/.wh.motd'), `the deleted base file is a whiteout:\n${run2.join('\n')}`);
    assert.ok(run2.includes('whiteout opt/app/.wh..wh..opq'), `the re-made base directory is opaque:\n${run2.join('\n')}`);
    assert.ok(run2.includes('f 0644 0:0 4 opt/app/three'));
    assert.ok(run2.some((l) => /^h 0644 1000:1000 0 (a-hard -> a\.txt|a\.txt -> a-hard)$/.test(l)), `the hard link to a lower file:\n${run2.join('\n')}`);
    assertNoOverlayXattrs(layers, 'rl-edge:1');
    // the image as a container sees it
    const seen = shaleOk(['run', '--rm', 'rl-edge:1', 'sh', '-c', 'ls /opt/app; stat -c "%u:%g %h" /a.txt; test -e /etc/motd || echo gone'], asUser).stdout;
    assert.equal(seen, 'three\n1000:1000 2\ngone\n');
  });

  await t.test('containers as the user: run, run -d, logs, stop, ps, diff, commit, squash, --snapshotter', async () => {
    assert.equal(shaleOk(['run', '--rm', BASE, 'echo', 'hi'], asUser).stdout, 'hi\n');
    shaleOk(['run', '-d', '--name', 'c', BASE, 'sh', '-c', 'echo started; sleep 300'], asUser);
    const deadline = Date.now() + 15_000;
    let logs = '';
    while (!logs.includes('started') && Date.now() < deadline) logs = shaleOk(['logs', 'c'], asUser).stdout;
    assert.equal(logs, 'started\n');
    const t0 = Date.now();
    shaleOk(['stop', '-t', '2', 'c'], asUser);
    assert.ok(Date.now() - t0 < 10_000, `stop -t 2 took ${Date.now() - t0} ms`);
    const ps = shaleJson<{ name: string; status: string }[]>(['ps', '-a'], asUser);
    assert.match(ps.find((p) => p.name === 'c')?.status ?? '', /^Exited \(\d+\)/, `ps -a shows c exited: ${JSON.stringify(ps)}`);

    shaleOk(['run', '--name', 'c2', BASE, 'sh', '-c', 'echo x > /new; rm /etc/motd'], asUser);
    const diff = shaleOk(['diff', 'c2'], asUser).stdout.split('\n');
    assert.ok(diff.includes('A /new') && diff.includes('D /etc/motd'), `diff c2:\n${diff.join('\n')}`);
    shaleOk(['commit', 'c2', 'rl-img:c'], asUser);
    assert.equal(shaleOk(['run', '--rm', 'rl-img:c', 'cat', '/new'], asUser).stdout, 'x\n');
    assert.equal(shale(['run', '--rm', 'rl-img:c', 'test', '-e', '/etc/motd'], asUser).status, 1, 'the committed deletion hides the base file');
    const committed = await shaleImageLayers(asUser.root, 'rl-img:c', ranged);
    assert.ok(committed.at(-1)!.includes('whiteout etc/.wh.motd'), `commit writes the deletion as a whiteout:\n${committed.at(-1)!.join('\n')}`);
    assertNoOverlayXattrs(committed, 'rl-img:c');

    shaleOk(['squash', 'rl-seed:split', '-t', 'rl-seed:squashed'], asUser);
    const squashed = await imageFacts(asUser, 'rl-seed:squashed');
    assert.equal(squashed.size, (await imageFacts(asUser, BASE)).size, 'squash drops the hidden 50 MiB');
    assert.equal(squashed.layerCount, 2);
    assert.equal(shaleOk(['run', '--rm', 'rl-seed:squashed', 'ls', '-A', '/home'], asUser).stdout, '');

    for (const snapshotter of ['copy', 'overlayfs', 'auto']) {
      assert.equal(shaleOk(['run', '--snapshotter', snapshotter, '--rm', 'rl-img:c', 'cat', '/new'], asUser).stdout, 'x\n', `run --snapshotter ${snapshotter}`);
    }
    shaleOk(['rm', 'c', 'c2'], asUser);
    assert.deepEqual(shaleJson(['ps', '-a'], asUser), []);
  });

  await t.test("without --root the store is the user's $XDG_DATA_HOME/shale", async (st) => {
    const data = userDir(st, ranged);
    const { cwd, env, uid, gid } = spawnOptionsOf({ ...asUser, env: { XDG_DATA_HOME: data } });
    const r = spawnSync(ranged.bin, ['import', baseTar, BASE], { cwd, env, uid, gid, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const store = lstatSync(join(data, 'shale', 'index.json'));
    assert.deepEqual([store.uid, store.gid], [ranged.uid, ranged.gid], 'the store is the user\'s own');
  });

  await t.test('push to and pull from a local registry as the user', async (st) => {
    const registry = await startRegistry(st, work);
    const ref = `${registry.host}/rootless/img:c`;
    shaleOk(['tag', 'rl-img:c', ref], asUser);
    const pushed = shaleJson<{ manifestDigest: string; id: string }>(['push', ref], asUser);
    const fresh: ShaleOptions = { root: userStore(st, ranged), user: ranged };
    const pulled = shaleJson<{ manifestDigest: string; id: string }>(['pull', ref], fresh);
    assert.equal(pulled.manifestDigest, pushed.manifestDigest);
    assert.equal(pulled.id, pushed.id);
    assert.equal(shaleOk(['run', '--rm', ref, 'cat', '/new'], fresh).stdout, 'x\n');
  });

  await t.test('the apt build on Debian: the same final tree as root\'s, _apt keeps its files', { timeout: 600_000 }, async (st) => {
    const tar = debianRootfsTar(st);
    if (!tar) return;
    const debian = openToAll(tempDir(st, 'shale-rl-debian-'));
    const debianTar = join(debian, 'debian.tar');
    copyFileSync(tar, debianTar);
    const ctx = writeContext(join(debian, 'ctx'), { Dockerfile: APT });
    openToAll(debian);
    const sides: [ShaleOptions, ShaleOptions] = [{ root: tempStore(st) }, { root: userStore(st, ranged), user: ranged }];
    const exports: string[] = [];
    for (const o of sides) {
      shaleOk(['import', debianTar, 'rl-debian:base'], { ...o, timeoutMs: 300_000 });
      const { result } = shaleBuild(o.root, ctx, ['--progress', 'plain', '-t', 'rl-debian:curl'], 600_000, { user: o.user });
      assert.match(result.stderr, /Setting up curl /, 'apt installed curl');
      const out = join(o.user ? userDir(st, ranged) : tempDir(st), 'export.tar');
      shaleOk(['export', 'rl-debian:curl', '-o', out], { ...o, timeoutMs: 300_000 });
      exports.push(out);
    }
    const { diffs, a, b } = compareTars(exports[0]!, exports[1]!, { ignore: CONTAINER_PATHS, names: ['root', 'rootless'] });
    const unexpected = diffs.filter((d) => {
      const m = /^(.*): (size|sha256) /.exec(d);
      return !(m && varies(m[1]!));
    });
    assert.deepEqual(unexpected, [], `the final trees differ:\n${unexpected.join('\n')}`);
    assert.equal(b.get('usr/bin/curl')?.type, 'file', 'curl is installed');
    assertNoOverlayXattrs(await shaleImageLayers(sides[1].root, 'rl-debian:curl', ranged), 'rl-debian:curl');
    for (const p of ['var/lib/apt/lists/partial', 'var/cache/apt/archives/partial']) {
      assert.equal(a.get(p)?.uid, 42, `${p} is _apt's in root's build`);
      assert.equal(b.get(p)?.uid, 42, `${p} is _apt's in the rootless build`);
    }
    assert.match(shaleOk(['run', '--rm', 'rl-debian:curl', 'curl', '--version'], sides[1]).stdout, /^curl \d/);
  });

  await t.test('without a subordinate range: root-owned builds work and match; another owner fails naming /etc/subuid', async (st) => {
    const asSingle: ShaleOptions = { root: userStore(st, single), user: single };
    const first = shaleOk(['import', baseTar, BASE], asSingle);
    assert.match(first.stderr, /^warning: .*\/etc\/subuid/m, 'the first command says only one id is mapped');
    assert.deepEqual(holderMaps(single), { uid: [[0, single.uid, 1]], gid: [[0, single.gid, 1]] }, 'only the user\'s own ids, as 0');
    shaleBuild(asSingle.root, seed, ['-f', join(seed, 'Dockerfile.split'), '-t', 'rl-seed:split', '--build-arg', `BASE=${BASE}`], undefined, { classic: true, user: single });
    assert.deepEqual(await imageFacts(asSingle, 'rl-seed:split'), await imageFacts(asRoot, 'rl-seed:split'));

    const chown = assertErrorAfterProgress(shale(['build', '-f', join(edge, 'Dockerfile.chown'), edge], asSingle), 'COPY --chown=1000 with one id');
    assert.match(chown, /^error: .*\/etc\/subuid/, chown);
    const failed = shale(['build', '-f', join(edge, 'Dockerfile.fail'), edge], asSingle);
    assert.match(assertErrorAfterProgress(failed, 'RUN false with one id'), /RUN .*false/);
    assert.match(failed.stderr, /^hint: .*\/etc\/subuid/m, 'the hint names /etc/subuid');

    // an image with a file of uid 1000 cannot be unpacked: build and run say why
    const other = join(shared, 'other-owner');
    const rootfs = writeContext(makeBusyboxRootfs(join(other, 'rootfs')), { 'home/u': { dir: true, owner: [1000, 1000] }, 'home/u/f': { content: 'x', owner: [1000, 1000] } });
    const otherTar = tarDir(rootfs, join(other, 'rootfs.tar'));
    writeFileSync(join(other, 'Dockerfile'), 'FROM rl-other:1\nRUN true\n');
    openToAll(other);
    shaleOk(['import', otherTar, 'rl-other:1'], asSingle);
    assert.match(assertErrorAfterProgress(shale(['build', other], asSingle), 'a base layer with a file of uid 1000'), /^error: .*\/etc\/subuid/);
    assert.match(assertErrorAfterProgress(shale(['run', '--rm', 'rl-other:1', 'true'], asSingle), 'run of an image with a file of uid 1000', 125), /^error: .*\/etc\/subuid/);
  });

  await t.test('a kernel that refuses user namespaces (user.max_user_namespaces = 0): exit 2 naming the setting', async (st) => {
    const knob = '/proc/sys/user/max_user_namespaces';
    const host = readFileSync(knob, 'utf8');
    // a runtime directory of its own: no holder of an earlier command to join
    const r = await shaleWithoutUserNamespaces(['images'], { ...asUser, user: ranged, env: { XDG_RUNTIME_DIR: userDir(st, ranged) } });
    assert.match(assertErrorAfterProgress(r, 'images without user namespaces'), /^error: .*user\.max_user_namespaces is 0/);
    assert.equal(readFileSync(knob, 'utf8'), host, "the host's setting is untouched");
  });

  await t.test("root's store: the user reads it, is refused writing to it, and it is left byte for byte", async () => {
    const store = asRoot.root;
    const asUserOnRoots: ShaleOptions = { ...asUser, root: store };
    const images = shaleJson<ImageRow[]>(['images'], asRoot).map((r) => r.id).sort();
    const history = shaleJson<HistoryRow[]>(['history', 'rl-seed:split'], asRoot).map((h) => h.createdBy);
    openToAll(join(store, '..'));
    const before = treeState(store);
    for (const [args, status] of [
      [['tag', BASE, 'rl-other:tag'], 2],
      [['rmi', 'rl-seed:split'], 2],
      [['import', baseTar, 'rl-again:1'], 2],
      [['build', '-t', 'rl-again:2', edge], 2],
      [['prune'], 2],
      [['run', '--rm', BASE, 'true'], 125],
    ] as const) {
      const line = assertErrorAfterProgress(shale(args, asUserOnRoots), `${args[0]} on root's store`, status);
      assert.match(line, new RegExp(`^error: .*store ${store}`), `${args[0]}: the error names the store`);
    }
    assert.deepEqual(shaleJson<ImageRow[]>(['images'], asUserOnRoots).map((r) => r.id).sort(), images);
    assert.deepEqual(shaleJson<HistoryRow[]>(['history', 'rl-seed:split'], asUserOnRoots).map((h) => h.createdBy), history);
    assert.equal(shaleJson<{ dive: { wastedBytes: number } }>(['analyze', 'rl-seed:split'], asUserOnRoots).dive.wastedBytes, FIFTY_MIB);
    assert.deepEqual(treeState(store), before, "root's store is unchanged");
  });
});
