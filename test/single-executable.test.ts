/**
 * The single executable (`npm run package` writes dist/shale-linux-x64): in a chroot of the Debian base,
 * which has no Node, it prints byte for byte what bin/shale on the host prints for the same commands and
 * inputs; on the host with no `node` on PATH it builds a Dockerfile with a RUN and runs the image; as an
 * ordinary user it runs itself again in the user namespace, as bin/shale does.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { lastLine, writeContext } from './support/build.js';
import { debianRootfsTar } from './support/debian.js';
import { openToAll, rootlessUsers, userDir, userStore } from './support/rootless.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { REPO_ROOT, shale, shaleOk, tempDir, tempStore, type ShaleResult, type ShaleUser } from './support/shale.js';
import { requireTool } from './support/tools.js';

const EXECUTABLE = join(REPO_ROOT, 'dist', 'shale-linux-x64');
const REF = 'shale-sea:busybox';
/** The image's creation time (2023-11-14), so `images` says "N years ago" on both sides, not seconds. */
const CREATED = { SOURCE_DATE_EPOCH: '1700000000' };
/** A Dockerfile with findings of several lint rules. */
const LINTED = 'FROM debian:bookworm\nRUN apt-get update\nRUN apt-get install -y curl\nADD http://example.com/x.tar.gz /opt/\n';

let work = '';
let archive = '';
const cleanups: (() => unknown)[] = [];
const suite = { after: (fn: () => unknown) => void cleanups.push(fn) };
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

// one small image for every case: a busybox root filesystem, saved as a docker-archive
before(() => {
  work = tempDir(suite, 'shale-sea-');
  const root = tempStore(suite);
  const rootfs = tarDir(makeBusyboxRootfs(join(work, 'rootfs')), join(work, 'rootfs.tar'));
  shaleOk(['import', rootfs, REF], { root, env: CREATED });
  archive = join(work, 'busybox.tar');
  shaleOk(['save', '-o', archive, REF], { root });
});

/** The executable of the current build: packaged again (`npm run package`) when missing or older than the CLI bundle. */
let packaged: string | undefined;
function executable(): string {
  if (packaged) return packaged;
  const bundle = statSync(join(REPO_ROOT, 'dist', 'shale.cjs')).mtimeMs;
  if (!existsSync(EXECUTABLE) || statSync(EXECUTABLE).mtimeMs < bundle) {
    execFileSync('npm', ['run', '--silent', 'package'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
  }
  return (packaged = EXECUTABLE);
}

const summary = (what: string, r: ShaleResult) => `${what} -> status ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr}`;

test('in a chroot of Debian, where there is no node, the executable prints what bin/shale prints on the host', { timeout: 300_000 }, (t) => {
  if (!requireTool(t, 'chroot')) return;
  const debian = debianRootfsTar(t);
  if (!debian) return;
  const exe = executable();

  const dir = tempDir(t, 'shale-sea-chroot-');
  execFileSync('tar', ['-C', dir, '-xf', debian]);
  // only what the executable is given: no /proc, no /dev, a clean environment
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
  const noNode = spawnSync('chroot', [dir, '/bin/sh', '-c', 'command -v node || command -v nodejs'], { env, encoding: 'utf8' });
  assert.notEqual(noNode.status, 0, `the Debian root filesystem has a node: ${noNode.stdout}`);
  copyFileSync(exe, join(dir, 'shale'));
  chmodSync(join(dir, 'shale'), 0o755);
  copyFileSync(archive, join(dir, 'busybox.tar'));
  writeFileSync(join(dir, 'Dockerfile'), LINTED);

  const hostDir = tempDir(t, 'shale-sea-host-');
  writeFileSync(join(hostDir, 'Dockerfile'), LINTED);
  const hostRoot = tempStore(t);

  // the same commands on both sides; only the paths they are given differ (the store, the archive, the
  // export's file), and none of them is printed. `lint Dockerfile` reads it from the working directory.
  const commands = (side: { archive: string; exported: string }) => [
    ['--version'],
    ['load', '-i', side.archive],
    ['images'],
    ['inspect', REF],
    ['analyze', REF, '--format', 'json'],
    ['analyze', REF, '--format', 'html'],
    ['lint', 'Dockerfile'],
    ['export', '-o', side.exported, REF],
  ];
  const inChroot = commands({ archive: '/busybox.tar', exported: '/exported.tar' });
  const onHost = commands({ archive, exported: join(hostDir, 'exported.tar') });
  for (const [i, args] of inChroot.entries()) {
    const r = spawnSync('chroot', [dir, '/shale', '--root', '/store', ...args], { env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 });
    if (r.error) throw r.error;
    const got: ShaleResult = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    const want = shale(onHost[i]!, { root: hostRoot, cwd: hostDir });
    const what = `shale ${args.join(' ')}`;
    assert.ok(want.status === 0 || args[0] === 'lint', summary(`bin/shale on the host: ${what}`, want));
    assert.deepEqual(got, want, `${what}: the executable in the chroot and bin/shale on the host differ\n${summary('executable', got)}`);
  }
  assert.ok(statSync(join(dir, 'exported.tar')).size > 1 << 20, 'the export holds the busybox root filesystem');
  assert.ok(readFileSync(join(dir, 'exported.tar')).equals(readFileSync(join(hostDir, 'exported.tar'))), 'the exported root filesystems are the same bytes');
});

/**
 * This environment with no `node` on PATH: each PATH directory that holds one (the Node this runs on, and
 * /usr/bin, which also holds the tools shale calls, such as mount) is replaced by a directory of links to
 * all its programs but node, as on a machine where Node is not installed.
 */
function environmentWithoutNode(t: TestContext): NodeJS.ProcessEnv {
  const links = tempDir(t, 'shale-sea-path-');
  const path = (process.env.PATH ?? '').split(':').filter((d) => d !== '').map((d, i) => {
    if (!existsSync(join(d, 'node'))) return d;
    const copy = join(links, String(i));
    mkdirSync(copy);
    for (const name of readdirSync(d)) if (!/^node(js)?$/.test(name)) symlinkSync(join(d, name), join(copy, name));
    return copy;
  });
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path.join(':') };
  delete env.CI;
  return env;
}

test('on the host with no node on PATH, the executable builds a Dockerfile with a RUN and runs the image', { timeout: 300_000 }, (t) => {
  if (!requireTool(t, 'runc')) return;
  const exe = executable();
  const env = environmentWithoutNode(t);
  const node = spawnSync('/bin/sh', ['-c', 'command -v node'], { env, encoding: 'utf8' });
  assert.notEqual(node.status, 0, `node is still on PATH: ${node.stdout}`);

  const root = tempStore(t);
  const run = (args: string[], extra: Record<string, string> = {}): ShaleResult => {
    const r = spawnSync(exe, ['--root', root, ...args], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 120_000 });
    if (r.error) throw r.error;
    const result = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    assert.equal(r.status, 0, summary(`the executable: shale ${args.join(' ')}`, result));
    return result;
  };
  run(['load', '-i', archive]);
  const context = writeContext(join(tempDir(t, 'shale-sea-ctx-'), 'ctx'), {
    Dockerfile: `FROM ${REF}\nRUN echo made by the executable > /made && ls /bin | wc -l > /count\n`,
  });
  // the build's times are one given epoch on both sides, so the same steps make the same image ID
  const built = lastLine(run(['build', '--progress', 'plain', '-t', 'shale-sea:built', context], CREATED).stdout);
  const hostRoot = tempStore(t);
  shaleOk(['load', '-i', archive], { root: hostRoot });
  assert.match(built, /^sha256:[0-9a-f]{64}$/);
  const byNode = lastLine(shaleOk(['build', '--progress', 'plain', '-t', 'shale-sea:built', context], { root: hostRoot, env: CREATED }).stdout);
  assert.equal(built, byNode, 'the executable and bin/shale build the same image');

  assert.equal(run(['run', '--rm', 'shale-sea:built', 'cat', '/made']).stdout, 'made by the executable\n');
  assert.equal(run(['ps', '-a', '--format', 'json']).stdout.trim(), '[]', 'run --rm removed its container');
  assert.match(run(['run', '-d', '--rm', 'shale-sea:built', 'true']).stdout, /^[0-9a-f]{64}\n$/);
  assertRemovedSoon(() => run(['ps', '-a', '--format', 'json']).stdout);
});

/** Waits (at most 10 s) until `ps -a --format json` lists nothing: a detached `run --rm` removed its container by running shale again. */
function assertRemovedSoon(psAll: () => string): void {
  const deadline = Date.now() + 10_000;
  let listed = psAll();
  while (listed.trim() !== '[]' && Date.now() < deadline) {
    spawnSync('sleep', ['0.1']);
    listed = psAll();
  }
  assert.equal(listed.trim(), '[]', 'the detached run --rm removed its container when it ended');
}

test('as an ordinary user, the executable runs itself again in the user namespace: build with a RUN, run --rm, run -d --rm', { timeout: 300_000 }, (t) => {
  const users = rootlessUsers(t, 'shale-sea');
  if (!users) return;
  const exe = executable();
  const copy = join(userDir(t, users.ranged, 'shale-sea-rl-'), 'shale');
  copyFileSync(exe, copy);
  chmodSync(copy, 0o755);
  // the user runs the executable where they would run bin/shale
  const user: ShaleUser = { ...users.ranged, bin: copy };
  const root = userStore(t, user);
  openToAll(work);
  shaleOk(['load', '-i', archive], { root, user });
  const context = writeContext(join(tempDir(t, 'shale-sea-ctx-'), 'ctx'), { Dockerfile: `FROM ${REF}\nRUN echo made by $(id -u) > /made\n` });
  openToAll(join(context, '..'));
  assert.match(lastLine(shaleOk(['build', '-t', 'shale-sea:user', context], { root, user }).stdout), /^sha256:[0-9a-f]{64}$/);
  assert.equal(shaleOk(['run', '--rm', 'shale-sea:user', 'cat', '/made'], { root, user }).stdout, 'made by 0\n');
  assert.match(shaleOk(['run', '-d', '--rm', 'shale-sea:user', 'true'], { root, user }).stdout, /^[0-9a-f]{64}\n$/);
  assertRemovedSoon(() => shaleOk(['ps', '-a', '--format', 'json'], { root, user }).stdout);
});
