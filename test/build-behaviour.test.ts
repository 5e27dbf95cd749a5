/**
 * `shale build` on its own (no Docker): the build cache, --no-cache, errors (a failing RUN, a bad
 * Dockerfile, a missing base), --network none, the copy snapshotter against overlayfs, the image ID on
 * stdout, and what a build leaves behind after success, failure and Ctrl-C: no mounts under the store,
 * no runc containers, no temp directories, a clean `shale fsck`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { assertNoLeftovers, buildEvents, processesWith, busyboxBase, lastLine, shaleBuild, shaleImageLayers, writeContext, type BuildEvent } from './support/build.js';
import { assertCliError, REPO_ROOT, SHALE_BIN, shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { compareTars, extractTar, treeOf } from './support/tree-compare.js';

interface Setup {
  work: string;
  root: string;
  base: string;
}

/** A store with a busybox base; null (test skipped) when runc is missing outside CI. */
function setup(t: TestContext): Setup | null {
  if (!requireTool(t, 'runc')) return null;
  const work = tempDir(t);
  const root = tempStore(t);
  const base = busyboxBase(t, work, root, `shale-beh-${uniqueSuffix()}:base`).ref;
  return { work, root, base };
}

/** A context dir with this Dockerfile (`{{base}}` is the base image) and files. */
const context = (s: Setup, name: string, dockerfile: string, files: Parameters<typeof writeContext>[1] = {}): string =>
  writeContext(join(s.work, name), { ...files, Dockerfile: dockerfile.replaceAll('{{base}}', s.base) });

/** The non-FROM steps of a build's JSON events: step number -> its events. */
function stepsOf(events: BuildEvent[]): Map<number, BuildEvent[]> {
  const fromSteps = new Set(events.filter((e) => e.type === 'step' && /^FROM /i.test(String(e.text))).map((e) => e.step));
  const out = new Map<number, BuildEvent[]>();
  for (const e of events) {
    if (e.step === undefined || fromSteps.has(e.step)) continue;
    out.set(e.step, [...(out.get(e.step) ?? []), e]);
  }
  return out;
}
const cachedSteps = (events: BuildEvent[]) => [...stepsOf(events)].filter(([, es]) => es.some((e) => e.type === 'cached')).map(([n]) => n);
const allSteps = (events: BuildEvent[]) => [...stepsOf(events).keys()];
const stepSeconds = (events: BuildEvent[]) => events.filter((e) => e.type === 'done').reduce((n, e) => n + Number(e.seconds), 0);

const blobs = (root: string) => readdirSync(join(root, 'blobs', 'sha256')).sort();

/** The merged tree of an image, via `shale export`. */
function exportTree(s: Setup, ref: string, name: string) {
  const tar = join(s.work, `${name}.tar`);
  shaleOk(['export', ref, '-o', tar], { root: s.root });
  const dir = join(s.work, `${name}-tree`);
  extractTar(tar, dir);
  return { tar, dir, tree: treeOf(dir) };
}

test('build cache: a rebuild is all CACHED and writes nothing; content changes invalidate from their step, mtime alone does not; --no-cache', { timeout: 180_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  const ctx = context(
    s,
    'cache',
    `FROM {{base}}
RUN echo one | tee /one
COPY a.txt /a.txt
RUN cat /a.txt > /copy-of-a && echo copied
ENV X=1
COPY d /d
RUN echo after
`,
    { 'a.txt': 'first\n', 'd/x': 'x\n' },
  );
  const build = (...args: string[]) => {
    const { id, result } = shaleBuild(s.root, ctx, ['--progress', 'json', ...args]);
    return { id, events: buildEvents(result.stderr) };
  };

  const first = build();
  assert.deepEqual(allSteps(first.events), [2, 3, 4, 5, 6], 'RUN, COPY, RUN, COPY, RUN are steps; ENV is not');
  assert.deepEqual(cachedSteps(first.events), [], 'a fresh store has nothing cached');
  assert.ok(first.events.some((e) => e.type === 'output'), 'the RUN steps ran');
  const blobsAfterFirst = blobs(s.root);

  const second = build();
  assert.deepEqual(cachedSteps(second.events), [2, 3, 4, 5, 6], 'every step is CACHED');
  assert.deepEqual(second.events.filter((e) => e.type === 'output'), [], 'no RUN ran');
  assert.equal(second.id, first.id, 'a fully cached rebuild gives the same image ID');
  assert.deepEqual(blobs(s.root), blobsAfterFirst, 'a fully cached rebuild writes no blob');
  assert.ok(stepSeconds(second.events) < stepSeconds(first.events) / 2, `cached steps take much less time (${stepSeconds(second.events)}s vs ${stepSeconds(first.events)}s)`);

  // the plain progress says CACHED for each step too
  const plain = shaleOk(['build', '--progress', 'plain', ctx], { root: s.root });
  assert.equal((plain.stderr.match(/^#\d+ CACHED$/gm) ?? []).length, 5, plain.stderr);

  // touching a COPY source (mtime only) keeps the cache; so does touching the directory source
  const later = new Date(Date.now() + 3_600_000);
  utimesSync(join(ctx, 'a.txt'), later, later);
  utimesSync(join(ctx, 'd', 'x'), later, later);
  const touched = build();
  assert.deepEqual(cachedSteps(touched.events), [2, 3, 4, 5, 6], 'mtime alone does not invalidate');
  assert.equal(touched.id, first.id);

  // new content in a.txt: the steps before the COPY stay cached, the COPY and everything after run again
  writeFileSync(join(ctx, 'a.txt'), 'second\n');
  const changed = build();
  assert.deepEqual(cachedSteps(changed.events), [2], 'invalidated from the COPY on');
  assert.notEqual(changed.id, first.id);
  const { tree } = exportTree(s, changed.id, 'changed');
  assert.equal(tree.get('copy-of-a')?.size, 'second\n'.length, 'the RUN after the COPY saw the new content');

  // same content under a new mode is a change too (Docker hashes the mode)
  execFileSync('chmod', ['0600', join(ctx, 'd', 'x')]);
  const chmodded = build();
  assert.deepEqual(cachedSteps(chmodded.events), [2, 3, 4], 'a mode change of a COPY source invalidates from that COPY');

  // --no-cache runs every step and leaves the same files
  const fresh = build('--no-cache');
  assert.deepEqual(cachedSteps(fresh.events), [], '--no-cache uses nothing from the cache');
  assert.ok(fresh.events.some((e) => e.type === 'output'), 'the RUN steps ran again');
  const a = exportTree(s, chmodded.id, 'cached');
  const b = exportTree(s, fresh.id, 'no-cache');
  assert.deepEqual(compareTars(a.tar, b.tar).diffs, [], '--no-cache builds the same tree');
  assertNoLeftovers(s.root, 'after cached builds');
});

test('build cache: COPY --chmod and --chown are part of a COPY step\'s key (created_by does not show them)', { timeout: 120_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  const build = (flags: string) => {
    const ctx = context(s, `flags-${flags.replace(/\W/g, '') || 'none'}`, `FROM {{base}}\nCOPY ${flags} f /f\n`, { f: { content: 'f\n', mode: 0o644 } });
    const { id } = shaleBuild(s.root, ctx, []);
    const f = exportTree(s, id, `flags-${flags.replace(/\W/g, '') || 'none'}`).tree.get('f');
    return `${f?.mode} ${f?.uid}:${f?.gid}`;
  };
  assert.equal(build(''), '0644 0:0');
  assert.equal(build('--chmod=700'), '0700 0:0', 'not the cached plain COPY');
  assert.equal(build('--chown=7:8'), '0644 7:8', 'not the cached plain COPY');
});

test('build cache: COPY --from=<stage> is keyed by the stage, so a cached rebuild mounts nothing; a file the stage copied in invalidates it', { timeout: 180_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  const ctx = context(
    s,
    'copy-from',
    `FROM {{base}} AS builder
COPY src/ /src/
RUN mkdir /out && cat /src/a.txt /src/b.txt > /out/joined.txt
FROM {{base}}
COPY --from=builder /out/ /app/
RUN cat /app/joined.txt > /app/seen.txt
`,
    { 'src/a.txt': 'a1\n', 'src/b.txt': 'b1\n' },
  );
  const build = () => {
    const { id, result } = shaleBuild(s.root, ctx, ['--progress', 'json']);
    return { id, events: buildEvents(result.stderr) };
  };
  const copyFromStep = (events: BuildEvent[]) => Number(events.find((e) => e.type === 'step' && String(e.text).startsWith('COPY --from'))!.step);
  const first = build();
  assert.deepEqual(cachedSteps(first.events), []);
  // a snapshot made (even a read-only view) adds and removes a directory in active/; an unpack adds to layers/
  const snapshots = join(s.root, 'shale', 'snapshots');
  const seen = () => ({ active: statSync(join(snapshots, 'active'), { bigint: true }).mtimeNs, layers: readdirSync(join(snapshots, 'layers')).sort() });
  const before = seen();

  const again = build();
  assert.deepEqual(cachedSteps(again.events), allSteps(again.events), 'every step is CACHED');
  assert.equal(again.id, first.id);
  assert.deepEqual(seen(), before, 'nothing was mounted or unpacked: the source stage was not read');

  // a file the builder stage copies in: its COPY, its RUN, the COPY --from and the RUN after it run again
  writeFileSync(join(ctx, 'src', 'b.txt'), 'b2\n');
  const changed = build();
  assert.ok(!cachedSteps(changed.events).includes(copyFromStep(changed.events)), 'the COPY --from step is not CACHED');
  assert.equal(readFileSync(join(exportTree(s, changed.id, 'copy-from-changed').dir, 'app', 'seen.txt'), 'utf8'), 'a1\nb2\n', 'the new content was copied');
  assertNoLeftovers(s.root, 'after COPY --from builds');
});

test('a cached COPY <<EOF leaves no temp directory behind', { timeout: 120_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  const ctx = context(s, 'heredoc-cache', `FROM {{base}}\nCOPY <<EOF /h.txt\nhello\nEOF\n`);
  shaleBuild(s.root, ctx);
  assertNoLeftovers(s.root, 'after the first build');
  shaleBuild(s.root, ctx);
  assertNoLeftovers(s.root, 'after the cached build');
});

test('FROM scratch then COPY, in a new store: one layer holding just what was copied', { timeout: 120_000 }, async (t) => {
  const root = tempStore(t);
  const ctx = writeContext(join(tempDir(t), 'scratch'), { Dockerfile: 'FROM scratch\nCOPY a.txt /app/a.txt\n', 'a.txt': 'hi\n' });
  const { id } = shaleBuild(root, ctx, ['-t', 'scratch-copy:1']);
  const layers = await shaleImageLayers(root, id);
  assert.equal(layers.length, 1, 'one layer');
  const out = join(tempDir(t), 'rootfs.tar');
  shaleOk(['export', 'scratch-copy:1', '-o', out], { root });
  const tree = join(tempDir(t), 'tree');
  extractTar(out, tree);
  assert.deepEqual(readdirSync(tree), ['app']);
  assert.equal(readFileSync(join(tree, 'app', 'a.txt'), 'utf8'), 'hi\n');
  assertNoLeftovers(root, 'after the build');
});

test('a failing RUN: exit 2, the error names the Dockerfile line and exit code, the step output is shown', { timeout: 120_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  const ctx = context(s, 'fail', `FROM {{base}}\nRUN echo ok\nRUN echo some output && echo to-stderr >&2 && exit 3\nRUN echo never\n`);
  const ERROR = /^error: Dockerfile:3: RUN .*echo some output.* returned a non-zero code: 3$/;

  await t.test('plain progress', () => {
    const r = shale(['build', '--progress', 'plain', '-t', 'failed:plain', ctx], { root: s.root });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '', 'no image ID on stdout');
    const lines = r.stderr.trimEnd().split('\n');
    assert.match(lines[lines.length - 1]!, ERROR);
    assert.match(r.stderr, /^#3 \| some output$/m, 'the step stdout is shown');
    assert.match(r.stderr, /^#3 \| to-stderr$/m, 'the step stderr is shown');
    assert.doesNotMatch(r.stderr, /never/, 'the build stopped at the failing step');
    assert.equal(lines.filter((l) => l.startsWith('error:')).length, 1, 'one error line');
    assert.deepEqual(shaleJson<{ repository: string }[]>(['images'], { root: s.root }).map((i) => i.repository), [s.base.split(':')[0]], 'no image tagged');
  });

  await t.test('json progress', () => {
    const r = shale(['build', '--progress', 'json', ctx], { root: s.root });
    assert.equal(r.status, 2);
    const failed = buildEvents(r.stderr).filter((e) => e.type === 'failed');
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]!.message), /^Dockerfile:3: .* returned a non-zero code: 3$/);
    assert.match(String(failed[0]!.output), /some output/);
    assert.match(String(failed[0]!.output), /to-stderr/);
    assert.match(r.stderr.trimEnd().split('\n').pop()!, ERROR);
  });

  await t.test('-q shows the step output and the error', () => {
    const r = shale(['build', '-q', ctx], { root: s.root });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /some output/);
    assert.match(r.stderr.trimEnd().split('\n').pop()!, ERROR);
  });

  await t.test('-q prints the error line once', () => {
    const r = shale(['build', '-q', ctx], { root: s.root });
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('error:')).length, 1, r.stderr);
  });

  assertNoLeftovers(s.root, 'after failed builds');
});

test('a bad Dockerfile or a missing base: exit 2 with `FILE:LINE:` in the error', { timeout: 60_000 }, (t) => {
  const s = setup(t);
  if (!s) return;
  // rejected before any step runs: stderr is the error line (and a hint) only
  const early: [string, string, RegExp][] = [
    ['unknown instruction', 'FROM {{base}}\nRUN echo ok\nFROBNICATE x\n', /^error: Dockerfile:3: unknown instruction: FROBNICATE/i],
    ['COPY with one argument', 'FROM {{base}}\nCOPY\n', /^error: Dockerfile:2: COPY requires at least two arguments/],
    ['ENV with no argument', 'FROM {{base}}\nENV\n', /^error: Dockerfile:2: ENV requires at least one argument/],
    ['RUN before FROM', '# comment\nRUN echo no\n', /^error: Dockerfile:2: /],
    ['an unterminated heredoc', 'FROM {{base}}\nRUN <<EOF\necho never closed\n', /^error: Dockerfile:2: /],
    ['FROM a missing image', 'FROM shale-nosuch/image:tag\nRUN true\n', /^error: Dockerfile:1: FROM shale-nosuch\/image:tag: image not found/],
  ];
  for (const [i, [what, text, expected]] of early.entries()) {
    const line = assertCliError(shale(['build', context(s, `bad-${i}`, text)], { root: s.root }), what);
    assert.match(line, expected, what);
  }
  // rejected at a step: the progress lines come first, the error line last
  const late: [string, string, string[], RegExp][] = [
    ['COPY of a missing file', 'FROM {{base}}\nCOPY nothere /x\n', [], /^error: .*nothere/],
    ['--target of a missing stage', 'FROM {{base}} AS a\nRUN true\n', ['--target', 'nosuchstage'], /^error: .*nosuchstage/],
  ];
  for (const [i, [what, text, args, expected]] of late.entries()) {
    const r = shale(['build', ...args, context(s, `late-${i}`, text)], { root: s.root });
    assert.equal(r.status, 2, `${what}: exit 2\n${r.stderr}`);
    const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('hint: '));
    assert.equal(lines.filter((l) => l.startsWith('error: ')).length, 1, `${what}: one error line\n${r.stderr}`);
    assert.match(lines[lines.length - 1]!, expected, what);
  }
  // the file name in the message is the Dockerfile's own
  const ctx = context(s, 'bad-named', 'FROM {{base}}\n');
  writeFileSync(join(ctx, 'Containerfile.bad'), 'FROM {{base}}\nFROBNICATE\n'.replace('{{base}}', s.base));
  assert.match(assertCliError(shale(['build', '-f', join(ctx, 'Containerfile.bad'), ctx], { root: s.root }), '-f'), /^error: Containerfile\.bad:2: /);
  assertNoLeftovers(s.root, 'after rejected builds');
});

/** Whether this host opens a TCP connection to host:port within a few seconds. */
const hostReaches = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const sock = connect({ host, port, timeout: 5000 });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.once('timeout', () => done(false));
  });

test('--network none: RUN has only a loopback interface and no route out; the default (host) has the host\'s', { timeout: 120_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  // a TCP connection by IP (a static busybox cannot resolve names without NSS): Debian's mirror when this
  // host resolves it, else a documentation address that no host reaches
  const ip = await lookup('deb.debian.org', { family: 4 }).then((a) => a.address, () => '192.0.2.1');
  const reachable = await hostReaches(ip, 80);
  const ctx = context(
    s,
    'net',
    `FROM {{base}}
ARG IP
RUN cat /proc/net/dev > /netdev; /bin/busybox nc -w 5 $IP 80 </dev/null >/dev/null 2>/nc.err; echo $? > /nc
`,
  );
  const ifaces = (netdev: string) =>
    netdev
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter((n) => n !== '')
      .sort();
  const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8');
  const ipArg = ['--build-arg', `IP=${ip}`];

  const none = exportTree(s, shaleBuild(s.root, ctx, ['--network', 'none', ...ipArg]).id, 'none');
  assert.deepEqual(ifaces(read(none.dir, 'netdev')), ['lo'], 'only lo in the RUN of --network none');
  assert.notEqual(read(none.dir, 'nc').trim(), '0', `no connection out: ${read(none.dir, 'nc.err')}`);

  const host = exportTree(s, shaleBuild(s.root, ctx, ipArg).id, 'host');
  const mine = ifaces(readFileSync('/proc/net/dev', 'utf8'));
  const seen = ifaces(read(host.dir, 'netdev'));
  assert.ok(seen.length > 1 && seen.every((i) => i === 'lo' || mine.includes(i) || i.startsWith('veth')), `the host's interfaces: ${seen} vs ${mine}`);
  if (reachable) {
    assert.equal(read(host.dir, 'nc').trim(), '0', `the host reaches ${ip}:80, so does a default RUN: ${read(host.dir, 'nc.err')}`);
  } else {
    t.diagnostic(`this host does not reach ${ip}:80: the positive network check is skipped`);
  }
  assertNoLeftovers(s.root, 'after network builds');
});

/** Builds `dockerfile` with both snapshotters (no cache) and compares the layers and the merged trees. */
async function compareSnapshotters(s: Setup, name: string, dockerfile: string, files: Parameters<typeof writeContext>[1] = {}): Promise<void> {
  const ctx = context(s, name, dockerfile, files);
  const overlay = shaleBuild(s.root, ctx, ['--snapshotter', 'overlayfs', '--no-cache']).id;
  const copy = shaleBuild(s.root, ctx, ['--snapshotter', 'copy', '--no-cache']).id;
  assert.deepEqual(await shaleImageLayers(s.root, copy), await shaleImageLayers(s.root, overlay), 'the same layers, entry by entry');
  const a = exportTree(s, overlay, `${name}-overlay`);
  const b = exportTree(s, copy, `${name}-copy`);
  const { diffs } = compareTars(a.tar, b.tar, { names: ['overlayfs', 'copy'] });
  assert.deepEqual(diffs, [], diffs.join('\n'));
}

test('--snapshotter copy builds the same layers and tree as overlayfs', { timeout: 180_000 }, async (t) => {
  const s = setup(t);
  if (!s || !requireTool(t, 'overlayfs')) return;
  await compareSnapshotters(
    s,
    'snapshotters',
    `FROM {{base}}
RUN mkdir -p /a/b /d /h && echo 1 > /a/b/f && echo 2 > /a/g && echo x > /x && echo data > /h/f && ln /h/f /h/g && ln -s f /h/sym && echo y > /d/y
COPY tree /tree
RUN rm /a/g /etc/group && rm -rf /a/b && mkdir /a/b && echo new > /a/b/n && rm /x && mkdir /x && rm -rf /d && echo file > /d
RUN chown 1000:1000 /tree/t && ln -sfn /etc /h/sym && chmod 700 /bin/busybox && touch /h/new && ln /h/new /h/new2
RUN rm -rf /tmp && mkdir /tmp && chmod 1777 /tmp && touch /tmp/t
WORKDIR /made/here
`,
    { 'tree/t': 't\n', 'tree/sub/u': { content: 'u\n', mode: 0o600 }, 'tree/l': { symlink: 't' } },
  );
  assertNoLeftovers(s.root, 'after both snapshotters');

  for (const [what, change] of [
    ['writing to one name', 'echo more >> /h/g'],
    ['chmod of one name', 'chmod 600 /h/f'],
    ['a new link to it', 'ln /h/f /h/third'],
    ['removing one name', 'rm /h/g'],
  ]) {
    // overlayfs (and Docker) copy up only the name touched, which breaks the link: only that name is in the layer.
    await t.test(`a hard link made in an earlier layer, then ${what}`, () =>
      compareSnapshotters(s, `snapshotters-${what.replaceAll(' ', '-')}`, `FROM {{base}}\nRUN mkdir /h && echo data > /h/f && ln /h/f /h/g\nRUN ${change}\n`),
    );
  }
});

test('the image ID is the last line of stdout (plain, json and quiet progress), and names the built image', { timeout: 120_000 }, (t) => {
  const s = setup(t);
  if (!s) return;
  const ctx = context(s, 'id', 'FROM {{base}}\nRUN echo hi > /hi\nLABEL x=y\n');
  const ids = new Set<string>();
  for (const progress of [['--progress', 'plain'], ['--progress', 'json'], ['-q'], ['--progress', 'auto']]) {
    const r = shaleOk(['build', '-t', 'named:one', '-t', 'named:two', ...progress, ctx], { root: s.root });
    const id = lastLine(r.stdout);
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    assert.equal(r.stdout, `${id}\n`, `${progress.join(' ')}: stdout holds only the ID`);
    ids.add(id);
  }
  assert.equal(ids.size, 1);
  const [id] = [...ids];
  const inspected = shaleJson<{ id: string; repoTags: string[] }>(['inspect', 'named:two'], { root: s.root });
  assert.equal(inspected.id, id);
  assert.deepEqual([...inspected.repoTags].sort(), ['named:one', 'named:two']);
});

/** Starts `shale build` with JSON progress in its own process group; resolves when `marker` shows in the step output. */
function startBuild(s: Setup, ctx: string, marker: string) {
  const child = spawn(process.execPath, [SHALE_BIN, '--root', s.root, 'build', '--progress', 'json', ctx], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the RUN step did not start in 60s:\n${stderr}`)), 60_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes(marker)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`shale build ended before the RUN step started:\n${stderr}`));
    });
  });
  return { child, started, exited };
}

test('no leftovers after a successful, a failed and an interrupted (SIGINT during RUN sleep 30) build', { timeout: 180_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  const ok = context(s, 'ok', 'FROM {{base}}\nRUN echo a > /a\nCOPY <<EOF /h.txt\nheredoc\nEOF\nRUN rm /a\n');
  shaleBuild(s.root, ok);
  assertNoLeftovers(s.root, 'after a successful build');

  const fail = context(s, 'fail', 'FROM {{base}}\nRUN echo a > /a && exit 1\n');
  assert.equal(shale(['build', fail], { root: s.root }).status, 2);
  assertNoLeftovers(s.root, 'after a failed build');

  for (const [how, target] of [
    ['SIGINT to shale', (pid: number) => pid],
    ['SIGINT to the process group (Ctrl-C)', (pid: number) => -pid],
  ] as const) {
    await t.test(how, async () => {
      const marker = `started-${uniqueSuffix()}`;
      const ctx = context(s, `sleep-${marker}`, `FROM {{base}}\nRUN echo ${marker} && sleep 30\nRUN echo never\n`);
      const run = startBuild(s, ctx, `${marker}\\n`);
      await run.started;
      const sent = Date.now();
      process.kill(target(run.child.pid!), 'SIGINT');
      const r = await run.exited;
      assert.ok(Date.now() - sent < 15_000, `the build stopped within 15 s of SIGINT (took ${Date.now() - sent} ms)`);
      assert.equal(r.code, 2, `exit status 2 after SIGINT (code ${r.code}, signal ${r.signal}):\n${r.stderr}`);
      assert.equal(r.stdout, '', 'no image ID');
      assert.match(r.stderr.trimEnd().split('\n').pop()!, /^error: .*interrupted/);
      assert.doesNotMatch(r.stderr, /never/);
      assert.deepEqual(processesWith(marker), [], 'the RUN process is gone');
      assertNoLeftovers(s.root, `after ${how}`);
    });
  }

  // and the store still builds (not from the cache: a cached heredoc COPY leaks, see the todo test above)
  shaleBuild(s.root, ok, ['--no-cache']);
  assertNoLeftovers(s.root, 'after a build following the interrupted ones');
});
