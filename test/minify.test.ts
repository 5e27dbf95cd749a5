/**
 * `shale minify`: images traced while probes run them, cut down to what the probes touched (plus what the
 * loader needs), and verified by running the probes again. The apt images share one store over the Debian
 * base (built once); the busybox cases one store of their own.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { writeContext } from './support/build.js';
import { debianBaseStore } from './support/debian.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { openToAll, rootlessUsers, userDir, userStore } from './support/rootless.js';
import { assertCliError, assertErrorAfterProgress, shale, shaleJson, shaleOk, tempDir, tempStore, type ShaleOptions } from './support/shale.js';
import { requireTool } from './support/tools.js';

interface MinifyJson {
  id: string;
  ref: string;
  mode: string;
  keptBaseLayers: number;
  before: { sizeBytes: number; layers: number };
  after: { sizeBytes: number; layers: number };
  newLayerBytes: number;
  probes: { probe: string; original: { exitCode?: number; stdout?: string; httpStatus?: number; body?: string }; minified: unknown }[];
  keptPaths: number;
}

interface Report {
  kept: { path: string; type: string; size: number; reasons: string[]; accesses?: string[] }[];
}

interface Inspect {
  id: string;
  manifest: { layers: { digest: string; size: number }[] };
  config: { config?: { Cmd?: string[]; Entrypoint?: string[]; Env?: string[]; WorkingDir?: string; ExposedPorts?: Record<string, object> } };
}

/** The paths of an image's merged tree (`shale export`), without the leading `./`. */
function exportedPaths(o: ShaleOptions, ref: string, work: string): Set<string> {
  const tar = join(work, `${ref.replace(/[^a-z0-9]/gi, '_')}.tar`);
  shaleOk(['export', ref, '-o', tar], o);
  return new Set(execFileSync('tar', ['-tf', tar], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean).map((p) => p.replace(/^\.?\//, '').replace(/\/$/, '')));
}

/** Blob names and index of a store: what a failed minify must leave as it was. */
const storeState = (root: string) => ({ blobs: readdirSync(join(root, 'blobs', 'sha256')).sort(), index: readFileSync(join(root, 'index.json'), 'utf8') });

function needsTracer(t: TestContext): boolean {
  return requireTool(t, 'runc') && requireTool(t, 'strace');
}

test('minify on Debian: curl and a Python HTTP server, from scratch and over the kept base', { timeout: 1_500_000 }, async (t) => {
  if (!needsTracer(t)) return;
  const base = debianBaseStore(t, 'shale-minify');
  if (!base) return;
  const { work, root, name } = base;
  const o = { root, timeoutMs: 900_000 };
  const curlCtx = writeContext(join(work, 'curl'), {
    Dockerfile: `FROM ${name}:base\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\nENV GREETING=hi\nWORKDIR /srv\nEXPOSE 8080\nCMD ["curl", "--version"]\n`,
  });
  shaleOk(['build', '-q', '-t', `${name}:curl`, curlCtx], o);
  const curlProbes = ['--probe-cmd', 'curl --version', '--probe-cmd', 'curl -s file:///etc/os-release'];

  await t.test('the curl image keeps what curl needs: both probes pass, at least 10x smaller, config kept', () => {
    const report = join(work, 'curl-report.json');
    const r = shaleJson<MinifyJson>(['minify', `${name}:curl`, '-t', `${name}:curl-min`, ...curlProbes, '--report', report], o);
    const ratio = r.before.sizeBytes / r.after.sizeBytes;
    t.diagnostic(`curl: ${r.before.sizeBytes} B -> ${r.after.sizeBytes} B (${ratio.toFixed(1)}x), ${r.keptPaths} paths`);
    assert.ok(ratio >= 10, `at least 10x smaller (${ratio.toFixed(1)}x)`);
    assert.equal(r.mode, 'from-scratch');
    assert.equal(r.after.layers, 1);
    assert.match(r.probes[0]!.original.stdout!, /^curl \d/);
    assert.match(r.probes[1]!.original.stdout!, /Debian GNU\/Linux 12/);
    // the minified image, run as users run it, prints what the original prints
    for (const args of [['curl', '--version'], ['curl', '-s', 'file:///etc/os-release']]) {
      assert.equal(shaleOk(['run', '--rm', `${name}:curl-min`, ...args], o).stdout, shaleOk(['run', '--rm', `${name}:curl`, ...args], o).stdout);
    }
    const kept = JSON.parse(readFileSync(report, 'utf8')) as Report;
    const why = new Map(kept.kept.map((k) => [k.path, k.reasons]));
    assert.ok(why.get('/usr/bin/curl')?.some((r) => r.startsWith('probe 1')), 'curl: touched by probe 1');
    assert.deepEqual(why.get('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'), ['loader'], 'ld.so: the kernel maps it, the loader rule keeps it');
    assert.ok(why.get('/etc/ld.so.cache')?.includes('loader'));
    assert.ok(why.get('/etc/os-release'), 'the symlink read by probe 2');
    assert.ok(why.get('/usr/lib/os-release'), 'its target');
    assert.ok(!why.has('/usr/bin/apt-get'), 'apt is not used');
    const [before, after] = [shaleJson<Inspect>(['inspect', `${name}:curl`], o), shaleJson<Inspect>(['inspect', `${name}:curl-min`], o)];
    for (const k of ['Cmd', 'Entrypoint', 'Env', 'WorkingDir', 'ExposedPorts'] as const) assert.deepEqual(after.config.config?.[k], before.config.config?.[k], `config ${k} kept`);
    // analyze --compare shows what went: only removals, every kept file as it was
    const cmp = shaleJson<{ added: unknown[]; changed: unknown[]; removed: { path: string; size: number }[]; deltaBytes: number }>(['analyze', `${name}:curl-min`, '--compare', `${name}:curl`, '--format', 'json'], o);
    assert.deepEqual([cmp.added, cmp.changed], [[], []]);
    assert.ok(cmp.removed.some((p) => p.path === '/usr/bin/apt-get'));
    assert.equal(-cmp.deltaBytes, cmp.removed.reduce((n, p) => n + p.size, 0), 'the removed bytes are the whole difference');
    assert.ok(-cmp.deltaBytes > r.after.sizeBytes * 5, `removed ${-cmp.deltaBytes} B, kept ${r.after.sizeBytes} B`);
  });

  await t.test('--keep-base: the base layers stay the same blobs; over the base only the new layer is pulled', () => {
    const r = shaleJson<MinifyJson>(['minify', `${name}:curl`, '-t', `${name}:curl-kb`, '--keep-base', '--probe-cmd', 'curl --version'], o);
    const [orig, baseImg, kb] = [`${name}:curl`, `${name}:base`, `${name}:curl-kb`].map((ref) => shaleJson<Inspect>(['inspect', ref], o));
    assert.equal(r.mode, 'keep-base');
    assert.equal(r.keptBaseLayers, baseImg!.manifest.layers.length);
    assert.deepEqual(kb!.manifest.layers.slice(0, r.keptBaseLayers).map((l) => l.digest), baseImg!.manifest.layers.map((l) => l.digest), 'base layer digests unchanged');
    const baseDigests = new Set(baseImg!.manifest.layers.map((l) => l.digest));
    const toPull = kb!.manifest.layers.filter((l) => !baseDigests.has(l.digest)).reduce((n, l) => n + l.size, 0);
    assert.equal(toPull, r.newLayerBytes, 'bytes to pull with the base present = the new layer');
    const origAbove = orig!.manifest.layers.filter((l) => !baseDigests.has(l.digest)).reduce((n, l) => n + l.size, 0);
    t.diagnostic(`keep-base: above the base ${origAbove} B -> ${toPull} B`);
    assert.ok(toPull * 5 < origAbove, `the layer above the base is much smaller (${origAbove} -> ${toPull})`);
    assert.equal(shaleOk(['run', '--rm', kb!.id, 'curl', '--version'], o).stdout, r.probes[0]!.original.stdout);
  });

  await t.test('a probe reading a file --exclude removed: verification fails (exit 1), nothing new in the store', () => {
    const before = storeState(root);
    const r = shale(['minify', `${name}:curl`, '-t', `${name}:curl-broken`, '--probe-cmd', 'curl -s file:///etc/os-release', '--exclude', '/usr/lib/os-release'], o);
    const line = assertErrorAfterProgress(r, 'minify with a forced exclude', 1);
    assert.match(line, /verification failed: probe cmd "curl -s file:\/\/\/etc\/os-release" .*exit status 37, the original's 0/);
    assert.deepEqual(storeState(root), before, 'no tag, no blob left');
    assert.notEqual(shale(['inspect', `${name}:curl-broken`], o).status, 0);
  });

  await t.test('a probe failing on the original image is an error before anything is minified', () => {
    const before = storeState(root);
    assertErrorAfterProgress(shale(['minify', `${name}:curl`, '-t', `${name}:x`, '--probe-cmd', 'curl -s file:///nonexistent'], o), 'failing probe');
    assert.deepEqual(storeState(root), before);
  });

  await t.test('a Python HTTP server with an HTTP probe: same status and body, at least 5x smaller', () => {
    const ctx = writeContext(join(work, 'py'), { Dockerfile: `FROM ${name}:base\nRUN apt-get update && apt-get install -y python3\nCMD python3 -m http.server 8000\n` });
    shaleOk(['build', '-q', '-t', `${name}:py`, ctx], o);
    const r = shaleJson<MinifyJson>(['minify', `${name}:py`, '-t', `${name}:py-min`, '--probe-http', '8000/', '--probe-timeout', '120'], o);
    const ratio = r.before.sizeBytes / r.after.sizeBytes;
    t.diagnostic(`python: ${r.before.sizeBytes} B -> ${r.after.sizeBytes} B (${ratio.toFixed(1)}x), ${r.keptPaths} paths`);
    assert.ok(ratio >= 5, `at least 5x smaller (${ratio.toFixed(1)}x)`);
    assert.equal(r.probes[0]!.original.httpStatus, 200);
    assert.match(r.probes[0]!.original.body!, /Directory listing for \//);
  });
});

test('minify on busybox: a script probe through children of children, stat-only reads, bad input', { timeout: 300_000 }, async (t) => {
  if (!needsTracer(t)) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const o = { root };
  const rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
  writeContext(rootfs, {
    'data/read.txt': 'read me\n',
    'data/stat-only.txt': 'only stat\n',
    'data/unused.txt': 'nobody\n',
    'data/gone.txt': 'read, then removed\n',
    // a binary of its own (a copy of busybox, run as its cat applet)
    'opt/cat': { content: readFileSync(join(rootfs, 'bin', 'busybox')), mode: 0o755 },
  });
  shaleOk(['import', tarDir(rootfs, join(work, 'bb.tar')), 'bb:1'], o);
  const script = join(work, 'probe.sh');
  // each `; true` keeps the shell from exec'ing its last command in place: the shells fork, so /opt/cat and
  // stat run in a child of a child of the script's shell
  writeFileSync(script, '#!/bin/sh\nsh -c \'sh -c "/opt/cat /data/read.txt; stat -c %s /data/stat-only.txt; true"; true\'\ncat /data/gone.txt; rm /data/gone.txt\n');
  const report = join(work, 'report.json');

  await t.test('a binary run by a child of a child and a file only stat-ed are kept; the rest is gone', () => {
    const r = shaleJson<MinifyJson>(['minify', 'bb:1', '-t', 'bb:min', '--probe-script', script, '--report', report], o);
    assert.equal(r.probes[0]!.original.stdout, 'read me\n10\nread, then removed\n');
    const why = new Map((JSON.parse(readFileSync(report, 'utf8')) as Report).kept.map((k) => [k.path, k.reasons]));
    assert.deepEqual(why.get('/opt/cat'), ['probe 1: script ' + script]);
    assert.deepEqual(why.get('/data/stat-only.txt'), ['probe 1: script ' + script]);
    const how = new Map((JSON.parse(readFileSync(report, 'utf8')) as Report).kept.map((k) => [k.path, k.accesses]));
    assert.deepEqual(how.get('/data/stat-only.txt'), ['stat'], 'touched only by stat');
    assert.ok(how.get('/opt/cat')?.includes('exec'));
    const paths = exportedPaths(o, 'bb:min', work);
    // gone.txt: the probe removed it from its container, the image still has it and the probe needs it
    for (const p of ['opt/cat', 'data/read.txt', 'data/stat-only.txt', 'data/gone.txt', 'bin/sh', 'bin/busybox']) assert.ok(paths.has(p), `${p} kept`);
    for (const p of ['data/unused.txt', 'bin/ls', 'tmp']) assert.ok(!paths.has(p), `${p} removed`);
    assert.deepEqual(why.get('/etc/passwd'), ['runtime'], 'the runtime reads the user database before the container starts');
  });

  await t.test('--include keeps a path no probe touched', () => {
    shaleJson(['minify', 'bb:1', '-t', 'bb:inc', '--probe-script', script, '--include', '/data/unused.txt'], o);
    assert.ok(exportedPaths(o, 'bb:inc', work).has('data/unused.txt'));
  });

  await t.test('a probe that does not end is killed at its timeout: exit 2, no container left', () => {
    const r = shale(['minify', 'bb:1', '-t', 'bb:x', '--probe-cmd', 'sh -c "while :; do :; done"', '--probe-timeout', '1'], o);
    assert.match(assertErrorAfterProgress(r, 'endless probe'), /did not end within 1 s \(killed\) \(on the original image bb:1\)/);
    assert.deepEqual(shaleJson(['ps', '-a'], o), []);
  });

  await t.test('without strace: one clear line, exit 2', () => {
    const bin = join(work, 'no-strace-bin');
    mkdirSync(bin);
    symlinkSync(execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim(), join(bin, 'runc'));
    const r = shale(['minify', 'bb:1', '-t', 'bb:x', '--probe-cmd', 'true'], { ...o, env: { PATH: bin } });
    assert.match(assertCliError(r, 'no strace'), /strace is not installed/);
  });

  await t.test('a tracer the system refuses (ptrace not permitted): one clear line naming it, exit 2', () => {
    // a strace that fails as the real one does where ptrace is refused (a seccomp filter, an LSM)
    const bin = join(work, 'refusing-strace-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'strace'), '#!/bin/sh\n[ "$1" = -V ] && exec /usr/bin/strace -V\necho "strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: Operation not permitted" >&2\nexit 1\n', { mode: 0o755 });
    const r = shale(['minify', 'bb:1', '-t', 'bb:x', '--probe-cmd', 'true'], { ...o, env: { PATH: `${bin}:${process.env.PATH}` } });
    assert.match(assertErrorAfterProgress(r, 'refused tracer'), /the tracer could not follow the container of probe cmd "true": strace: .*Operation not permitted/);
    assert.deepEqual(shaleJson(['ps', '-a'], o), []);
  });

  await t.test('bad input: one-line errors, exit 2', () => {
    for (const [args, what] of [
      [['--probe-http', 'eighty'], /--probe-http "eighty" is not PORT\/PATH/],
      [['--probe-timeout', 'soon'], /--probe-timeout "soon"/],
      [['--keep-base', '--from-scratch'], /cannot be used together/],
      [['--exclude', 'relative/path'], /absolute container paths/],
      [['--probe-http-status', '200'], /--probe-http-status needs --probe-http/],
      [['--keep-base'], /no base image of bb:1 is in the store/],
      [['--probe-script', join(work, 'missing.sh')], /probe script .*missing\.sh does not exist/],
    ] as const) {
      assert.match(assertCliError(shale(['minify', 'bb:1', '-t', 'bb:x', ...args], o), args.join(' ')), what);
    }
  });
});

test('minify without root: traced in the user namespace, or refused with one clear line', { timeout: 300_000 }, async (t) => {
  if (!needsTracer(t)) return;
  const users = rootlessUsers(t, 'shale-mn');
  if (!users) return;
  const user = users.ranged;
  const work = openToAll(userDir(t, user));
  const root = userStore(t, user);
  const o = { root, user };
  const rootfs = makeBusyboxRootfs(join(work, 'rootfs'));
  writeContext(rootfs, { 'data/unused.txt': 'nobody\n' });
  shaleOk(['import', tarDir(rootfs, join(work, 'bb.tar')), 'bb:1'], o);
  const r = shale(['minify', 'bb:1', '-t', 'bb:min', '--probe-cmd', 'cat /etc/passwd', '--format', 'json'], o);
  if (r.status === 0) {
    const j = JSON.parse(r.stdout) as MinifyJson;
    assert.match(j.probes[0]!.original.stdout!, /^root:x:0:0/);
    assert.ok(j.after.sizeBytes < j.before.sizeBytes);
    t.diagnostic('rootless: traced');
  } else {
    const line = assertErrorAfterProgress(r, 'rootless minify');
    assert.match(line, /tracer|strace/);
    t.diagnostic(`rootless: ${line}`);
  }
});
