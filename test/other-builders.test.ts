/**
 * Images made by other builders: layers shaped byte for byte as kaniko, buildah/podman (containers/storage)
 * and BuildKit (containerd's differ) write them, in archives laid out as Docker 25+ `docker save` writes
 * them, and layers made by the real GNU tar and umoci. Each image is analyzed in place, loaded, analyzed
 * from the store, exported, squashed and saved back; the saved archives load as the same image, and
 * Docker (when it runs here) applies the layers to the same tree as shale's export.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readAll, type ReadEntry } from '../src/layer/layer-fixtures.js';
import { unpackLayer } from '../src/snapshot/index.js';
import { sha256 } from './support/archives.js';
import { docker25Archive, imageConfig, rawTar, type RawEntry } from './support/builder-tars.js';
import { dockerCleanup, dockerOk } from './support/docker.js';
import { docker26Cleanup, docker26Ok, requireDocker26 } from './support/docker26.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { assertCliError, shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { compareTars } from './support/tree-compare.js';

/** What Docker's container init layer adds to every container's filesystem (docker export shows them). */
const DOCKER_INIT_PATHS = ['.dockerenv', 'dev', 'dev/*', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/mtab', 'proc', 'sys'];

const CAPABILITY = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // cap_net_bind_service+ep
const PKG = Buffer.alloc(2000, 'p');

/** A base layer as Docker's classic builder writes it (ustar, directories with a trailing slash). */
const BASE: RawEntry[] = [
  { name: 'bin/', flag: '5' },
  { name: 'bin/sh', flag: '0', mode: 0o755, body: 'sh' },
  { name: 'etc/', flag: '5' },
  { name: 'etc/hosts', flag: '0', body: 'localhost\n' },
  { name: 'etc/passwd', flag: '0', body: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'usr/', flag: '5' },
  { name: 'usr/bin/', flag: '5' },
  { name: 'var/', flag: '5' },
  { name: 'var/cache/', flag: '5' },
  { name: 'var/cache/apt/', flag: '5' },
  { name: 'var/cache/apt/pkg.deb', flag: '0', body: PKG },
];

/** Go's archive/tar in PAX format, as kaniko writes every entry: nanosecond times, `DIR/PaxHeaders.0/BASE` names. */
const goPax = (name: string, mtime: string, extra: [string, string | Buffer][] = []): Pick<RawEntry, 'pax' | 'paxName'> => {
  const trimmed = name.replace(/\/$/, '');
  const slash = trimmed.lastIndexOf('/');
  const paxName = name === '/' ? '/PaxHeaders.0' : slash < 0 ? `PaxHeaders.0/${trimmed}` : `${trimmed.slice(0, slash)}/PaxHeaders.0/${trimmed.slice(slash + 1)}`;
  return { pax: [['mtime', mtime], ['atime', mtime], ['ctime', mtime], ...extra], paxName };
};

/**
 * kaniko (pkg/util/tar_util.go): every layer starts with a `/` entry for the root, directories end in `/`,
 * uname/gname are empty, PAX keeps sub-second times, security.capability travels as a SCHILY.xattr record,
 * whiteouts are bare `.wh.NAME` headers (mode 0, time 0).
 */
const KANIKO_1: RawEntry[] = [
  { name: '/', flag: '5', mode: 0o755, mtime: 1_700_000_100, ...goPax('/', '1700000100.123456789') },
  { name: 'app/', flag: '5', mtime: 1_700_000_100, ...goPax('app/', '1700000100.123456789') },
  { name: 'app/run', flag: '0', mode: 0o755, body: Buffer.alloc(3000, 'a'), mtime: 1_700_000_100, ...goPax('app/run', '1700000100.5', [['SCHILY.xattr.security.capability', CAPABILITY]]) },
  { name: 'etc/', flag: '5', mtime: 1_700_000_100, ...goPax('etc/', '1700000100.123456789') },
  { name: 'etc/.wh.hosts', flag: '0', mode: 0, mtime: 0 },
];
const KANIKO_2: RawEntry[] = [
  { name: '/', flag: '5', mode: 0o750, mtime: 1_700_000_200, ...goPax('/', '1700000200.25') },
  { name: 'app/', flag: '5', mtime: 1_700_000_200, ...goPax('app/', '1700000200.25') },
  { name: 'app/run', flag: '0', mode: 0o755, body: Buffer.alloc(3500, 'b'), mtime: 1_700_000_200, ...goPax('app/run', '1700000200.75', [['SCHILY.xattr.security.capability', CAPABILITY]]) },
];

/**
 * buildah/podman (containers/storage pkg/archive): Go's tar writer picks ustar unless a field needs PAX;
 * security.* and user.* xattrs as SCHILY.xattr records; an opaque directory is its own entry followed by
 * `DIR/.wh..wh..opq`; a deleted file is a `.wh.NAME` regular file; hard links name the first path.
 */
const BUILDAH: RawEntry[] = [
  { name: 'etc/', flag: '5', uname: 'root', gname: 'root' },
  { name: 'etc/.wh.passwd', flag: '0', mode: 0o600, uname: 'root', gname: 'root' },
  { name: 'usr/', flag: '5', uname: 'root', gname: 'root' },
  { name: 'usr/bin/', flag: '5', uname: 'root', gname: 'root' },
  {
    name: 'usr/bin/tool',
    flag: '0',
    mode: 0o755,
    uname: 'root',
    gname: 'root',
    body: 'tool binary',
    pax: [['SCHILY.xattr.security.capability', CAPABILITY], ['SCHILY.xattr.user.mime_type', 'application/x-executable']],
    paxName: 'usr/bin/PaxHeaders.0/tool',
  },
  { name: 'usr/bin/tool2', flag: '1', linkname: 'usr/bin/tool', mode: 0o755, uname: 'root', gname: 'root' },
  { name: 'var/', flag: '5', uname: 'root', gname: 'root' },
  { name: 'var/cache/', flag: '5', uname: 'root', gname: 'root' },
  { name: 'var/cache/apt/', flag: '5', uname: 'root', gname: 'root' },
  { name: 'var/cache/apt/.wh..wh..opq', flag: '0', mode: 0o755, uname: 'root', gname: 'root' },
  { name: 'var/cache/apt/fresh', flag: '0', uname: 'root', gname: 'root', body: 'fresh\n' },
];

/**
 * BuildKit (containerd's differ): entries sorted by path with their parent directories, whiteouts as
 * `.wh.NAME` in that order, PAX records where Go needs them (here sub-second times); WORKDIR makes a layer
 * with one directory, and a step that changes nothing an empty tar (two zero blocks), which `docker save`
 * stores once however often the image lists it.
 */
const BUILDKIT_WORKDIR: RawEntry[] = [{ name: 'home/', flag: '5' }];
const BUILDKIT_EMPTY = Buffer.alloc(1024);
const BUILDKIT_COPY: RawEntry[] = [
  { name: 'app/', flag: '5' },
  { name: 'app/a.txt', flag: '0', body: 'a\n', pax: [['mtime', '1700000300.5']], paxName: 'app/PaxHeaders.0/a.txt' },
  { name: 'app/b.txt', flag: '0', body: 'b\n' },
  { name: 'etc/', flag: '5' },
  { name: 'etc/.wh.hosts', flag: '0', mode: 0 },
];

interface Analysis {
  sizeBytes: number;
  layers: { diffId: string; sizeBytes: number; added: number; modified: number; removed: number }[];
  waste: { hiddenBytes: number; items: { path: string; bytes: number; kind: string }[] };
}
interface Inspect {
  id: string;
  config: { rootfs: { diff_ids: string[] } };
}

/** Every entry of a tar file by path (without a trailing slash), bodies read. */
async function entriesOf(tarPath: string): Promise<Map<string, ReadEntry>> {
  const out = new Map<string, ReadEntry>();
  for (const e of await readAll(readFileSync(tarPath))) out.set(e.header.name.replace(/\/$/, ''), e);
  return out;
}

/** The parts of an analysis that must not depend on where the image was read from. */
const comparable = (a: Analysis) => ({ sizeBytes: a.sizeBytes, layers: a.layers, waste: a.waste });

interface RoundTrip {
  analysis: Analysis;
  exported: Map<string, ReadEntry>;
  exportPath: string;
}

/**
 * Analyzes `source` in place (`docker-archive:PATH` or `oci:DIR`), loads it, analyzes it from the store,
 * exports it, squashes it (same tree), and saves it back as docker-archive and oci-archive: both load into
 * a fresh store as the same image with the same layers.
 */
async function roundTrip(t: TestContext, work: string, input: { archive?: string; layout?: string; ref: string; layers: number }): Promise<RoundTrip> {
  const root = tempStore(t);
  const path = input.archive ?? input.layout!;
  let inPlace: Analysis;
  inPlace = shaleJson<Analysis>(['analyze', input.archive ? `docker-archive:${input.archive}` : `oci:${input.layout}`], { root });
  const loaded = shaleOk(['load', '-i', path], { root }).stdout;
  // an OCI layout whose ref.name is a bare tag loads untagged: name it by the ID it printed
  if (input.layout) shaleOk(['tag', /Loaded image ID: (sha256:[0-9a-f]{64})/.exec(loaded)![1]!, input.ref], { root });
  const inspected = shaleJson<Inspect>(['inspect', input.ref], { root });
  assert.equal(inspected.config.rootfs.diff_ids.length, input.layers);
  const analysis = shaleJson<Analysis>(['analyze', input.ref], { root });
  assert.equal(analysis.layers.length, input.layers);
  assert.deepEqual(comparable(inPlace), comparable(analysis), 'analyze in place and from the store agree');

  const exportPath = join(work, `${sha256(path).slice(0, 12)}-export.tar`);
  shaleOk(['export', input.ref, '-o', exportPath], { root });
  const exported = await entriesOf(exportPath);
  assert.ok(!exported.has('') && !exported.has('.'), 'the export holds no entry for the root, as docker export');

  const squashedRef = `${input.ref}-squashed`;
  shaleOk(['squash', input.ref, '-t', squashedRef, '--all'], { root });
  const squashedExport = join(work, `${sha256(path).slice(0, 12)}-squashed.tar`);
  shaleOk(['export', squashedRef, '-o', squashedExport], { root });
  const { diffs } = compareTars(exportPath, squashedExport, { names: ['image', 'squashed'] });
  assert.deepEqual(diffs, [], `the squashed image has another tree:\n${diffs.join('\n')}`);

  for (const format of ['docker-archive', 'oci-archive']) {
    const saved = join(work, `${sha256(path).slice(0, 12)}-saved.${format}.tar`);
    shaleOk(['save', '--format', format, '-o', saved, input.ref], { root });
    const again = tempStore(t);
    shaleOk(['load', '-i', saved], { root: again });
    const back = shaleJson<Inspect>(['inspect', input.ref], { root: again });
    assert.equal(back.id, inspected.id, `${format}: the saved image loads as the same image`);
    assert.deepEqual(back.config.rootfs.diff_ids, inspected.config.rootfs.diff_ids);
  }
  return { analysis, exported, exportPath };
}

/** Docker (the system's engine) loads the archive, and `docker export` of a container equals shale's export. */
function matchesDockerExport(t: TestContext, work: string, archive: string, ref: string, shaleExport: string): void {
  if (!requireTool(t, 'docker')) return;
  const cleanup = dockerCleanup(t);
  dockerOk(['load', '-i', archive]);
  cleanup.image(ref);
  const cid = dockerOk(['create', ref, 'sh']).trim();
  cleanup.container(cid);
  const dockerExport = join(work, `${sha256(archive).slice(0, 12)}-docker-export.tar`);
  dockerOk(['export', '-o', dockerExport, cid]);
  const { diffs } = compareTars(shaleExport, dockerExport, { ignore: DOCKER_INIT_PATHS, names: ['shale', 'docker'] });
  assert.deepEqual(diffs, [], `shale export and docker export differ:\n${diffs.join('\n')}`);
}

const write = (work: string, name: string, data: Buffer): string => {
  const p = join(work, name);
  writeFileSync(p, data);
  return p;
};
async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}
const byPath = (a: Analysis) => new Map(a.waste.items.map((i) => [i.path.replace(/^\//, ''), i]));

test('kaniko: a "/" entry first in every layer, PAX times and xattrs, bare whiteouts', async (t) => {
  const work = tempDir(t);
  const layers = [rawTar(BASE), rawTar(KANIKO_1), rawTar(KANIKO_2)];
  const ref = `kaniko-${uniqueSuffix()}:1`;
  const archive = write(work, 'kaniko.tar', docker25Archive(layers, imageConfig(layers, ['base', 'RUN make app', 'RUN make app again']), ref));
  const r = await roundTrip(t, work, { archive, ref, layers: 3 });

  assert.deepEqual(r.analysis.layers.map((l) => l.removed), [0, 1, 0], 'the whiteout of etc/hosts counts as a removal');
  const waste = byPath(r.analysis);
  assert.equal(waste.get('app/run')?.kind, 'overwritten');
  assert.equal(waste.get('app/run')?.bytes, 3000);
  assert.equal(waste.get('etc/hosts')?.kind, 'deleted');

  const run = r.exported.get('app/run')!;
  assert.ok(run.body.equals(Buffer.alloc(3500, 'b')), 'the top layer\'s app/run');
  assert.equal(run.header.mtime, 1_700_000_200.75, 'the PAX time, sub-second');
  assert.ok(run.header.xattrs?.['security.capability']?.equals(CAPABILITY), 'security.capability kept');
  assert.ok(!r.exported.has('etc/hosts'));
  assert.deepEqual([...r.exported.keys()].sort(), ['app', 'app/run', 'bin', 'bin/sh', 'etc', 'etc/passwd', 'usr', 'usr/bin', 'var', 'var/cache', 'var/cache/apt', 'var/cache/apt/pkg.deb']);

  await t.test('unpacked as a snapshot, the "/" entries are the root directory\'s metadata', async () => {
    const dir = join(work, 'unpacked');
    mkdirSync(dir);
    for (const [i, l] of layers.entries()) await unpackLayer(once(l), dir, { format: 'plain', what: `layer ${i + 1}` });
    assert.equal(statSync(dir).mode & 0o7777, 0o750, 'the top layer\'s "/" mode');
    assert.equal(statSync(dir).mtimeMs, 1_700_000_200_250, 'and its time');
    assert.equal(readFileSync(join(dir, 'app/run'), 'latin1'), 'b'.repeat(3500));
  });

  await t.test('Docker applies the layers to the same tree', (t) => matchesDockerExport(t, work, archive, ref, r.exportPath));

  await t.test('skopeo reads the archive too; its OCI archive (config re-encoded) loads with the same layers', (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const oci = join(work, 'kaniko-skopeo.oci.tar');
    execFileSync('skopeo', ['copy', '--quiet', `docker-archive:${archive}`, `oci-archive:${oci}:${ref}`]);
    const root = tempStore(t);
    shaleOk(['load', '-i', oci], { root });
    assert.deepEqual(shaleJson<Inspect>(['inspect', ref], { root }).config.rootfs.diff_ids, layers.map((l) => `sha256:${sha256(l)}`));
  });
});

test('kaniko: an absolute hard link target is read from the image root, as Docker reads it', async (t) => {
  // kaniko writes hard links to the first path as it saw it, absolute ("/app/run"); Docker and containerd
  // join such a target to the root, so it names the image's own file, never the host's.
  const work = tempDir(t);
  const root = tempStore(t);
  const layer = rawTar([...KANIKO_1.slice(0, 3), { name: 'app/run2', flag: '1', linkname: '/app/run' }]);
  const layers = [rawTar(BASE), layer];
  const archive = write(work, 'kaniko-hardlink.tar', docker25Archive(layers, imageConfig(layers, ['base', 'RUN ln']), 'kaniko-hl:1'));
  shaleOk(['load', '-i', archive], { root });
  const out = join(work, 'kaniko-hl.rootfs.tar');
  shaleOk(['export', 'kaniko-hl:1', '-o', out], { root });
  const tree = join(work, 'kaniko-hl.rootfs');
  mkdirSync(tree);
  execFileSync('tar', ['-xf', out, '-C', tree]);
  const run = statSync(join(tree, 'app/run'));
  const run2 = statSync(join(tree, 'app/run2'));
  assert.equal(run2.ino, run.ino, 'app/run2 is a hard link to the image\'s app/run');
  assert.deepEqual(readFileSync(join(tree, 'app/run2')), Buffer.alloc(3000, 'a'));
});

test('a "/" entry that is not a directory is refused by load and by analyze in place', async (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const layers = [rawTar(BASE), rawTar([{ name: '/', flag: '2', linkname: '/tmp' }, { name: 'x', flag: '0', body: 'x' }])];
  const archive = write(work, 'root-symlink.tar', docker25Archive(layers, imageConfig(layers, ['base', 'odd']), 'root-symlink:1'));
  for (const args of [['load', '-i', archive], ['analyze', `docker-archive:${archive}`]]) {
    const line = assertCliError(shale(args, { root }), args.join(' '));
    assert.match(line, /entry "\/" names the root directory but is a symlink/);
  }
  assert.equal(shale(['images', '--format', 'json'], { root }).stdout.trim(), '[]', 'nothing was loaded');
});

test('buildah/podman: PAX xattrs, an opaque directory marker after its directory, hard links', async (t) => {
  const work = tempDir(t);
  const layers = [rawTar(BASE), rawTar(BUILDAH)];
  const ref = `buildah-${uniqueSuffix()}:1`;
  const archive = write(work, 'buildah.tar', docker25Archive(layers, imageConfig(layers, ['base', 'RUN podman things']), ref));
  const r = await roundTrip(t, work, { archive, ref, layers: 2 });

  const waste = byPath(r.analysis);
  assert.equal(waste.get('etc/passwd')?.kind, 'deleted');
  assert.equal(waste.get('var/cache/apt')?.kind, 'deleted', 'the package cache, hidden by the opaque marker');
  assert.equal(waste.get('var/cache/apt')?.bytes, PKG.length);
  assert.ok(!r.exported.has('var/cache/apt/pkg.deb') && r.exported.has('var/cache/apt/fresh'));
  assert.ok(!r.exported.has('etc/passwd') && r.exported.has('etc/hosts'));
  const tool = r.exported.get('usr/bin/tool')!;
  assert.equal(tool.header.xattrs?.['user.mime_type']?.toString(), 'application/x-executable');
  assert.ok(tool.header.xattrs?.['security.capability']?.equals(CAPABILITY));
  const link = r.exported.get('usr/bin/tool2')!;
  assert.equal(link.header.type, 'hardlink');
  assert.equal(link.header.linkname, 'usr/bin/tool');

  await t.test('Docker applies the layers to the same tree', (t) => matchesDockerExport(t, work, archive, ref, r.exportPath));
});

test('BuildKit: sorted entries, PAX sub-second times, a one-directory layer and empty layers stored once', async (t) => {
  const work = tempDir(t);
  const layers = [rawTar(BASE), rawTar(BUILDKIT_WORKDIR), BUILDKIT_EMPTY, BUILDKIT_EMPTY, rawTar(BUILDKIT_COPY)];
  const ref = `buildkit-${uniqueSuffix()}:1`;
  const config = imageConfig(layers, ['base', 'WORKDIR /home', 'RUN true # buildkit', 'RUN true # buildkit', 'COPY app /app # buildkit']);
  const archive = write(work, 'buildkit.tar', docker25Archive(layers, config, ref));
  const r = await roundTrip(t, work, { archive, ref, layers: 5 });

  assert.deepEqual(r.analysis.layers.map((l) => l.sizeBytes).slice(1), [0, 0, 0, 4]);
  assert.equal(r.analysis.layers[2]!.diffId, r.analysis.layers[3]!.diffId, 'the two empty layers are one blob');
  assert.equal(r.exported.get('home')?.header.type, 'dir');
  assert.equal(r.exported.get('app/a.txt')?.header.mtime, 1_700_000_300.5);
  assert.ok(!r.exported.has('etc/hosts'));
  assert.equal(byPath(r.analysis).get('etc/hosts')?.kind, 'deleted');

  await t.test('Docker applies the layers to the same tree', (t) => matchesDockerExport(t, work, archive, ref, r.exportPath));
});

test('GNU tar: --format=posix with "./" names, PAX times and xattrs; --format=gnu with long names', async (t) => {
  const work = tempDir(t);
  const one = join(work, 'one');
  mkdirSync(join(one, 'etc'), { recursive: true });
  mkdirSync(join(one, 'bin'));
  writeFileSync(join(one, 'etc/os-release'), 'ID=test\n');
  writeFileSync(join(one, 'bin/tool'), 'tool\n');
  symlinkSync('tool', join(one, 'bin/alias'));
  execFileSync('touch', ['-d', '2024-01-02 03:04:05.5', join(one, 'etc/os-release')]);
  let xattr = false;
  try {
    execFileSync('setfattr', ['-n', 'user.origin', '-v', 'gnu-tar', join(one, 'bin/tool')], { stdio: 'ignore' });
    xattr = true;
  } catch {
    // a file system without user xattrs: the rest still runs
  }
  const two = join(work, 'two');
  const longDir = `opt/${'d'.repeat(80)}/${'e'.repeat(40)}`;
  mkdirSync(join(two, longDir), { recursive: true });
  writeFileSync(join(two, longDir, 'f'.repeat(110)), 'long\n');
  const l1 = join(work, 'l1.tar');
  const l2 = join(work, 'l2.tar');
  execFileSync('tar', ['--format=posix', '--xattrs', '--numeric-owner', '-C', one, '-cf', l1, '.']);
  execFileSync('tar', ['--format=gnu', '--numeric-owner', '-C', two, '-cf', l2, '.']);
  const layers = [readFileSync(l1), readFileSync(l2)];
  assert.match(layers[0]!.toString('latin1'), /\d+ mtime=\d+\.\d+\n/, 'GNU tar wrote PAX times');
  assert.ok(layers[1]!.includes('././@LongLink'), 'GNU tar wrote GNU long name entries');

  const ref = `gnutar-${uniqueSuffix()}:1`;
  const archive = write(work, 'gnutar.tar', docker25Archive(layers, imageConfig(layers, ['tar posix', 'tar gnu']), ref));
  const r = await roundTrip(t, work, { archive, ref, layers: 2 });
  assert.equal(r.exported.get('etc/os-release')?.header.mtime, Date.parse('2024-01-02T03:04:05.5') / 1000);
  assert.equal(r.exported.get('bin/alias')?.header.linkname, 'tool');
  assert.equal(r.exported.get(`${longDir}/${'f'.repeat(110)}`)?.body.toString(), 'long\n');
  if (xattr) assert.equal(r.exported.get('bin/tool')?.header.xattrs?.['user.origin']?.toString(), 'gnu-tar');

  await t.test('Docker applies the layers to the same tree', (t) => matchesDockerExport(t, work, archive, ref, r.exportPath));
});

test('umoci: a "." root entry, gzip layers in an OCI layout, whiteouts of mode 0', async (t) => {
  if (!requireTool(t, 'umoci')) return;
  const work = tempDir(t);
  const layout = join(work, 'layout');
  const umoci = (...args: string[]) => execFileSync('umoci', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:t`);
  umoci('unpack', '--rootless', '--image', `${layout}:t`, 'b1');
  mkdirSync(join(work, 'b1/rootfs/etc/sub'), { recursive: true });
  writeFileSync(join(work, 'b1/rootfs/etc/os'), 'hi\n');
  writeFileSync(join(work, 'b1/rootfs/etc/sub/f'), 'x\n');
  execFileSync('ln', [join(work, 'b1/rootfs/etc/os'), join(work, 'b1/rootfs/etc/os2')]);
  execFileSync('chmod', ['0711', join(work, 'b1/rootfs')]);
  umoci('repack', '--image', `${layout}:t`, 'b1');
  umoci('unpack', '--rootless', '--image', `${layout}:t`, 'b2');
  execFileSync('rm', ['-rf', join(work, 'b2/rootfs/etc/sub'), join(work, 'b2/rootfs/etc/os2')]);
  writeFileSync(join(work, 'b2/rootfs/new'), 'y\n');
  umoci('repack', '--image', `${layout}:t`, 'b2');

  const r = await roundTrip(t, work, { layout, ref: `umoci-${uniqueSuffix()}:1`, layers: 2 });
  assert.deepEqual([...r.exported.keys()].sort(), ['etc', 'etc/os', 'new']);
  assert.deepEqual(r.analysis.layers.map((l) => l.removed), [0, 2], 'the whiteouts of etc/os2 and etc/sub');
});

test('Docker 25+ docker save archive: the layer blobs keep their bytes through load and save', async (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  const layers = [rawTar(BASE), rawTar(KANIKO_1), BUILDKIT_EMPTY];
  const ref = `saved-${uniqueSuffix()}:1`;
  const archive = write(work, 'd25.tar', docker25Archive(layers, imageConfig(layers, ['a', 'b', 'c']), ref));
  shaleOk(['load', '-i', archive], { root });
  const saved = join(work, 'back.tar');
  shaleOk(['save', '-o', saved, ref], { root });
  const members = await entriesOf(saved);
  for (const l of layers) {
    const found = [...members.values()].some((m) => m.header.type === 'file' && sha256(m.body) === sha256(l));
    assert.ok(found, `the saved archive holds the layer ${sha256(l).slice(0, 12)} byte for byte`);
  }
});

test('Docker 26: a BuildKit image through docker save, shale load/analyze/save and docker load', { timeout: 300_000 }, async (t) => {
  const d = requireDocker26(t);
  if (!d) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const remove = docker26Cleanup(t, d);
  const name = `shale-bk-${uniqueSuffix()}`;
  const base = `${name}:base`;
  const built = `${name}:built`;

  docker26Ok(d, ['import', tarDir(makeBusyboxRootfs(join(work, 'rootfs')), join(work, 'rootfs.tar')), base]);
  remove(base);
  const context = join(work, 'context');
  mkdirSync(context);
  writeFileSync(join(context, 'f.txt'), 'copied\n');
  writeFileSync(
    join(context, 'Dockerfile'),
    `FROM ${base}\nWORKDIR /home\nRUN mkdir -p /var/cache/x && head -c 100000 /dev/zero > /var/cache/x/blob && echo hi > /home/a\nRUN rm -rf /var/cache/x\nCOPY f.txt /app/f.txt\n`,
  );
  docker26Ok(d, ['buildx', 'build', '--network', 'host', '--load', '-t', built, context]);
  remove(built);
  const dockerId = docker26Ok(d, ['image', 'inspect', '--format', '{{.Id}}', built]).trim();
  const dockerLayers = JSON.parse(docker26Ok(d, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', built])) as string[];

  const saved = join(work, 'docker26-save.tar');
  docker26Ok(d, ['save', '-o', saved, built]);
  const members = await entriesOf(saved);
  assert.ok(members.has('oci-layout') && members.has('index.json') && members.has('manifest.json'), 'a Docker 25+ archive: an OCI layout plus manifest.json');

  const inPlace = shaleJson<Analysis>(['analyze', `docker-archive:${saved}`], { root });
  shaleOk(['load', '-i', saved], { root });
  const inspected = shaleJson<Inspect>(['inspect', built], { root });
  assert.equal(inspected.id, dockerId, 'shale loads the image under Docker\'s ID');
  assert.deepEqual(inspected.config.rootfs.diff_ids, dockerLayers);
  const analysis = shaleJson<Analysis>(['analyze', built], { root });
  assert.deepEqual(comparable(inPlace), comparable(analysis), 'analyze in place and from the store agree');
  assert.equal(byPath(analysis).get('var/cache/x')?.bytes, 100_000, 'the cache deleted in a later step is waste');

  const back = join(work, 'shale-save.tar');
  shaleOk(['save', '-o', back, built], { root });
  docker26Ok(d, ['rmi', built]);
  docker26Ok(d, ['load', '-i', back]);
  assert.equal(docker26Ok(d, ['image', 'inspect', '--format', '{{.Id}}', built]).trim(), dockerId, 'Docker 26 loads it back as the same image');
  assert.deepEqual(JSON.parse(docker26Ok(d, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', built])), dockerLayers);
  assert.equal(docker26Ok(d, ['run', '--rm', '--network', 'none', built, 'cat', '/home/a', '/app/f.txt']), 'hi\ncopied\n');
});
