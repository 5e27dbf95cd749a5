/**
 * `shale mutate`, `append` and `rebase`, on store images and in place on a registry (docker://). Mutated
 * config fields reach Docker through `save | docker load`; an appended tar is seen by `shale run`; an image
 * built on base v1 and rebased onto v2 runs and exports the tree (and layers) of a fresh build on v2; a
 * base that is not a prefix is refused. On a registry, a counting proxy shows that no layer blob is
 * downloaded and only the new config, new layers and the manifest go up. Bad flags exit 2, store unchanged.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { tarBytes, oneFileLayer } from './support/append-layer.js';
import { dirEntry, fileEntry } from './support/archives.js';
import { busyboxBase, loadIntoDocker, shaleBuild, writeContext } from './support/build.js';
import { dockerCleanup, dockerOk } from './support/docker.js';
import { startRegistry } from './support/registry.js';
import { assertCliError, shale, shaleJson, shaleOk, spawnShale, tempDir, tempStore, uniqueSuffix, type ShaleResult } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { exportDiffs } from './support/tree-compare.js';

interface Inspected {
  id: string;
  manifestDigest?: string;
  manifest: { mediaType?: string; config: { digest: string; size: number }; layers: { mediaType?: string; digest: string; size: number }[]; annotations?: Record<string, string> };
  config: {
    architecture: string;
    rootfs: { diff_ids: string[] };
    history?: { created_by?: string; empty_layer?: boolean }[];
    config: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[]; Labels?: Record<string, string>; User?: string; WorkingDir?: string; ExposedPorts?: Record<string, object> };
  };
}
interface EditJson {
  id: string;
  manifestDigest: string;
  ref: string | null;
  uploadedBytes?: number;
  blobs?: { kind: string; digest: string; size: number; action: string }[];
}

/** Removes what the suite made when the whole file is done (hooks given to tempDir at top level). */
const cleanups: (() => void)[] = [];
const suite: Pick<TestContext, 'after'> = { after: (fn) => void cleanups.push(() => void (fn as () => void)()) };
after(() => {
  for (const c of cleanups.reverse()) c();
});
const inspect = (root: string, ref: string) => shaleJson<Inspected>(['inspect', ref], { root });

/** What an error must leave alone: the index (tags), the blobs and the layer records. */
function storeState(root: string): string {
  const list = (d: string) => readdirSync(join(root, d)).sort().join(',');
  return JSON.stringify([readFileSync(join(root, 'index.json'), 'utf8'), list('blobs/sha256'), list('shale/layers')]);
}

/** One store shared by the suite: base v1 (busybox) and v2 (v1's tree plus /etc/base-version). */
let shared: { work: string; root: string; v1: string; v2: string; context: string };
before(() => {
  const work = tempDir(suite, 'shale-edit-');
  const root = tempStore(suite);
  const v1 = busyboxBase(suite, join(work, 'v1'), root, 'edit-base:v1').ref;
  const v2 = busyboxBase(suite, join(work, 'v2'), root, 'edit-base:v2', { extra: (rootfs) => writeFileSync(join(rootfs, 'etc', 'base-version'), 'v2\n') }).ref;
  // a Dockerfile that only adds files
  const context = writeContext(join(work, 'ctx'), {
    Dockerfile: 'ARG BASE\nFROM $BASE\nCOPY app.txt /app/app.txt\nCOPY conf /etc/app/\nENV APP=1\nCMD ["cat", "/app/app.txt"]\n',
    'app.txt': 'the application\n',
    'conf/a.conf': 'a=1\n',
  });
  shared = { work, root, v1, v2, context };
});

test('mutate sets entrypoint, cmd, env, labels, user, workdir, exposed ports; Docker sees them; without -t the tag moves', { timeout: 120_000 }, (t) => {
  const { root, work, v1 } = shared;
  const name = `edit-mutate-${uniqueSuffix()}`;
  const before = inspect(root, v1);
  shaleOk(['tag', v1, `${name}:1`], { root });
  const r = shaleJson<EditJson>(
    ['mutate', `${name}:1`, '--entrypoint', '/bin/sh,-c', '--cmd', 'echo "$GREETING" from $(pwd) as $(id -u)', '-e', 'GREETING=hello', '-e', 'LIST=a,b', '-l', 'org.example.team=edit', '-l', 'tier=test', '-u', '1000', '-w', '/tmp', '--exposed-ports', '8080,53/udp'],
    { root },
  );
  assert.equal(r.ref, `${name}:1`, 'the tag the image was named by moved');
  const after = inspect(root, `${name}:1`);
  assert.equal(after.id, r.id);
  assert.notEqual(after.id, before.id);
  assert.deepEqual(after.manifest.layers, before.manifest.layers, 'the layers are the same blobs');
  assert.deepEqual(after.config.rootfs, before.config.rootfs);
  assert.equal(inspect(root, v1).id, before.id, 'the original image is unchanged under its own tag');
  assert.equal(shaleOk(['run', '--rm', `${name}:1`], { root }).stdout, 'hello from /tmp as 1000\n');

  if (!requireTool(t, 'docker')) return;
  loadIntoDocker(t, root, r.id, `${name}:docker`, work);
  const config = JSON.parse(dockerOk(['image', 'inspect', '--format', '{{json .Config}}', `${name}:docker`])) as Inspected['config']['config'];
  assert.deepEqual(config.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(config.Cmd, ['echo "$GREETING" from $(pwd) as $(id -u)']);
  assert.deepEqual(config.Env, ['GREETING=hello', 'LIST=a,b']);
  assert.deepEqual(config.Labels, { 'org.example.team': 'edit', tier: 'test' });
  assert.equal(config.User, '1000');
  assert.equal(config.WorkingDir, '/tmp');
  assert.deepEqual(config.ExposedPorts, { '53/udp': {}, '8080/tcp': {} });

  // a second mutate replaces an env variable in place, clears cmd, and names a new tag
  const again = shaleJson<EditJson>(['mutate', `${name}:1`, '-e', 'GREETING=bye', '--cmd', '', '-t', `${name}:2`], { root });
  const second = inspect(root, `${name}:2`).config.config;
  assert.deepEqual(second.Env, ['GREETING=bye', 'LIST=a,b']);
  assert.equal(second.Cmd, null);
  assert.equal(inspect(root, `${name}:1`).id, r.id, '-t leaves the source tag alone');
  assert.equal(again.ref, `${name}:2`);
});

test('append: a gzip tar becomes a layer with a history entry; shale run sees its files; a hostile tar is refused', { timeout: 120_000 }, async () => {
  const { root, work, v1 } = shared;
  const name = `edit-append-${uniqueSuffix()}`;
  const plain = await tarBytes([dirEntry('opt/'), dirEntry('opt/added/'), fileEntry('opt/added/file.txt', 'appended content\n')]);
  const gz = join(work, `${name}.tar.gz`);
  writeFileSync(gz, gzipSync(plain));
  const second = join(work, `${name}-2.tar`);
  writeFileSync(second, await oneFileLayer('etc/second', Buffer.from('second\n')));
  const before = inspect(root, v1);
  const r = shaleJson<EditJson>(['append', v1, '-f', gz, '-f', second, '-t', `${name}:1`], { root });
  const after = inspect(root, `${name}:1`);
  assert.equal(after.id, r.id);
  assert.equal(after.manifest.layers.length, before.manifest.layers.length + 2);
  assert.deepEqual(after.manifest.layers.slice(0, -2), before.manifest.layers, 'the base layers are the same blobs');
  assert.equal(after.config.rootfs.diff_ids.at(-2), `sha256:${(await import('node:crypto')).createHash('sha256').update(plain).digest('hex')}`, "the gzip layer's diffId is its tar's hash");
  assert.deepEqual(after.config.history?.slice(-2).map((h) => h.created_by), [`shale append ${name}.tar.gz`, `shale append ${name}-2.tar`]);
  assert.equal(shaleOk(['run', '--rm', `${name}:1`, 'cat', '/opt/added/file.txt', '/etc/second'], { root }).stdout, 'appended content\nsecond\n');

  const hostile = join(work, `${name}-hostile.tar`);
  writeFileSync(hostile, await tarBytes([fileEntry('../escaped', 'x\n')]));
  const state = storeState(root);
  const bad = shale(['append', `${name}:1`, '-f', hostile], { root });
  assert.match(assertCliError(bad, 'append of a tar with ../'), /escaped|\.\./);
  assert.equal(storeState(root), state, 'a refused layer leaves the store as it was');
});

test('rebase from v1 onto v2: runs, same tree as a fresh build on v2; refuses an old base that is not a prefix', { timeout: 180_000 }, (t) => {
  if (!requireTool(t, 'runc')) return;
  const { root, work, v1, v2, context } = shared;
  const name = `edit-rebase-${uniqueSuffix()}`;
  shaleBuild(root, context, ['-t', `${name}:on-v1`, '--build-arg', `BASE=${v1}`]);
  const fresh = shaleBuild(root, context, ['-t', `${name}:fresh-v2`, '--build-arg', `BASE=${v2}`]).id;
  const built = inspect(root, `${name}:on-v1`);
  assert.equal(built.manifest.annotations?.['org.opencontainers.image.base.digest'], inspect(root, v1).manifestDigest, 'the build names its base');

  // the old base from the annotations, the new one named
  const r = shaleJson<{ id: string; ref: string; oldBase: { layers: number }; newBase: { layers: number } }>(['rebase', `${name}:on-v1`, '--new-base', v2, '-t', `${name}:rebased`], { root });
  assert.equal(r.ref, `${name}:rebased`);
  const rebased = inspect(root, `${name}:rebased`);
  const freshImage = inspect(root, `${name}:fresh-v2`);
  const v2Image = inspect(root, v2);
  assert.deepEqual(rebased.config.rootfs.diff_ids, [...v2Image.config.rootfs.diff_ids, ...built.config.rootfs.diff_ids.slice(1)], "v2's layer, then the image's own");
  assert.deepEqual(rebased.manifest.layers.slice(1), built.manifest.layers.slice(1), "the image's own layers are the same blobs");
  assert.equal(rebased.config.rootfs.diff_ids.length, freshImage.config.rootfs.diff_ids.length);
  assert.deepEqual(rebased.config.history?.map((h) => h.created_by), freshImage.config.history?.map((h) => h.created_by), "v2's history, then the image's own steps");
  assert.deepEqual(rebased.config.config, built.config.config, 'the runtime config is the image\'s');
  assert.equal(rebased.manifest.annotations?.['org.opencontainers.image.base.name'], v2);
  assert.equal(rebased.manifest.annotations?.['org.opencontainers.image.base.digest'], inspect(root, v2).manifestDigest);
  assert.equal(shaleOk(['run', '--rm', `${name}:rebased`, 'cat', '/etc/base-version', '/app/app.txt', '/etc/app/a.conf'], { root }).stdout, 'v2\nthe application\na=1\n');
  assert.deepEqual(exportDiffs(root, work, `${name}:rebased`, fresh), [], 'the exported trees are equal');

  // a rebased image can go back: its annotations now name v2
  const back = shaleJson<{ id: string }>(['rebase', `${name}:rebased`, '--new-base', v1, '-t', `${name}:back`], { root });
  assert.deepEqual(inspect(root, `${name}:back`).config.rootfs, built.config.rootfs);
  assert.ok(back.id);

  // v2 is not at the bottom of an image built on v1
  const state = storeState(root);
  const bad = shale(['rebase', `${name}:on-v1`, '--old-base', v2, '--new-base', v1, '-t', `${name}:bad`], { root });
  assert.match(assertCliError(bad, 'rebase with an old base that is not a prefix'), /not a base of the image/);
  assert.equal(storeState(root), state);
  // an imported image says nothing of its base
  const none = shale(['rebase', v1, '--new-base', v2], { root });
  assert.match(assertCliError(none, 'rebase of an image without base annotations'), /base\.digest/);
  assert.equal(storeState(root), state);
});

test('bad flags and references exit 2 and leave the store unchanged', () => {
  const { root, work, v1 } = shared;
  const state = storeState(root);
  const cases: [string[], RegExp][] = [
    [['mutate', v1], /needs something to change/],
    [['mutate', v1, '-e', 'NOVALUE'], /--env "NOVALUE" is not KEY=VALUE/],
    [['mutate', v1, '-l', '=x'], /--label "=x"/],
    [['mutate', v1, '--exposed-ports', '99999'], /exposed port "99999"/],
    [['mutate', v1, '--user', 'x', '-t', 'edit-x@sha256:' + 'a'.repeat(64)], /digest reference/],
    [['mutate', v1, '--user', 'x', '-t', 'docker://127.0.0.1:1/x:1'], /names a registry/],
    [['mutate', 'edit-no-such:image', '--user', 'x'], /not found/],
    [['mutate', v1, '--no-such-flag'], /unknown option/],
    [['append', v1], /needs a layer tar/],
    [['append', v1, '-f', join(work, 'missing.tar')], /does not exist/],
    [['rebase', v1, '--new-base', 'docker://127.0.0.1:1/x:1'], /must be an image of the store/],
    [['rebase', v1, '--old-base', v1, '--new-base', 'edit-no-such:base'], /not found/],
  ];
  for (const [args, pattern] of cases) {
    const r = shale(args, { root });
    if (args.includes('--no-such-flag')) {
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    } else assert.match(assertCliError(r, args.join(' ')), pattern);
    assert.equal(storeState(root), state, `${args.join(' ')} changed the store`);
  }
  const notTar = join(work, 'not-a-tar.tar');
  writeFileSync(notTar, 'this is not a tar archive, not at all; it is long enough to fill a header block? no.'.repeat(10));
  assertCliError(shale(['append', v1, '-f', notTar], { root }), 'append of a file that is no tar');
  assert.equal(storeState(root), state);
});

/**
 * `shale ARGS --format json` run without blocking this process (the counting proxy serves from its event
 * loop); asserts exit 0.
 */
async function shaleAsync(args: readonly string[], root: string, json = false, expectStatus = 0): Promise<ShaleResult & { json?: EditJson }> {
  const full = json ? [...args, '--format', 'json'] : [...args];
  const child = spawnShale(full, { root });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const [status, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  assert.equal(status, expectStatus, `shale ${full.join(' ')} -> ${status ?? signal}\nstdout: ${stdout}\nstderr: ${stderr}`);
  return { status, signal, stdout, stderr, ...(json && status === 0 ? { json: JSON.parse(stdout) as EditJson } : {}) };
}

/** One request through the proxy: bytes the client sent, bytes the registry answered. */
interface Exchange {
  method: string;
  path: string;
  status: number;
  sent: number;
  received: number;
}

/** An HTTP proxy in front of the registry that records every request and its body sizes. */
async function countingProxy(t: Pick<TestContext, 'after'>, target: string): Promise<{ host: string; log: Exchange[] }> {
  const log: Exchange[] = [];
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const server = createServer((req, res) => {
    const ex: Exchange = { method: req.method ?? '', path: req.url ?? '', status: 0, sent: 0, received: 0 };
    log.push(ex);
    const up = request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers as IncomingHttpHeaders }, (answer) => {
      ex.status = answer.statusCode ?? 0;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on('data', (c: Buffer) => (ex.received += c.length));
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.on('data', (c: Buffer) => (ex.sent += c.length));
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, log };
}

const blobGets = (log: Exchange[]) => log.filter((e) => e.method === 'GET' && /\/blobs\/sha256:/.test(e.path)).map((e) => /sha256:[a-f0-9]{64}/.exec(e.path)![0]);
const uploadedBytes = (log: Exchange[]) => log.filter((e) => (e.method === 'PUT' || e.method === 'PATCH') && e.path.includes('/blobs/uploads/')).reduce((n, e) => n + e.sent, 0);
const manifestPuts = (log: Exchange[]) => log.filter((e) => e.method === 'PUT' && e.path.includes('/manifests/'));

test('on a registry: mutate, append and rebase read only manifest and config, and push only what is new', { timeout: 180_000 }, async (t) => {
  if (!requireTool(t, 'registry') || !requireTool(t, 'runc')) return;
  const { root, work, v1, v2, context } = shared;
  const registry = await startRegistry(t, tempDir(t, 'shale-edit-registry-'));
  const proxy = await countingProxy(t, registry.host);
  const host = proxy.host;
  const name = `edit-remote-${uniqueSuffix()}`;
  // the bases and an image built on v1, as a CI would have pushed them
  for (const [local, remote] of [[v1, `${host}/${name}-base:v1`], [v2, `${host}/${name}-base:v2`]] as const) {
    shaleOk(['tag', local, remote], { root });
    await shaleAsync(['push', remote, '--compression', 'none'], root);
  }
  shaleBuild(root, context, ['-t', `${host}/${name}:1`, '--build-arg', `BASE=${host}/${name}-base:v1`]);
  await shaleAsync(['push', `${host}/${name}:1`, '--compression', 'none'], root); // the registry holds the stored layers as they are
  const local = inspect(root, `${host}/${name}:1`);
  const layerDigests = new Set(local.manifest.layers.map((l) => l.digest));
  const blobsBefore = new Set(registry.blobs());

  // mutate in place: the tag moves; only a config and a manifest are new
  proxy.log.length = 0;
  const m = (await shaleAsync(['mutate', `docker://${host}/${name}:1`, '-e', 'MUTATED=yes', '-l', 'edited=remote'], root, true)).json!;
  assert.deepEqual(blobGets(proxy.log), [local.manifest.config.digest], 'only the config blob is downloaded');
  const mutatedConfigSize = m.blobs!.find((b) => b.kind === 'config')!.size;
  assert.equal(uploadedBytes(proxy.log), mutatedConfigSize, 'only the new config is uploaded');
  assert.deepEqual(m.blobs!.filter((b) => b.action === 'uploaded').map((b) => b.kind), ['config']);
  assert.equal(manifestPuts(proxy.log).length, 1);
  assert.equal(m.ref, `${host}/${name}:1@${m.manifestDigest}`);
  const newBlobs = registry.blobs().filter((d) => !blobsBefore.has(d)).sort();
  assert.deepEqual(newBlobs, [m.id, m.manifestDigest].sort(), 'the registry stores a new config and manifest, nothing else');

  // what the registry now serves under the tag: pulled into another store, it runs with the new env
  const other = tempStore(t);
  await shaleAsync(['pull', `${host}/${name}:1`], other);
  const pulled = inspect(other, `${host}/${name}:1`);
  assert.equal(pulled.id, m.id);
  assert.ok(pulled.config.config.Env?.includes('MUTATED=yes'));
  assert.equal(pulled.config.config.Labels?.edited, 'remote');
  assert.deepEqual(pulled.manifest.layers.map((l) => l.digest), [...layerDigests], 'the same layer blobs');

  // append: the tar goes up as it is (gzip), with the config and manifest
  const gz = join(work, `${name}.tar.gz`);
  const gzBytes = gzipSync(await oneFileLayer('etc/remote-appended', Buffer.from('from the registry\n')));
  writeFileSync(gz, gzBytes);
  proxy.log.length = 0;
  const a = (await shaleAsync(['append', `docker://${host}/${name}:1`, '-f', gz, '-t', `${host}/${name}:appended`], root, true)).json!;
  assert.deepEqual(blobGets(proxy.log), [m.id], 'only the config blob is downloaded');
  assert.equal(uploadedBytes(proxy.log), gzBytes.length + a.blobs!.find((b) => b.kind === 'config')!.size, 'the new layer and config are uploaded');
  await shaleAsync(['pull', `${host}/${name}:appended`], other);
  const appended = inspect(other, `${host}/${name}:appended`);
  assert.equal(appended.manifest.layers.at(-1)?.size, gzBytes.length);
  assert.equal(shaleOk(['run', '--rm', `${host}/${name}:appended`, 'cat', '/etc/remote-appended'], { root: other }).stdout, 'from the registry\n');

  // rebase onto v2, kept in another repository of the registry: its layer is mounted, not sent
  proxy.log.length = 0;
  const rb = (await shaleAsync(['rebase', `docker://${host}/${name}:1`, '--new-base', `docker://${host}/${name}-base:v2`, '-t', `${host}/${name}:rebased`], root, true)).json!;
  assert.deepEqual(blobGets(proxy.log).sort(), [m.id, inspect(root, v1).id, inspect(root, v2).id].sort(), 'only configs are downloaded (the image, old and new base)');
  assert.equal(uploadedBytes(proxy.log), rb.blobs!.find((b) => b.kind === 'config')!.size, 'only the config is uploaded');
  assert.deepEqual(rb.blobs!.filter((b) => b.action === 'mounted').map((b) => b.kind), ['layer'], "the new base's layer is mounted from its repository");
  await shaleAsync(['pull', `${host}/${name}:rebased`], other);
  assert.equal(shaleOk(['run', '--rm', `${host}/${name}:rebased`, 'cat', '/etc/base-version', '/app/app.txt'], { root: other }).stdout, 'v2\nthe application\n');
  // the same layers and history as the rebase of the store's copy of the image
  await shaleAsync(['rebase', `${host}/${name}:1`, '--new-base', `${host}/${name}-base:v2`, '-t', `${name}:local-rebased`], root);
  const localRebased = inspect(root, `${name}:local-rebased`);
  const remoteRebased = inspect(other, `${host}/${name}:rebased`);
  assert.deepEqual(remoteRebased.config.rootfs, localRebased.config.rootfs);
  assert.deepEqual(remoteRebased.config.history, localRebased.config.history);
  assert.equal(remoteRebased.manifest.annotations?.['org.opencontainers.image.base.name'], `${host}/${name}-base:v2`);

  // a base and an image pushed compressed: the registry's base has another manifest digest than the one
  // the build recorded, and the rebase finds the old base in the store that built the image
  shaleOk(['tag', v1, `${host}/${name}-gzbase:v1`], { root });
  await shaleAsync(['push', `${host}/${name}-gzbase:v1`], root);
  shaleBuild(root, context, ['-t', `${host}/${name}-gz:1`, '--build-arg', `BASE=${host}/${name}-gzbase:v1`]);
  await shaleAsync(['push', `${host}/${name}-gz:1`], root);
  const gzRebased = (await shaleAsync(['rebase', `docker://${host}/${name}-gz:1`, '--new-base', `docker://${host}/${name}-base:v2`, '-t', `${host}/${name}-gz:rebased`], root, true)).json!;
  await shaleAsync(['pull', `${host}/${name}-gz:rebased`], other);
  assert.equal(shaleOk(['run', '--rm', `${host}/${name}-gz:rebased`, 'cat', '/etc/base-version', '/app/app.txt'], { root: other }).stdout, 'v2\nthe application\n');
  assert.deepEqual(inspect(other, `${host}/${name}-gz:rebased`).config.rootfs, localRebased.config.rootfs, 'the same layers as the rebase of the uncompressed image');
  assert.ok(gzRebased.ref?.startsWith(`${host}/${name}-gz:rebased`), String(gzRebased.ref));
  // in a store that does not hold the base, the rebase says where it looked
  const bare = tempStore(t);
  // (through the proxy this process serves: run without blocking it)
  const refused = await shaleAsync(['rebase', `docker://${host}/${name}-gz:1`, '--new-base', `docker://${host}/${name}-base:v2`, '-t', `${host}/${name}-gz:x`], bare, false, 2);
  assert.match(assertCliError(refused, 'rebase without the old base'), /is not in its registry nor in the store/);
});

test('an image Docker pushed (schema 2, gzip layers) is appended to and mutated in place; docker pull runs the result', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'registry') || !requireTool(t, 'docker')) return;
  const { root, work, v1 } = shared;
  const registry = await startRegistry(t, tempDir(t, 'shale-edit-registry-'));
  const name = `edit-docker-${uniqueSuffix()}`;
  const ref = `${registry.host}/${name}:1`;
  loadIntoDocker(t, root, inspect(root, v1).id, ref, work);
  dockerOk(['push', ref]);
  const pushed = (await shaleAsync(['inspect', `docker://${ref}`], root, true)).json as unknown as Inspected;
  assert.equal(pushed.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');

  const gz = join(work, `${name}.tar.gz`);
  writeFileSync(gz, gzipSync(await oneFileLayer('etc/greeting', Buffer.from('hello from an appended layer\n'))));
  await shaleAsync(['append', `docker://${ref}`, '-f', gz], root, true);
  const m = (await shaleAsync(['mutate', `docker://${ref}`, '--cmd', 'cat,/etc/greeting', '-e', 'EDITED=1'], root, true)).json!;
  const edited = (await shaleAsync(['inspect', `docker://${ref}`], root, true)).json as unknown as Inspected;
  assert.equal(edited.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json', 'the manifest stays Docker schema 2');
  assert.equal(edited.manifest.layers.at(-1)?.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  assert.equal(edited.id, m.id);

  dockerCleanup(t).image(ref);
  dockerOk(['rmi', ref]);
  dockerOk(['pull', ref]);
  assert.equal(dockerOk(['image', 'inspect', '--format', '{{.Id}}', ref]).trim(), m.id, 'Docker has the edited image under the ID shale gave it');
  assert.equal(dockerOk(['run', '--rm', '--network', 'none', ref]), 'hello from an appended layer\n');
  assert.match(dockerOk(['run', '--rm', '--network', 'none', ref, 'env']), /^EDITED=1$/m);
});
