/**
 * Containers (issue 4): `shale run` with runc over an overlayfs snapshot of the image's read-only layers
 * plus one writable layer; `diff`, `commit`, `ps`, `stop`, `rm`, `logs`, `prune`. The seed's container
 * (write a file, delete one of the image, chmod another), the same commands in Docker compared change by
 * change and tree by tree, and the run options, signals and errors.
 * runc and overlayfs (and Docker for the comparison) skip locally when missing and fail in CI (CI=true).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readTar } from '../src/layer/index.js';
import { dockerCleanup, dockerImageId, dockerOk } from './support/docker.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { assertCliError, SHALE_BIN, shale, shaleJson, shaleOk, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { compareTars, compareTrees, treeOf } from './support/tree-compare.js';
import type { ImageRow } from './support/shale.js';
import { findBytes } from './support/disk.js';

/** The seed's container command: add a file, delete a file of the image, chmod another. */
const SEED_CMD = 'echo x > /new; rm /bin/dd; chmod 600 /etc/some-file';
/** What `docker diff` shows for it: the three changes plus the changed parent directories. */
const SEED_DIFF = [
  { kind: 'C', path: '/bin' },
  { kind: 'D', path: '/bin/dd' },
  { kind: 'C', path: '/etc' },
  { kind: 'C', path: '/etc/some-file' },
  { kind: 'A', path: '/new' },
];
/** Directory cases: a deleted tree is one D; a tree deleted and made again (an opaque dir); new parents; a copy-up. */
const DIR_CMD = [
  'rm -rf /opt/tree',
  'rm -rf /opt/keep && mkdir -p /opt/keep && echo n > /opt/keep/n',
  'echo y > /tmp/y',
  'mkdir -p /var/lib/z',
  'touch /bin/busybox',
  'ln -s x /opt/l',
  'mkdir /opt/emptyd',
].join('; ');

/** Paths Docker's init layer adds to every container (docker diff does not list them; compare without them). */
const DOCKER_INIT = new Set(['/.dockerenv', '/dev', '/dev/console', '/dev/pts', '/dev/shm', '/etc/hostname', '/etc/hosts', '/etc/mtab', '/etc/resolv.conf', '/proc', '/sys']);

interface Change {
  kind: string;
  path: string;
}
interface PsRow {
  id: string;
  name: string;
  image: string;
  command: string;
  status: string;
  created: string;
  size: number;
}
interface Inspect {
  id: string;
  manifest: { config: { digest: string }; layers: { digest: string; size: number }[] };
  config: { rootfs: { diff_ids: string[] }; history?: { created_by?: string; comment?: string; empty_layer?: boolean }[] };
}
interface Df {
  images: { count: number; virtualSize: number; actualSize: number; reclaimable: number };
  layers: { count: number; sharedCount: number };
  containers: { count: number; size: number };
}

const sha256File = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mount points at or below `dir` in this mount namespace (octal escapes of mountinfo decoded), deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** The containers runc knows in the store's runc state directory. */
function runcContainers(root: string): { id: string; status: string }[] {
  const r = spawnSync('runc', ['--root', join(root, 'shale', 'runc'), 'list', '--format', 'json'], { encoding: 'utf8' });
  if (r.status !== 0 || r.stdout.trim() === '' || r.stdout.trim() === 'null') return [];
  return JSON.parse(r.stdout) as { id: string; status: string }[];
}

/**
 * A store for container tests. When `t` ends its containers are force-removed, whatever runc still runs
 * there is killed, what is still mounted below it is unmounted (lazily), and then it is deleted: never an
 * rm -rf through a live overlay mount.
 */
function containerStore(t: Pick<TestContext, 'after'>): { root: string; work: string } {
  const dir = mkdtempSync(join(tmpdir(), 'shale-ctr-'));
  const root = join(dir, 'store');
  const work = join(dir, 'work');
  mkdirSync(work);
  t.after(() => {
    if (existsSync(root)) {
      const ps = shale(['ps', '-a', '--format', 'json'], { root });
      if (ps.status === 0) for (const c of JSON.parse(ps.stdout) as PsRow[]) shale(['rm', '-f', c.id], { root });
      for (const c of runcContainers(root)) {
        spawnSync('runc', ['--root', join(root, 'shale', 'runc'), 'delete', '--force', c.id], { stdio: 'ignore' });
      }
    }
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  return { root, work };
}

/**
 * The base image: a busybox rootfs with a real file to chmod (etc/some-file, not a symlink) and a few
 * directories for the directory cases, imported as `ref`. Returns the rootfs directory and the image ID.
 */
function importBase(root: string, work: string, ref: string): { rootfs: string; id: string } {
  const rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
  writeFileSync(join(rootfs, 'etc', 'some-file'), 'some content\n', { mode: 0o644 });
  mkdirSync(join(rootfs, 'opt', 'tree', 'b'), { recursive: true });
  writeFileSync(join(rootfs, 'opt', 'tree', 'a'), 'a\n');
  writeFileSync(join(rootfs, 'opt', 'tree', 'b', 'c'), 'c\n');
  mkdirSync(join(rootfs, 'opt', 'keep', 'sub'), { recursive: true });
  writeFileSync(join(rootfs, 'opt', 'keep', 'sub', 'k'), 'k\n');
  writeFileSync(join(rootfs, 'opt', 'keep', 'x'), 'x\n');
  const id = shaleOk(['import', tarDir(rootfs, join(work, 'rootfs.tar')), ref], { root }).stdout.trim();
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  return { rootfs, id };
}

const needsRuntime = (t: TestContext): boolean => requireTool(t, 'runc') && requireTool(t, 'overlayfs');

/** Runs shale in its own process group (so a test can signal the group, as a terminal's Ctrl-C does). */
function startShale(args: readonly string[], root: string, env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>; output: () => string } {
  const child = spawn(process.execPath, [SHALE_BIN, '--root', root, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, done, output: () => out };
}

/** Waits until `check` holds, polling; fails with `what` after `ms`. */
async function waitFor(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for: ${what}`);
    await sleep(100);
  }
}

/** Resolves with the process's end, or with undefined after `ms`. */
const within = <T>(p: Promise<T>, ms: number): Promise<T | undefined> => Promise.race([p, sleep(ms).then(() => undefined)]);

const ps = (root: string, all = true): PsRow[] => shaleJson<PsRow[]>(all ? ['ps', '-a'] : ['ps'], { root });

/** A layer tar's entries as comparable lines: type, name, mode (not for whiteouts), owner, size, content hash. */
async function layerEntries(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readTar(createReadStream(path))) {
    const h = createHash('sha256');
    for await (const c of e.body) h.update(c);
    const name = e.header.name.replace(/^\.\//, '').replace(/\/+$/, '');
    if (name === '' || name === '.') continue;
    const whiteout = name.split('/').pop()!.startsWith('.wh.');
    const mode = whiteout ? '-' : (e.header.mode & 0o7777).toString(8);
    const content = e.header.type === 'file' && !whiteout ? ` ${h.digest('hex').slice(0, 16)}` : '';
    const link = e.header.linkname ? ` -> ${e.header.linkname}` : '';
    out.push(`${e.header.type} ${name} ${mode} ${e.header.uid}:${e.header.gid} ${whiteout ? 0 : e.header.size}${content}${link}`);
  }
  return out.sort();
}

/** The top layer of an image Docker has, as a file (`docker save`, legacy or OCI layout). */
function dockerTopLayer(ref: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  dockerOk(['save', '-o', join(dir, 'image.tar'), ref]);
  execTar(['-xf', join(dir, 'image.tar'), '-C', dir]);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
  return join(dir, manifest[0]!.Layers.at(-1)!);
}

function execTar(args: string[]): void {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `tar ${args.join(' ')}: ${r.stderr}`);
}

/** `docker create` + `docker export` of an image: the tree Docker shows for a container of it. */
function dockerExportOf(ref: string, out: string, cleanup: ReturnType<typeof dockerCleanup>): string {
  const cid = dockerOk(['create', ref, 'true']).trim();
  cleanup.container(cid);
  dockerOk(['export', '-o', out, cid]);
  dockerOk(['rm', cid]);
  return out;
}

test('the seed container: diff shows A, D, C; commit is one layer taller; the image is unchanged; df shares the base', { timeout: 180_000 }, async (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  const base = importBase(root, work, 'seed/base:1');
  const before = shaleJson<Inspect>(['inspect', 'seed/base:1'], { root });
  const baseBlobs = [before.manifest.config.digest, ...before.manifest.layers.map((l) => l.digest)];

  const run = shale(['run', '--name', 'c1', 'seed/base:1', 'sh', '-c', SEED_CMD], { root });
  assert.equal(run.status, 0, `run: ${run.stderr}`);

  await t.test('diff lists exactly A /new, D /bin/dd, C /etc/some-file and the changed parents as C', () => {
    const text = shaleOk(['diff', 'c1'], { root }).stdout.trim().split('\n');
    assert.deepEqual(text, SEED_DIFF.map((c) => `${c.kind} ${c.path}`));
    assert.deepEqual(shaleJson<Change[]>(['diff', 'c1'], { root }), SEED_DIFF);
  });

  await t.test('ps -a shows the exited container with its writable layer size', () => {
    const rows = ps(root);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.name, 'c1');
    assert.equal(rows[0]!.image, 'seed/base:1');
    assert.equal(rows[0]!.status, 'Exited (0)');
    assert.equal(rows[0]!.command, `sh -c ${SEED_CMD}`);
    assert.equal(rows[0]!.size, 'x\n'.length + 'some content\n'.length, 'the new file and the copied-up file');
    assert.deepEqual(ps(root, false), [], 'ps without -a lists running containers only');
  });

  const newId = shaleOk(['commit', '-m', 'seed commit', 'c1', 'seed/new:1'], { root }).stdout.trim();
  assert.match(newId, /^sha256:[a-f0-9]{64}$/);

  await t.test('commit makes an image one layer taller over the same base layers', () => {
    const after = shaleJson<Inspect>(['inspect', 'seed/new:1'], { root });
    assert.equal(after.id, newId);
    assert.equal(after.manifest.layers.length, before.manifest.layers.length + 1);
    assert.deepEqual(after.manifest.layers.slice(0, -1), before.manifest.layers, 'the base layers are shared as they are');
    assert.deepEqual(after.config.rootfs.diff_ids.slice(0, -1), before.config.rootfs.diff_ids);
    const last = after.config.history!.at(-1)!;
    assert.equal(last.created_by, `sh -c ${SEED_CMD}`);
    assert.equal(last.comment, 'seed commit');
    assert.notEqual(last.empty_layer, true);
  });

  await t.test('a container of the new image sees /new and no /bin/dd, and the chmod', () => {
    const r = shaleOk(['run', '--rm', 'seed/new:1', 'sh', '-c', 'cat /new; test -e /bin/dd && echo dd-present || echo dd-absent; stat -c %a /etc/some-file'], { root });
    assert.equal(r.stdout, 'x\ndd-absent\n600\n');
  });

  await t.test('a container of the original image still sees the original files', () => {
    const r = shaleOk(['run', '--rm', 'seed/base:1', 'sh', '-c', 'test -e /new && echo new-present || echo new-absent; test -e /bin/dd && echo dd-present; stat -c %a /etc/some-file'], { root });
    assert.equal(r.stdout, 'new-absent\ndd-present\n644\n');
  });

  await t.test('the original image is unchanged: same ID, every blob re-hashes to its name, the unpacked layer is intact', () => {
    const again = shaleJson<Inspect>(['inspect', 'seed/base:1'], { root });
    assert.equal(again.id, base.id);
    assert.deepEqual(again, before);
    for (const d of baseBlobs) assert.equal(sha256File(join(root, 'blobs', 'sha256', hexOf(d))), hexOf(d), `blob ${d} re-hashes to its name`);
    // the overlay lower directory of the base layer (snapshots/layers/DIFFIDHEX) is the imported rootfs, untouched
    const unpacked = join(root, 'shale', 'snapshots', 'layers', hexOf(before.config.rootfs.diff_ids[0]!));
    assert.ok(existsSync(unpacked), `the unpacked base layer is at ${unpacked}`);
    const diffs = compareTrees(treeOf(base.rootfs), treeOf(unpacked), { names: ['rootfs', 'unpacked'] });
    assert.deepEqual(diffs, [], `the unpacked base layer differs from the imported rootfs:\n${diffs.join('\n')}`);
    const fsck = shaleJson<{ ok: boolean; problems: string[] }>(['fsck'], { root });
    assert.deepEqual(fsck, { ...fsck, ok: true, problems: [] });
  });

  await t.test('df counts the shared base layer once', () => {
    const images = shaleJson<ImageRow[]>(['images'], { root });
    const baseRow = images.find((i) => i.id === base.id)!;
    const newRow = images.find((i) => i.id === newId)!;
    assert.ok(baseRow && newRow, JSON.stringify(images));
    assert.equal(newRow.layers, baseRow.layers + 1);
    assert.equal(newRow.size - baseRow.size, newRow.uniqueSize, 'the new image adds only its new layer');
    const df = shaleJson<Df>(['df'], { root });
    assert.equal(df.images.count, 2);
    assert.equal(df.images.virtualSize, baseRow.size + newRow.size);
    assert.equal(df.images.actualSize, baseRow.size + newRow.uniqueSize, 'base + new layer: the shared base counted once');
    assert.deepEqual(df.layers, { count: 2, sharedCount: 1 });
    assert.deepEqual(df.containers, { count: 1, size: 'x\n'.length + 'some content\n'.length });
    // the container's overlay is mounted below the store and its snapshots hold busybox's symlinks: neither is followed
    assert.equal(shaleJson<{ disk: { total: number } }>(['df'], { root }).disk.total, findBytes(root), 'On disk is what find counts in the store');
  });
});

test('Docker on the same image and commands: same diff, committed images export to equal trees', { timeout: 300_000 }, async (t) => {
  if (!needsRuntime(t) || !requireTool(t, 'docker')) return;
  const { root, work } = containerStore(t);
  const cleanup = dockerCleanup(t);
  const name = `shale-ctr-${uniqueSuffix()}`;
  const baseRef = `${name}:base`;
  const base = importBase(root, work, baseRef);
  shaleOk(['save', '-o', join(work, 'base.tar'), baseRef], { root });
  cleanup.image(baseRef);
  dockerOk(['load', '-i', join(work, 'base.tar')]);
  assert.equal(dockerImageId(baseRef), base.id, 'Docker has the same image');

  const cases = [
    { label: 'seed', cmd: SEED_CMD },
    { label: 'dirs', cmd: DIR_CMD },
  ];
  for (const c of cases) {
    const shaleName = `${c.label}-s`;
    const dockerName = `${name}-${c.label}`;
    shaleOk(['run', '--name', shaleName, baseRef, 'sh', '-c', c.cmd], { root });
    cleanup.container(dockerName);
    dockerOk(['run', '--name', dockerName, baseRef, 'sh', '-c', c.cmd]);

    await t.test(`${c.label}: docker diff and shale diff list the same changes`, () => {
      const dockerChanges = dockerOk(['diff', dockerName])
        .trim()
        .split('\n')
        .map((l) => ({ kind: l.slice(0, 1), path: l.slice(2) }))
        .filter((ch) => !DOCKER_INIT.has(ch.path));
      const shaleChanges = shaleJson<Change[]>(['diff', shaleName], { root });
      const key = (x: Change) => `${x.kind} ${x.path}`;
      assert.deepEqual(shaleChanges.map(key).sort(), dockerChanges.map(key).sort());
      if (c.label === 'seed') assert.deepEqual(shaleChanges.map(key).sort(), SEED_DIFF.map(key).sort());
      if (c.label === 'dirs') {
        assert.ok(shaleChanges.some((x) => key(x) === 'D /opt/tree'), 'a deleted tree is one D');
        assert.ok(!shaleChanges.some((x) => x.path.startsWith('/opt/tree/')), 'nothing below a deleted tree is listed');
      }
    });

    await t.test(`${c.label}: shale export CONTAINER and docker export CONTAINER give equal trees (image, init and writable layers merged)`, () => {
      shaleOk(['export', shaleName, '-o', join(work, `${c.label}-shale-container.tar`)], { root });
      dockerOk(['export', '-o', join(work, `${c.label}-docker-container.tar`), dockerName]);
      const { diffs, a: tree } = compareTars(join(work, `${c.label}-shale-container.tar`), join(work, `${c.label}-docker-container.tar`), { names: ['shale export', 'docker export'] });
      assert.deepEqual(diffs, [], `the exported containers differ:\n${diffs.join('\n')}`);
      assert.ok(tree.has('.dockerenv') && tree.size > 20, 'the trees are real and hold the init layer');
    });

    const shaleCommitted = `${name}:${c.label}-shale`;
    const dockerCommitted = `${name}:${c.label}-docker`;
    shaleOk(['commit', shaleName, shaleCommitted], { root });
    cleanup.image(dockerCommitted);
    dockerOk(['commit', dockerName, dockerCommitted]);
    cleanup.image(shaleCommitted);
    shaleOk(['save', '-o', join(work, `${c.label}-committed.tar`), shaleCommitted], { root });
    dockerOk(['load', '-i', join(work, `${c.label}-committed.tar`)]);

    await t.test(`${c.label}: docker commit and shale commit export (docker create + export) to equal trees`, () => {
      const a = dockerExportOf(shaleCommitted, join(work, `${c.label}-shale-export.tar`), cleanup);
      const b = dockerExportOf(dockerCommitted, join(work, `${c.label}-docker-export.tar`), cleanup);
      const { diffs, a: tree } = compareTars(a, b, { names: ['shale commit', 'docker commit'] });
      assert.deepEqual(diffs, [], `the committed images differ:\n${diffs.join('\n')}`);
      assert.ok(tree.size > 20, 'the trees are real');
    });

    await t.test(`${c.label}: shale export of the committed image equals docker export without Docker's init paths`, () => {
      shaleOk(['export', shaleCommitted, '-o', join(work, `${c.label}-shale-own.tar`)], { root });
      const ignore = ['.dockerenv', 'dev', 'dev/*', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/mtab', 'proc', 'sys'];
      const { diffs } = compareTars(join(work, `${c.label}-shale-own.tar`), join(work, `${c.label}-docker-export.tar`), { ignore, names: ['shale export', 'docker export'] });
      assert.deepEqual(diffs, [], diffs.join('\n'));
    });

    await t.test(`${c.label}: the committed top layers hold the same entries`, async () => {
      const inspect = shaleJson<Inspect>(['inspect', shaleCommitted], { root });
      const shaleLayer = join(root, 'blobs', 'sha256', hexOf(inspect.manifest.layers.at(-1)!.digest));
      const dockerLayer = dockerTopLayer(dockerCommitted, join(work, `${c.label}-docker-save`));
      assert.deepEqual(await layerEntries(shaleLayer), await layerEntries(dockerLayer));
    });

    await t.test(
      `${c.label}: ps size equals Docker's SizeRw`,
      {},
      () => {
        const row = ps(root).find((r) => r.name === shaleName)!;
        const sizeRw = Number(dockerOk(['inspect', '--size', '--format', '{{.SizeRw}}', dockerName]).trim());
        assert.equal(row.size, sizeRw);
      },
    );
  }

  await t.test('commit -c CMD/ENTRYPOINT/ENV/WORKDIR/USER: the image config is applied as Docker applies it', () => {
    shaleOk(['run', '--name', 'cfg', baseRef, 'true'], { root });
    const ref = `${name}:cfg`;
    const changes = ['ENV A=1', 'WORKDIR /tmp', 'USER 65534', 'ENTRYPOINT ["sh","-c"]', 'CMD ["echo $A; pwd; id -u"]'];
    shaleOk(['commit', ...changes.flatMap((c) => ['-c', c]), 'cfg', ref], { root });
    cleanup.image(ref);
    shaleOk(['save', '-o', join(work, 'cfg.tar'), ref], { root });
    dockerOk(['load', '-i', join(work, 'cfg.tar')]);
    for (const args of [[], ['echo over; id -u']]) {
      const s = shaleOk(['run', '--rm', ref, ...args], { root }).stdout;
      const d = dockerOk(['run', '--rm', ref, ...args]);
      assert.equal(s, d, `run ${args.join(' ')}`);
    }
    assert.equal(shaleOk(['run', '--rm', ref], { root }).stdout, '1\n/tmp\n65534\n');
  });
});

test('run: exit status, --rm, -e, -w, -u', { timeout: 120_000 }, async (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  importBase(root, work, 'img');

  await t.test('the exit status is the command\'s, and ps shows it', () => {
    const r = shale(['run', '--name', 'seven', 'img', 'sh', '-c', 'exit 7'], { root });
    assert.equal(r.status, 7, r.stderr);
    assert.equal(ps(root).find((c) => c.name === 'seven')!.status, 'Exited (7)');
    shaleOk(['rm', 'seven'], { root });
    assert.equal(shale(['run', '--rm', 'img', 'false'], { root }).status, 1);
  });

  await t.test(
    'a command that cannot start exits 127 (not found) or 126 (not executable) as with Docker, with an error line',
    {},
    () => {
      const missing = shale(['run', '--rm', 'img', '/nonexistent'], { root });
      assert.equal(missing.status, 127, missing.stderr);
      assert.match(missing.stderr, /^error: .*nonexistent/m);
      const notExec = shale(['run', '--rm', 'img', '/etc/passwd'], { root });
      assert.equal(notExec.status, 126, notExec.stderr);
      assert.deepEqual(ps(root), []);
    },
  );

  await t.test('--rm removes the container, its writable layer and its mount', () => {
    const r = shaleOk(['run', '--rm', 'img', 'sh', '-c', 'echo out; echo err >&2; touch /junk'], { root });
    assert.equal(r.stdout, 'out\n');
    assert.match(r.stderr, /err/);
    assert.deepEqual(ps(root), []);
    assert.deepEqual(mountsUnder(root), []);
    assert.deepEqual(runcContainers(root), []);
    assert.deepEqual(readdirSync(join(root, 'shale', 'snapshots', 'active')).filter((n) => !n.startsWith('.')), []);
  });

  await t.test('-e sets and passes variables over the image environment', () => {
    const r = shaleOk(['run', '--rm', '-e', 'FOO=bar', '-e', 'EMPTY=', '-e', 'FROM_HOST', 'img', 'sh', '-c', 'echo "$FOO|${EMPTY-unset}|$FROM_HOST|$PATH"'], {
      root,
      env: { FROM_HOST: 'host value' },
    });
    assert.equal(r.stdout, 'bar||host value|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
  });

  await t.test('-w sets the working directory (made when missing, as Docker does)', () => {
    assert.equal(shaleOk(['run', '--rm', '-w', '/tmp', 'img', 'sh', '-c', 'pwd'], { root }).stdout, '/tmp\n');
    assert.equal(shaleOk(['run', '--rm', '-w', '/made/here', 'img', 'sh', '-c', 'pwd'], { root }).stdout, '/made/here\n');
  });

  await t.test('-u runs as a numeric user, a user:group, or a name from /etc/passwd', () => {
    assert.equal(shaleOk(['run', '--rm', '-u', '65534', 'img', 'sh', '-c', 'echo $(id -u):$(id -g)'], { root }).stdout, '65534:0\n');
    assert.equal(shaleOk(['run', '--rm', '-u', '65534:65534', 'img', 'sh', '-c', 'echo $(id -u):$(id -g)'], { root }).stdout, '65534:65534\n');
    assert.equal(shaleOk(['run', '--rm', '-u', 'user', 'img', 'sh', '-c', 'echo $(id -u):$(id -g)'], { root }).stdout, '1000:1000\n');
    const denied = shale(['run', '--rm', '-u', '65534', 'img', 'sh', '-c', 'echo no > /etc/passwd'], { root });
    assert.notEqual(denied.status, 0, 'an unprivileged user cannot write root-owned files');
  });
});

test('run: bind mounts, read-write and read-only', { timeout: 120_000 }, async (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  importBase(root, work, 'img');
  const host = join(work, 'host');
  mkdirSync(host);
  writeFileSync(join(host, 'from-host'), 'hello from the host\n');

  await t.test('-v HOSTDIR:/mnt reads and writes through to the host', () => {
    const r = shaleOk(['run', '--rm', '-v', `${host}:/mnt`, 'img', 'sh', '-c', 'cat /mnt/from-host; echo written > /mnt/from-container'], { root });
    assert.equal(r.stdout, 'hello from the host\n');
    assert.equal(readFileSync(join(host, 'from-container'), 'utf8'), 'written\n');
  });

  await t.test('-v HOSTDIR:/mnt:ro reads but refuses writes', () => {
    const r = shale(['run', '--rm', '-v', `${host}:/mnt:ro`, 'img', 'sh', '-c', 'cat /mnt/from-host; echo no > /mnt/refused'], { root });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, 'hello from the host\n');
    assert.match(r.stderr, /Read-only file system/);
    assert.equal(existsSync(join(host, 'refused')), false);
  });

  await t.test('what a container writes through a bind mount is not in its writable layer (only the mount point, as docker diff shows)', () => {
    shaleOk(['run', '--name', 'b', '-v', `${host}:/mnt`, 'img', 'sh', '-c', 'echo again > /mnt/again'], { root });
    assert.equal(readFileSync(join(host, 'again'), 'utf8'), 'again\n');
    assert.deepEqual(shaleJson<Change[]>(['diff', 'b'], { root }), [{ kind: 'A', path: '/mnt' }]);
    shaleOk(['rm', 'b'], { root });
  });
});

test('run --network none has only the loopback interface', { timeout: 60_000 }, (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  importBase(root, work, 'img');
  const ifaces = (procNetDev: string) =>
    procNetDev
      .split('\n')
      .slice(2)
      .filter((l) => l.includes(':'))
      .map((l) => l.split(':')[0]!.trim())
      .sort();
  const hostIfaces = ifaces(readFileSync('/proc/net/dev', 'utf8'));
  assert.ok(hostIfaces.some((i) => i !== 'lo'), `the host has an interface besides lo: ${hostIfaces.join(', ')}`);
  assert.deepEqual(ifaces(shaleOk(['run', '--rm', '--network', 'none', 'img', 'cat', '/proc/net/dev'], { root }).stdout), ['lo']);
  assert.deepEqual(ifaces(shaleOk(['run', '--rm', '--network', 'host', 'img', 'cat', '/proc/net/dev'], { root }).stdout), hostIfaces, 'host networking sees the host');
});

test('detached containers: logs, stop, a fresh shale process lists them, rm -f, prune', { timeout: 120_000 }, async (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  importBase(root, work, 'img');

  await t.test('-d prints the ID; logs shows the output; stop ends it gracefully; status Exited', async () => {
    const script = 'trap "echo bye; exit 0" TERM; echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done';
    const id = shaleOk(['run', '-d', '--name', 'd1', 'img', 'sh', '-c', script], { root }).stdout.trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    // a fresh shale process (each call is one) sees the running container
    const running = ps(root, false);
    assert.deepEqual(running.map((r) => [r.id, r.name, r.status]), [[id, 'd1', 'Up']]);
    await waitFor('logs show "tick 2"', () => shaleOk(['logs', 'd1'], { root }).stdout.includes('tick 2'));
    assert.match(shaleOk(['logs', id.slice(0, 12)], { root }).stdout, /^started\ntick 0\ntick 1\n/);
    // a build in the same store cleans stale snapshots first: a running container's layer is not stale
    const ctx = join(work, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM img\nRUN echo built > /built\n');
    shaleOk(['build', '-q', '-t', 'built', ctx], { root });
    assert.ok(mountsUnder(root).some((m) => m.includes(`ctr-${id.slice(0, 32)}`)), 'the running container is still mounted after a build');
    assert.deepEqual(ps(root, false).map((r) => r.name), ['d1']);
    const ticks = shaleOk(['logs', 'd1'], { root }).stdout.length;
    await waitFor('the container keeps running (its log grows)', () => shaleOk(['logs', 'd1'], { root }).stdout.length > ticks);
    const t0 = Date.now();
    shaleOk(['stop', 'd1'], { root });
    assert.ok(Date.now() - t0 < 8000, 'a container that handles SIGTERM stops without waiting for the kill timeout');
    assert.equal(ps(root).find((r) => r.name === 'd1')!.status, 'Exited (0)');
    assert.match(shaleOk(['logs', 'd1'], { root }).stdout, /bye\n$/);
    assert.deepEqual(ps(root, false), []);
    assert.deepEqual(runcContainers(root), []);
  });

  await t.test('stop -t kills a container that ignores SIGTERM (Exited (137))', () => {
    shaleOk(['run', '-d', '--name', 'stubborn', 'img', 'sh', '-c', 'while true; do sleep 0.2; done'], { root });
    const t0 = Date.now();
    shaleOk(['stop', '-t', '1', 'stubborn'], { root });
    assert.ok(Date.now() - t0 < 8000);
    assert.equal(ps(root).find((r) => r.name === 'stubborn')!.status, 'Exited (137)');
  });

  await t.test('rm refuses a running container; rm -f kills and removes it with its mount', () => {
    const id = shaleOk(['run', '-d', '--name', 'victim', 'img', 'sleep', '300'], { root }).stdout.trim();
    assertCliError(shale(['rm', 'victim'], { root }), 'rm of a running container');
    assert.equal(ps(root, false).length, 1);
    shaleOk(['rm', '-f', 'victim'], { root });
    assert.equal(ps(root).some((r) => r.id === id), false);
    assert.equal(runcContainers(root).some((c) => c.id === id), false);
    assert.equal(mountsUnder(root).some((m) => m.includes(`ctr-${id.slice(0, 32)}`)), false, 'its writable layer is unmounted');
  });

  await t.test('--rm with -d removes the container when it exits', async () => {
    const id = shaleOk(['run', '-d', '--rm', 'img', 'sh', '-c', 'echo bye'], { root }).stdout.trim();
    await waitFor('the --rm container is gone', () => !ps(root).some((r) => r.id === id));
  });

  await t.test('prune removes stopped containers and their layers, and keeps running ones', () => {
    shaleOk(['run', '--name', 'stopped', 'img', 'sh', '-c', 'echo data > /data'], { root });
    const live = shaleOk(['run', '-d', '--name', 'live', 'img', 'sleep', '300'], { root }).stdout.trim();
    const stoppedIds = ps(root)
      .filter((r) => r.status.startsWith('Exited'))
      .map((r) => r.id);
    assert.ok(stoppedIds.length >= 3, 'd1, stubborn and stopped');
    const out = shaleOk(['prune'], { root }).stdout;
    for (const id of stoppedIds) assert.match(out, new RegExp(`deleted container: ${id}`));
    assert.doesNotMatch(out, new RegExp(live));
    assert.deepEqual(ps(root).map((r) => r.name), ['live']);
    assert.deepEqual(
      mountsUnder(root).filter((m) => !m.includes(`ctr-${live.slice(0, 32)}`)),
      [],
      'only the running container is still mounted',
    );
    assert.deepEqual(readdirSync(join(root, 'shale', 'snapshots', 'active')).filter((n) => !n.startsWith('.')), [`ctr-${live.slice(0, 32)}`]);
    shaleOk(['rm', '-f', 'live'], { root });
  });
});

test('signals: Ctrl-C reaches the container; nothing of it is left in runc or mounted', { timeout: 120_000 }, async (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  importBase(root, work, 'img');

  await t.test('Ctrl-C (SIGINT to the process group) ends a container that handles it; --rm leaves nothing', async () => {
    const p = startShale(['run', '--rm', 'img', 'sh', '-c', 'trap "echo got-int; exit 130" INT; echo ready; while true; do sleep 0.2; done'], root);
    await waitFor('the container is running', () => p.output().includes('ready'));
    const sent = Date.now();
    process.kill(-p.child.pid!, 'SIGINT');
    const end = await within(p.done, 10_000);
    if (!end) process.kill(-p.child.pid!, 'SIGKILL');
    assert.ok(end, 'shale ended within 10 s of Ctrl-C');
    assert.equal(end.code, 130, p.output());
    assert.ok(end.at - sent < 5000);
    assert.match(p.output(), /got-int/);
    assert.deepEqual(runcContainers(root), []);
    assert.deepEqual(mountsUnder(root), []);
    assert.deepEqual(ps(root), []);
  });

  await t.test(
    'Ctrl-C ends a foreground `shale run IMG sleep 30` quickly with a non-zero status',
    {},
    async () => {
      const p = startShale(['run', '--name', 'sleeper', 'img', 'sleep', '30'], root);
      await waitFor('the container is running', () => runcContainers(root).some((c) => c.status === 'running'));
      const sent = Date.now();
      process.kill(-p.child.pid!, 'SIGINT');
      const end = await within(p.done, 8000);
      if (!end) {
        process.kill(-p.child.pid!, 'SIGKILL');
        await p.done;
        for (const c of runcContainers(root)) spawnSync('runc', ['--root', join(root, 'shale', 'runc'), 'delete', '--force', c.id]);
      }
      assert.ok(end, 'shale ended within 8 s of Ctrl-C');
      assert.notEqual(end.code, 0);
      assert.ok(end.at - sent < 5000);
      assert.deepEqual(runcContainers(root), [], 'no runc container is left');
      const row = ps(root).find((r) => r.name === 'sleeper')!;
      assert.match(row.status, /^Exited \((?!0\))\d+\)$/);
      // the stopped container keeps its writable layer (mounted until rm); nothing else is mounted
      assert.deepEqual(mountsUnder(root).filter((m) => !m.includes(`ctr-${row.id.slice(0, 32)}`)), []);
      shaleOk(['rm', 'sleeper'], { root });
      assert.deepEqual(mountsUnder(root), []);
    },
  );

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    await t.test(
      `${sig} sent to the shale process alone (kill, timeout, a supervisor) is forwarded to the container, as the docker CLI does`,
      {},
      async () => {
        const p = startShale(['run', '--rm', 'img', 'sh', '-c', `trap "echo got; exit 130" INT TERM; echo ready; while true; do sleep 0.2; done`], root);
        await waitFor('the container is running', () => p.output().includes('ready'));
        p.child.kill(sig);
        const end = await within(p.done, 6000);
        if (!end) {
          process.kill(-p.child.pid!, 'SIGKILL');
          await p.done;
          for (const c of ps(root)) shale(['rm', '-f', c.id], { root });
        }
        assert.ok(end, `shale ended within 6 s of ${sig}`);
        assert.equal(end.code, 130);
        assert.deepEqual(runcContainers(root), []);
        assert.deepEqual(mountsUnder(root), []);
      },
    );
  }

  await t.test(
    'a foreground container is running while it runs: ps lists it Up, stop stops it, rm without -f refuses',
    {},
    async () => {
      const p = startShale(['run', '--name', 'fg', 'img', 'sh', '-c', 'trap "exit 0" TERM; echo ready; while true; do sleep 0.2; done'], root);
      try {
        await waitFor('the container is running', () => p.output().includes('ready'));
        assert.deepEqual(ps(root, false).map((r) => [r.name, r.status]), [['fg', 'Up']]);
        assertCliError(shale(['rm', 'fg'], { root }), 'rm of a running foreground container');
        shaleOk(['stop', 'fg'], { root });
        const end = await within(p.done, 5000);
        assert.ok(end, 'stop ended the foreground run');
        assert.equal(end.code, 0);
      } finally {
        if (p.child.exitCode === null) process.kill(-p.child.pid!, 'SIGKILL');
      }
    },
  );
});

test('errors: run\'s own failures exit 125, other commands 2, with one error line, and no container left behind', { timeout: 60_000 }, (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  importBase(root, work, 'img');
  assertRunFailure(shale(['run', 'nosuch:img'], { root }), 'run nosuch:img');
  assertRunFailure(shale(['run', '--rm', 'nosuch:img', 'true'], { root }), 'run --rm nosuch:img');
  assertCliError(shale(['diff', 'nosuch'], { root }), 'diff nosuch');
  assertCliError(shale(['commit', 'nosuch', 'x:y'], { root }), 'commit nosuch');
  assertCliError(shale(['logs', 'nosuch'], { root }), 'logs nosuch');
  assertCliError(shale(['stop', 'nosuch'], { root }), 'stop nosuch');
  assertCliError(shale(['rm', 'nosuch'], { root }), 'rm nosuch');
  for (const v of ['bad', `${work}:relative`, `${work}:/mnt:rx`, `${work}/does-not-exist:/mnt`, 'named-volume:/mnt', `${work}:/a:/b:ro`]) {
    assertRunFailure(shale(['run', '--rm', '-v', v, 'img', 'true'], { root }), `run -v ${v}`);
  }
  shaleOk(['run', '--name', 'taken', 'img', 'true'], { root });
  assertRunFailure(shale(['run', '--name', 'taken', 'img', 'true'], { root }), 'run with a name in use');
  assert.deepEqual(ps(root).map((r) => r.name), ['taken'], 'failed runs leave no container');
  shaleOk(['rm', 'taken'], { root });
  assert.deepEqual(mountsUnder(root), []);
});

test('run: exit 125 for its own failures, 126/127 for a command that cannot start, else the command\'s status; --rm leaves nothing on any of them', { timeout: 120_000 }, async (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  importBase(root, work, 'img');
  const nothingLeft = (what: string) => {
    assert.deepEqual(ps(root), [], `${what}: no container is left`);
    assert.deepEqual(mountsUnder(root), [], `${what}: no mount is left`);
    assert.deepEqual(runcContainers(root), [], `${what}: runc has no container`);
    assert.deepEqual(readdirSync(join(root, 'shale', 'snapshots', 'active')).filter((n) => !n.startsWith('.')), [], `${what}: no snapshot is left`);
    assert.deepEqual(readdirSync(join(root, 'shale', 'containers')), [], `${what}: no container folder is left`);
  };

  await t.test('the command\'s own status 2 and "image not found" differ', () => {
    assert.equal(shale(['run', '--rm', 'img', 'sh', '-c', 'exit 2'], { root }).status, 2);
    assertRunFailure(shale(['run', '--rm', 'nosuch:img', 'sh', '-c', 'exit 2'], { root }), 'image not found');
    assertRunFailure(shale(['run', '--no-such-flag', 'img', 'true'], { root }), 'an unknown flag of run');
    assertRunFailure(shale(['run'], { root }), 'run without an image');
    assertRunFailure(shale(['run', '--network', 'bridge', 'img', 'true'], { root }), 'a refused --network value');
    nothingLeft('failures before the container exists');
  });

  await t.test('--rm removes the container when the user lookup fails', () => {
    const r = assertRunFailure(shale(['run', '--rm', '-u', 'nosuchuser', 'img', 'true'], { root }), 'run -u nosuchuser');
    assert.match(r, /unable to find user nosuchuser/);
    assertRunFailure(shale(['run', '--rm', '-u', 'root:nosuchgroup', 'img', 'true'], { root }), 'run -u root:nosuchgroup');
    nothingLeft('a failed user lookup');
  });

  await t.test('--rm removes the container when the command is missing (127) or not executable (126)', () => {
    assert.equal(shale(['run', '--rm', 'img', 'nosuchcommand'], { root }).status, 127);
    assert.equal(shale(['run', '--rm', 'img', '/etc/passwd'], { root }).status, 126);
    nothingLeft('a command that cannot start');
  });

  await t.test('--rm removes the container when runc cannot start it (a working directory that is a file): exit 125', () => {
    const r = shale(['run', '--rm', '-w', '/etc/passwd', 'img', 'true'], { root });
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, /^error: the runtime could not start container/m);
    nothingLeft('runc failing to start the container');
  });

  await t.test('without --rm a container that could not start stays, as Docker\'s, in Created', () => {
    assertRunFailure(shale(['run', '--name', 'nouser', '-u', 'nosuchuser', 'img', 'true'], { root }), 'run -u nosuchuser');
    assert.equal(shale(['run', '--name', 'badwd', '-w', '/etc/passwd', 'img', 'true'], { root }).status, 125);
    assert.deepEqual(ps(root).map((r) => [r.name, r.status]).sort(), [['badwd', 'Created'], ['nouser', 'Created']]);
    shaleOk(['rm', 'nouser', 'badwd'], { root });
    nothingLeft('rm of the Created containers');
  });
});

/** A failure of `run` itself: exit status 125 (Docker's), one `error: ...` line (and an optional hint). */
function assertRunFailure(r: ReturnType<typeof shale>, what: string): string {
  assert.equal(r.status, 125, `${what}: expected exit status 125\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.match(lines[0] ?? '', /^error: \S/, `${what}: stderr does not start with "error: "\n${r.stderr}`);
  assert.ok(lines.slice(1).every((l) => l.startsWith('hint: ')), `${what}: more than the error line:\n${r.stderr}`);
  return lines[0]!;
}

test('rmi keeps an image a container uses unless forced, with Docker\'s messages; each deleted ID is printed once', { timeout: 120_000 }, async (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  const { id } = importBase(root, work, 'used:1');
  const short = hexOf(id).slice(0, 12);
  shaleOk(['run', '--name', 'c', 'used:1', 'sh', '-c', 'echo kept > /kept'], { root });
  const cid = ps(root)[0]!.id.slice(0, 12);
  const images = () => shaleJson<ImageRow[]>(['images'], { root }).map((r) => `${r.repository}:${r.tag}`).sort();

  await t.test('the last name of an image a stopped container uses is refused', () => {
    const line = assertCliError(shale(['rmi', 'used:1'], { root }), 'rmi used:1');
    assert.equal(line, `error: conflict: unable to remove repository reference "used:1" (must force) - container ${cid} is using its referenced image ${short}`);
    assert.deepEqual(images(), ['used:1']);
  });

  await t.test('a name that is not the last one is untagged', () => {
    shaleOk(['tag', 'used:1', 'other:1'], { root });
    assert.equal(shaleOk(['rmi', 'used:1'], { root }).stdout, 'Untagged: used:1\n');
    assert.deepEqual(images(), ['other:1']);
  });

  await t.test('by ID it is refused, naming the stopped container', () => {
    const line = assertCliError(shale(['rmi', id], { root }), 'rmi ID');
    assert.equal(line, `error: conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${cid}`);
  });

  await t.test('-f deletes it, printing the ID once; the container keeps its layers', () => {
    const r = shaleOk(['rmi', '-f', 'other:1'], { root });
    assert.equal(r.stdout, `Untagged: other:1\nDeleted: ${id}\n`);
    assert.deepEqual(images(), []);
    assert.deepEqual(shaleJson<Change[]>(['diff', 'c'], { root }), [{ kind: 'A', path: '/kept' }]);
    shaleOk(['commit', 'c', 'again:1'], { root });
    assert.equal(shaleOk(['run', '--rm', 'again:1', 'cat', '/kept'], { root }).stdout, 'kept\n');
    shaleOk(['rm', 'c'], { root });
  });

  await t.test('a running container\'s image cannot be deleted even with -f; forcing its name off leaves it <none>', async () => {
    shaleOk(['tag', 'again:1', 'busy:1'], { root });
    shaleOk(['rmi', 'again:1'], { root });
    const busyId = shaleJson<{ id: string }>(['inspect', 'busy:1'], { root }).id;
    const running = shaleOk(['run', '-d', 'busy:1', 'sleep', '60'], { root }).stdout.trim();
    const line = assertCliError(shale(['rmi', '-f', busyId], { root }), 'rmi -f ID of a running container\'s image');
    assert.equal(line, `error: conflict: unable to delete ${hexOf(busyId).slice(0, 12)} (cannot be forced) - image is being used by running container ${running.slice(0, 12)}`);
    assert.equal(shaleOk(['rmi', '-f', 'busy:1'], { root }).stdout, 'Untagged: busy:1\n');
    assert.deepEqual(images(), ['<none>:<none>']);
    shaleOk(['rm', '-f', running], { root });
  });

  await t.test('an image nothing uses is deleted: every deleted ID printed once, the image ID first', () => {
    const solo = shaleOk(['import', join(work, 'rootfs.tar'), 'solo:1'], { root }).stdout.trim();
    const lines = shaleOk(['rmi', 'solo:1'], { root }).stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 2), ['Untagged: solo:1', `Deleted: ${solo}`]);
    assert.ok(lines.slice(1).every((l) => l.startsWith('Deleted: sha256:')), lines.join('\n'));
    assert.equal(new Set(lines).size, lines.length, `no line twice:\n${lines.join('\n')}`);
  });
});

test('export CONTAINER: the merged tree of a stopped or running container; a name that is both a container and an image is the container', { timeout: 120_000 }, async (t) => {
  if (!needsRuntime(t)) return;
  const { root, work } = containerStore(t);
  importBase(root, work, 'img');
  const entriesOf = async (tar: string): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for await (const e of readTar(createReadStream(tar))) {
      let body = '';
      for await (const c of e.body) body += Buffer.from(c).toString();
      out.set(e.header.name.replace(/\/+$/, ''), e.header.type === 'file' ? body : e.header.type);
    }
    return out;
  };

  await t.test('a stopped container named like an image: its changes are in the tar, the deleted file is not, no whiteouts', async () => {
    shaleOk(['run', '--name', 'img', 'img', 'sh', '-c', SEED_CMD], { root });
    const out = join(work, 'stopped.tar');
    shaleOk(['export', 'img', '-o', out], { root });
    const tree = await entriesOf(out);
    assert.equal(tree.get('new'), 'x\n');
    assert.equal(tree.has('bin/dd'), false, 'the file the container deleted is gone');
    assert.equal(tree.get('bin/sh'), 'symlink');
    assert.ok(![...tree.keys()].some((p) => p.split('/').pop()!.startsWith('.wh.')), 'no whiteouts');
    assert.equal(tree.get('.dockerenv'), '', 'the init layer is there, as in docker export');
    shaleOk(['export', 'img:latest', '-o', join(work, 'image.tar')], { root });
    assert.equal((await entriesOf(join(work, 'image.tar'))).has('new'), false, 'img:latest is still the image');
    shaleOk(['rm', 'img'], { root });
  });

  await t.test('a running container: what it wrote so far', async () => {
    const id = shaleOk(['run', '-d', 'img', 'sh', '-c', 'echo live > /live; rm /bin/dd; sleep 60'], { root }).stdout.trim();
    await waitFor('the container wrote /live', () => shaleJson<Change[]>(['diff', id], { root }).some((c) => c.path === '/live'));
    const out = join(work, 'running.tar');
    shaleOk(['export', id.slice(0, 12), '-o', out], { root });
    const tree = await entriesOf(out);
    assert.equal(tree.get('live'), 'live\n');
    assert.equal(tree.has('bin/dd'), false);
    assert.equal(ps(root, false).length, 1, 'the container still runs');
    shaleOk(['rm', '-f', id], { root });
  });
});
