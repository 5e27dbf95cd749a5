/**
 * `RUN --mount` end to end with runc: every mount type, cache mounts kept across builds and shared under
 * `sharing=locked` by two concurrent builds, secrets that reach no layer, config or history, an SSH agent
 * forwarded with `--ssh default`, bad specs refused before the store changes, `df`/`prune --build-cache`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, test, type TestContext } from 'node:test';
import { buildEvents, busyboxBase, shaleBuild, shaleImageLayers, writeContext } from './support/build.js';
import { SHALE_BIN, shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';

interface Setup {
  work: string;
  root: string;
  base: string;
}

/** Puts a dynamically linked host program and the libraries it needs into a rootfs. */
function addHostProgram(rootfs: string, program: string): void {
  const libs = execFileSync('ldd', [program], { encoding: 'utf8' })
    .split('\n')
    .flatMap((l) => [...l.matchAll(/(\/[^\s]+)/g)].map((m) => m[1]!));
  for (const file of [program, ...libs]) {
    mkdirSync(join(rootfs, dirname(file)), { recursive: true });
    copyFileSync(file, join(rootfs, file));
  }
  execFileSync('chmod', ['0755', join(rootfs, program)]);
}

let shared: Setup | undefined;
// the file's store and base outlive each test: removed when the file ends
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});
/** One store and base for the file: busybox plus the host's ssh-add (for the agent test). */
function setup(t: TestContext): Setup | null {
  if (!requireTool(t, 'runc')) return null;
  if (shared) return shared;
  const hooks = { after: (fn: () => void) => cleanups.push(fn) } as unknown as Pick<TestContext, 'after'>;
  const work = tempDir(hooks);
  const root = tempStore(hooks);
  const base = busyboxBase(hooks, work, root, `shale-mounts-${uniqueSuffix()}:base`, {
    extra: (rootfs) => addHostProgram(rootfs, '/usr/bin/ssh-add'),
  }).ref;
  shared = { work, root, base };
  return shared;
}

const context = (s: Setup, name: string, dockerfile: string, files: Parameters<typeof writeContext>[1] = {}): string =>
  writeContext(join(s.work, `${name}-${uniqueSuffix()}`), { ...files, Dockerfile: dockerfile.replaceAll('{{base}}', s.base) });

/** RUN output lines of a `--progress json` build. */
const outputOf = (stderr: string): string =>
  buildEvents(stderr)
    .filter((e) => e.type === 'output')
    .map((e) => String(e.data))
    .join('');

/** `shale build --progress json CTX` as a child process (two run at once), killed after two minutes. */
function buildInBackground(s: Setup, ctx: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [SHALE_BIN, '--root', s.root, 'build', '--progress', 'json', ctx], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

test('every mount type: what the step sees, and nothing of the mounts in the layers', async (t) => {
  const s = setup(t);
  if (!s) return;
  const ctx = context(
    s,
    'all',
    `FROM {{base}} AS other
RUN mkdir -p /data && echo fromstage > /data/f
FROM {{base}}
WORKDIR /w
RUN --mount=type=cache,target=/var/cache/x/y echo hi >> /var/cache/x/y/f && cat /var/cache/x/y/f
RUN --mount=type=bind,target=/ctx cat /ctx/ctx.txt && ! test -e /ctx/ignored.txt
RUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/ctx.txt && cat /ctx/ctx.txt
RUN --mount=type=bind,from=other,source=/data,target=rel cat /w/rel/f && ! touch /w/rel/g
RUN --mount=type=tmpfs,target=/tmp/t,size=1m df /tmp/t | grep -q 1024 && touch /tmp/t/z && echo tmpfs-ok
RUN --mount=type=cache,target=/c2,uid=1000,gid=1000,mode=0750 stat -c '%u:%g %a' /c2 && touch /made
`,
    { 'ctx.txt': 'hello\n', 'ignored.txt': 'no\n', '.dockerignore': 'ignored.txt\n' },
  );
  const { result } = shaleBuild(s.root, ctx, ['--progress', 'json', '-t', 'mounts-all']);
  const out = outputOf(result.stderr);
  for (const line of ['hi\n', 'hello\n', 'changed\n', 'fromstage\n', 'tmpfs-ok\n', '1000:1000 750\n']) assert.ok(out.includes(line), `${JSON.stringify(line)} in\n${out}`);
  // rw writes to a bind mount of the context are thrown away
  assert.equal(readFileSync(join(ctx, 'ctx.txt'), 'utf8'), 'hello\n');
  const listing = (await shaleImageLayers(s.root, 'mounts-all')).slice(1).flat().join('\n');
  for (const gone of ['var', 'ctx', 'w/rel', 'tmp/t', 'c2']) assert.doesNotMatch(listing, new RegExp(` ${gone}(/|$)`, 'm'), `${gone} in the layers:\n${listing}`);
  assert.match(listing, / made$/m);
  // history: the command only, no mount (as BuildKit records it)
  const history = shaleJson<{ config: { history: { created_by?: string }[] } }>(['inspect', 'mounts-all'], { root: s.root }).config.history;
  assert.ok(history.every((h) => !(h.created_by ?? '').includes('--mount')), JSON.stringify(history));
});

test('a cache mount is kept across builds, counted by df and removed by prune --build-cache', (t) => {
  const s = setup(t);
  if (!s) return;
  const id = `c-${uniqueSuffix()}`;
  const dockerfile = `FROM {{base}}\nARG N\nRUN --mount=type=cache,id=${id},target=/cache echo run$N >> /cache/log && cat /cache/log\n`;
  const ctx = context(s, 'reuse', dockerfile);
  const first = outputOf(shaleBuild(s.root, ctx, ['--progress', 'json', '--build-arg', 'N=1']).result.stderr);
  assert.equal(first, 'run1\n');
  const second = outputOf(shaleBuild(s.root, ctx, ['--progress', 'json', '--build-arg', 'N=2']).result.stderr);
  assert.equal(second, 'run1\nrun2\n', 'the second build sees what the first left in the cache');
  const df = shaleJson<{ buildCache: { caches: { id: string; size: number }[] } }>(['df'], { root: s.root });
  assert.ok(df.buildCache.caches.some((c) => c.id === id && c.size >= 10), JSON.stringify(df.buildCache));
  assert.match(shaleOk(['df'], { root: s.root }).stdout, /^Build cache\s+\d+/m);
  assert.match(shaleOk(['prune', '--build-cache'], { root: s.root }).stdout, new RegExp(`deleted cache mount: ${id}`));
  const third = outputOf(shaleBuild(s.root, ctx, ['--progress', 'json', '--build-arg', 'N=3']).result.stderr);
  assert.equal(third, 'run3\n', 'after the prune the cache starts empty');
});

test('sharing=locked: two concurrent builds use the cache one at a time', async (t) => {
  const s = setup(t);
  if (!s) return;
  const id = `lock-${uniqueSuffix()}`;
  // each step holds the cache for a second, appending its start and end: locked, the pairs never interleave
  const script = `echo start-$N >> /c/log; sleep 1; echo end-$N >> /c/log; cat /c/log`;
  const ctxs = [1, 2].map((n) => context(s, `locked${n}`, `FROM {{base}}\nENV N=${n}\nRUN --mount=type=cache,id=${id},target=/c,sharing=locked ${script}\n`));
  const results = await Promise.all(ctxs.map((ctx) => buildInBackground(s, ctx)));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const logs = results.map((r) => outputOf(r.stderr).trim().split('\n'));
  const full = logs.sort((a, b) => b.length - a.length)[0]!;
  assert.equal(full.length, 4, full.join('\n'));
  assert.deepEqual(full.map((l) => l.replace(/\d$/, '')), ['start-', 'end-', 'start-', 'end-']);
  assert.equal(full[0]!.slice(-1), full[1]!.slice(-1), `one build's start and end are together: ${full.join(' ')}`);
});

test('sharing=private: a step finding the cache busy gets an instance of its own', async (t) => {
  const s = setup(t);
  if (!s) return;
  const id = `priv-${uniqueSuffix()}`;
  const ctxs = [1, 2].map((n) => context(s, `private${n}`, `FROM {{base}}\nENV N=${n}\nRUN --mount=type=cache,id=${id},target=/c,sharing=private echo $N >> /c/log; sleep 1; cat /c/log\n`));
  const results = await Promise.all(ctxs.map((ctx) => buildInBackground(s, ctx)));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  // each step saw only its own line
  assert.deepEqual(results.map((r) => outputOf(r.stderr)).sort(), ['1\n', '2\n']);
});

test('secrets: in the step, never in a layer, the config or the history', async (t) => {
  const s = setup(t);
  if (!s) return;
  const secret = `s3cr3t-${uniqueSuffix()}`;
  const ctx = context(
    s,
    'secret',
    `FROM {{base}}
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /copy-len && cat /copy-len
RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0440,uid=1000 stat -c '%a %u' /etc/tok && grep -q ${'$'}(cat /etc/tok) /etc/tok && echo file-ok
RUN --mount=type=secret,id=fromenv,env=TOKEN --mount=type=secret,id=tok,target=/s test "$TOKEN" = "$(cat /s)x" && echo env-ok && rm /copy-len
RUN --mount=type=secret,id=missing cat /run/secrets/missing || echo optional-ok
`,
    { 'secret.txt': secret },
  );
  const r = shale(['build', '--progress', 'json', '-t', 'mounts-secret', '--secret', `id=tok,src=${join(ctx, 'secret.txt')}`, '--secret', 'id=fromenv,env=SHALE_TEST_SECRET', ctx], {
    root: s.root,
    env: { SHALE_TEST_SECRET: `${secret}x` },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = outputOf(r.stderr);
  for (const line of [`${secret.length}\n`, '440 1000\n', 'file-ok\n', 'env-ok\n', 'optional-ok\n']) assert.ok(out.includes(line), `${line} in ${out}`);
  // every blob of the store (layers, configs, manifests) and the cached step records: no secret bytes
  const files: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (st?.isFile()) files.push(p);
    }
  };
  walk(s.root);
  assert.ok(files.length > 5);
  for (const f of files) {
    const bytes = readFileSync(f);
    // layer blobs are compressed: their tar is searched too
    const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
    assert.ok(!bytes.includes(secret) && !plain.includes(secret), `the secret is in ${f}`);
  }
  const inspect = JSON.stringify(shaleJson(['inspect', 'mounts-secret'], { root: s.root }));
  assert.ok(!inspect.includes(secret));
  // a required secret that was not given fails the step with its id
  const req = context(s, 'secret-required', 'FROM {{base}}\nRUN --mount=type=secret,id=need,required=true true\n');
  const failed = shale(['build', req], { root: s.root });
  assert.equal(failed.status, 2);
  assert.match(failed.stderr, /Dockerfile:2: secret need: not found/);
});

test('ssh: --ssh default forwards the agent; ssh-add -l in the step lists its key', (t) => {
  const s = setup(t);
  if (!s) return;
  const dir = tempDir(t, 'shale-ssh-');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'shale-test-key', '-f', join(dir, 'key')]);
  const agentOut = execFileSync('ssh-agent', ['-s', '-a', join(dir, 'agent.sock')], { encoding: 'utf8' });
  const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(agentOut)![1]);
  t.after(() => process.kill(pid));
  const env = { SSH_AUTH_SOCK: join(dir, 'agent.sock') };
  execFileSync('ssh-add', [join(dir, 'key')], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const ctx = context(s, 'ssh', 'FROM {{base}}\nRUN --mount=type=ssh echo $SSH_AUTH_SOCK && ssh-add -l\nRUN --mount=type=ssh,id=other,target=/agent,uid=1000 SSH_AUTH_SOCK=/agent ssh-add -l\n');
  const r = shale(['build', '--progress', 'json', '--ssh', 'default', '--ssh', `other=${join(dir, 'agent.sock')}`, ctx], { root: s.root, env });
  assert.equal(r.status, 0, r.stderr);
  const out = outputOf(r.stderr);
  assert.match(out, /^\/run\/buildkit\/ssh_agent\.0$/m);
  assert.equal((out.match(/shale-test-key \(ED25519\)/g) ?? []).length, 2, out);
  // a key file is refused: shale forwards agents only
  const key = shale(['build', '--ssh', `default=${join(dir, 'key')}`, ctx], { root: s.root });
  assert.equal(key.status, 2);
  assert.match(key.stderr, /is not an SSH agent socket/);
  // without an agent an optional ssh mount is skipped, a required one fails the step
  const optional = context(s, 'ssh-optional', 'FROM {{base}}\nRUN --mount=type=ssh test -z "$SSH_AUTH_SOCK" && ! test -e /run/buildkit\n');
  assert.equal(shale(['build', optional], { root: s.root, env: { SSH_AUTH_SOCK: '' } }).status, 0);
  const required = context(s, 'ssh-required', 'FROM {{base}}\nRUN --mount=type=ssh,required true\n');
  const missing = shale(['build', required], { root: s.root, env: { SSH_AUTH_SOCK: '' } });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /Dockerfile:2: no SSH agent socket was given for id "default"/);
});

test('bad mount specs and flags: exit 2 with the line, the store unchanged', (t) => {
  const s = setup(t);
  if (!s) return;
  const list = (dir: string): string[] => {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d).sort()) {
        const p = join(d, n);
        out.push(p);
        if (statSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p);
      }
    };
    walk(dir);
    return out;
  };
  const before = list(s.root);
  const cases: [string, RegExp][] = [
    ['RUN --mount=type=nfs,target=/x true', /Dockerfile:3: RUN --mount=type=nfs,target=\/x: unsupported mount type "nfs"/],
    ['RUN --mount=type=cache true', /Dockerfile:3: RUN --mount=type=cache: mount destination not set/],
    ['RUN --mount=type=cache,target=/x,sharing=maybe true', /unsupported sharing value "maybe"/],
    ['RUN --mount=type=bind,target=/x,uid=1 true', /uid not allowed for "bind" type mounts/],
    ['RUN --mount=type=secret,id=a,source=b true', /both source and id can't be set/],
  ];
  for (const [line, message] of cases) {
    const ctx = context(s, 'bad', `FROM {{base}}\nRUN echo first\n${line}\n`);
    const r = shale(['build', ctx], { root: s.root });
    assert.equal(r.status, 2, `${line}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const ok = context(s, 'bad-flags', 'FROM {{base}}\nRUN true\n');
  for (const [flags, message] of [
    [['--secret', 'id=x,src=/nonexistent/file'], /--secret id=x,src=\/nonexistent\/file: failed to stat/],
    [['--secret', 'src=a'], /secret missing ID/],
    [['--secret', 'id=a,type=vault'], /unsupported secret type "vault"/],
    [['--ssh', 'a=/x,/y'], /several paths \(key files\) are not supported/],
  ] as [string[], RegExp][]) {
    const r = shale(['build', ...flags, ok], { root: s.root });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  assert.deepEqual(list(s.root), before);
});
