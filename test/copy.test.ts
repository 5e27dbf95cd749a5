/**
 * shale copy SRC DST between the store, a real registry (Debian's docker-registry), OCI layouts and
 * archives, checked with skopeo and umoci: digests kept, blobs mounted across repositories of one
 * registry (the bytes sent to it counted by a proxy), indexes copied whole with --all-platforms, and bad
 * SOURCE/DESTINATION refused before anything is written.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { busyboxBase } from './support/build.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { assertCliError, shale, shaleJson, shaleOk, spawnShale, tempDir, tempStore } from './support/shale.js';
import { requireTool } from './support/tools.js';

interface CopyJson {
  digest: string;
  images: { id: string; manifestDigest: string }[];
  blobs: { digest: string; size: number; action: 'uploaded' | 'mounted' | 'exists' | 'written'; from?: string }[];
  transferredBytes: number;
}

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const skopeo = (args: string[]) => execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const skopeoDigest = (ref: string) => (JSON.parse(skopeo(['inspect', '--tls-verify=false', ref])) as { Digest: string }).Digest;
const skopeoRawDigest = (ref: string) => sha256(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]));

/** A TCP proxy in front of `target` that counts the bytes clients send through it. */
async function countingProxy(t: TestContext, target: string): Promise<{ host: string; sent: () => number }> {
  const [host, port] = target.split(':') as [string, string];
  let sent = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), host);
    client.on('data', (c: Buffer) => {
      sent += c.length;
      upstream.write(c);
    });
    upstream.on('data', (c: Buffer) => client.write(c));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, sent: () => sent };
}

/** `shale ARGS --format json` run without blocking this process (whose proxy must keep serving). */
async function shaleJsonAsync<T>(args: string[], root: string): Promise<T> {
  const child = spawnShale([...args, '--format', 'json'], { root });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(status, 0, `shale ${args.join(' ')}: ${stderr}`);
  return JSON.parse(stdout) as T;
}

interface Shared {
  work: string;
  root: string;
  registry: TestRegistry;
  base: { ref: string; id: string };
}

let shared: Promise<Shared> | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});
/** One registry, store and busybox base for the suite, removed when it ends. */
function setUp(): Promise<Shared> {
  shared ??= (async () => {
    const suite: Pick<TestContext, 'after'> = { after: (fn) => void cleanups.push(async () => fn?.({} as TestContext, () => undefined)) };
    const work = tempDir(suite, 'shale-copy-');
    const root = join(work, 'store');
    const registry = await startRegistry(suite, work);
    const base = busyboxBase(suite, work, root, 'copytest/base:1');
    return { work, root, registry, base };
  })();
  return shared;
}

function needTools(t: TestContext, ...tools: ('skopeo' | 'umoci' | 'registry')[]): boolean {
  return tools.every((tool) => requireTool(t, tool));
}

test('store → registry, then registry → registry across repositories mounts every blob and keeps the digest', async (t) => {
  if (!needTools(t, 'registry', 'skopeo')) return;
  const { root, registry, base } = await setUp();
  const proxy = await countingProxy(t, registry.host);
  const pushed = await shaleJsonAsync<CopyJson>(['copy', base.ref, `docker://${proxy.host}/src/app:1`], root);
  assert.equal(pushed.images[0]!.id, base.id);
  assert.ok(pushed.blobs.every((b) => b.action === 'uploaded'), 'a first copy uploads every blob');
  const blobBytes = pushed.blobs.reduce((n, b) => n + b.size, 0);
  assert.equal(pushed.transferredBytes, blobBytes);
  assert.ok(proxy.sent() >= blobBytes, 'the proxy saw the blobs go up');

  const before = proxy.sent();
  const copied = await shaleJsonAsync<CopyJson>(['copy', `docker://${proxy.host}/src/app:1`, `docker://${proxy.host}/dst/app:2`], root);
  assert.ok(copied.blobs.length >= 2);
  assert.deepEqual(new Set(copied.blobs.map((b) => b.action)), new Set(['mounted']), 'every blob is mounted');
  assert.ok(copied.blobs.every((b) => b.from === 'src/app'));
  assert.equal(copied.transferredBytes, 0);
  const sentByCopy = proxy.sent() - before;
  assert.ok(sentByCopy < 16 * 1024, `the copy sent ${sentByCopy} bytes to the registry, no blob (they are ${blobBytes} bytes)`);
  assert.equal(copied.digest, pushed.digest);
  assert.equal(skopeoDigest(`docker://${registry.host}/dst/app:2`), pushed.digest, 'skopeo sees the same manifest digest');
  // to another registry there is nothing to mount from: the blobs are streamed from the source's GET
  const other = await startRegistry(t, tempDir(t));
  const streamed = shaleJson<CopyJson>(['copy', `docker://${registry.host}/dst/app:2`, `docker://${other.host}/app:3`], { root });
  assert.ok(streamed.blobs.every((b) => b.action === 'uploaded'));
  assert.equal(streamed.transferredBytes, blobBytes);
  assert.equal(skopeoDigest(`docker://${other.host}/app:3`), pushed.digest);
});

test('OCI layout → registry → oci-archive and docker-archive keeps the digests', async (t) => {
  if (!needTools(t, 'registry', 'skopeo')) return;
  const { work, root, registry, base } = await setUp();
  // the layout is skopeo's, the first registry copy too
  shaleOk(['copy', base.ref, `docker://${registry.host}/seed/app:1`], { root });
  const layout = join(work, 'skopeo-layout');
  skopeo(['copy', '--src-tls-verify=false', `docker://${registry.host}/seed/app:1`, `oci:${layout}:v1`]);
  const layoutDigest = skopeoDigest(`oci:${layout}:v1`);

  const up = shaleJson<CopyJson>(['copy', `oci:${layout}:v1`, `docker://${registry.host}/round/app:1`], { root });
  assert.equal(up.digest, layoutDigest);
  assert.equal(skopeoDigest(`docker://${registry.host}/round/app:1`), layoutDigest);

  const ociArchive = join(work, 'round.oci.tar');
  shaleOk(['copy', `docker://${registry.host}/round/app:1`, `oci-archive:${ociArchive}:v1`], { root });
  assert.equal(skopeoDigest(`oci-archive:${ociArchive}:v1`), layoutDigest, 'the oci-archive holds the same manifest');

  const dockerArchive = join(work, 'round.docker.tar');
  shaleOk(['copy', `docker://${registry.host}/round/app:1`, `docker-archive:${dockerArchive}:round/app:1`], { root });
  const config = execFileSync('skopeo', ['inspect', '--config', '--raw', `docker-archive:${dockerArchive}`]);
  assert.equal(sha256(config), base.id, 'the docker-archive holds the same config (image ID)');
  // and back into a store: the same image
  const other = tempStore(t);
  shaleOk(['copy', `docker-archive:${dockerArchive}`, 'back/app:1'], { root: other });
  assert.equal(shaleJson<{ id: string }>(['inspect', 'back/app:1'], { root: other }).id, base.id);
  shaleOk(['copy', `oci-archive:${ociArchive}:v1`, 'back/oci:1'], { root: other });
  assert.equal(shaleJson<{ manifestDigest: string }>(['inspect', 'back/oci:1'], { root: other }).manifestDigest, layoutDigest);
});

test('store → OCI layout is read by umoci and skopeo', async (t) => {
  if (!needTools(t, 'skopeo', 'umoci')) return;
  const { work, root, base } = await setUp();
  const layout = join(work, 'store-layout');
  const r = shaleJson<CopyJson>(['copy', base.ref, `oci:${layout}:latest`], { root });
  const stored = shaleJson<{ manifestDigest: string }>(['inspect', base.ref], { root });
  assert.equal(r.digest, stored.manifestDigest);
  assert.equal(skopeoDigest(`oci:${layout}:latest`), stored.manifestDigest);
  assert.match(execFileSync('umoci', ['ls', '--layout', layout], { encoding: 'utf8' }), /^latest$/m);
  const bundle = join(work, 'umoci-bundle');
  execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:latest`, bundle], { stdio: 'ignore' });
  assert.ok(existsSync(join(bundle, 'rootfs', 'bin', 'busybox')), 'umoci unpacked the rootfs');
  // a second copy into the same layout under another name writes no blob again
  const again = shaleJson<CopyJson>(['copy', base.ref, `oci:${layout}:again`], { root });
  assert.equal(again.transferredBytes, 0);
  assert.match(execFileSync('umoci', ['ls', '--layout', layout], { encoding: 'utf8' }), /^again$/m);
});

test('--all-platforms copies an index and its images, digests kept; without it --platform picks one', async (t) => {
  if (!needTools(t, 'registry', 'skopeo')) return;
  const { work, root, registry, base } = await setUp();
  // a second image, and an index naming both made into a layout, pushed by skopeo
  const tarDir = join(work, 'other-rootfs');
  mkdirSync(join(tarDir, 'etc'), { recursive: true });
  writeFileSync(join(tarDir, 'etc', 'other'), 'the other platform\n');
  execFileSync('tar', ['-C', tarDir, '-cf', join(work, 'other.tar'), '.']);
  shaleOk(['import', join(work, 'other.tar'), 'copytest/other:1'], { root });
  const layout = join(work, 'multi-layout');
  shaleOk(['copy', base.ref, `oci:${layout}:amd`], { root });
  shaleOk(['copy', 'copytest/other:1', `oci:${layout}:arm`], { root });
  const entries = (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { mediaType: string; digest: string; size: number }[] }).manifests;
  const [amd, arm] = entries.map(({ mediaType, digest, size }) => ({ mediaType, digest, size }));
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...amd, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    }),
  );
  const indexDigest = sha256(index);
  writeFileSync(join(layout, 'blobs', 'sha256', indexDigest.slice(7)), index);
  const layoutIndex = { schemaVersion: 2, manifests: [...entries, { mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] };
  writeFileSync(join(layout, 'index.json'), JSON.stringify(layoutIndex));
  skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${registry.host}/multi/app:1`]);
  assert.equal(skopeoRawDigest(`docker://${registry.host}/multi/app:1`), indexDigest);

  const all = shaleJson<CopyJson>(['copy', '--all-platforms', `docker://${registry.host}/multi/app:1`, `docker://${registry.host}/multi/copy:1`], { root });
  assert.equal(all.digest, indexDigest);
  assert.deepEqual(all.images.map((i) => i.manifestDigest), [amd!.digest, arm!.digest]);
  assert.equal(skopeoRawDigest(`docker://${registry.host}/multi/copy:1`), indexDigest, 'the index keeps its digest');
  assert.equal(skopeoRawDigest(`docker://${registry.host}/multi/copy@${arm!.digest}`), arm!.digest, 'and every image is there');

  // from the layout straight into an OCI archive, the index whole
  const archive = join(work, 'multi.oci.tar');
  assert.equal(shaleJson<CopyJson>(['copy', '--all-platforms', `oci:${layout}:multi`, `oci-archive:${archive}:multi`], { root }).digest, indexDigest);
  const archived = JSON.parse(execFileSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' })) as { manifests: { digest: string }[] };
  assert.equal(archived.manifests[0]!.digest, indexDigest);
  assert.equal(skopeoRawDigest(`oci-archive:${archive}:multi`), indexDigest, 'skopeo reads the index from the archive');

  // one platform: its manifest as it is
  const one = shaleJson<CopyJson>(['copy', '--platform', 'linux/arm64', `docker://${registry.host}/multi/app:1`, `docker://${registry.host}/multi/arm:1`], { root });
  assert.equal(one.digest, arm!.digest);
  assert.equal(skopeoRawDigest(`docker://${registry.host}/multi/arm:1`), arm!.digest);
  // a single image is taken for --platform only when its config names that platform (the "arm" image's says amd64)
  for (const args of [
    ['copy', '--platform', 'linux/arm64', `docker://${registry.host}/multi/arm:1`, `docker://${registry.host}/multi/arm2:1`],
    ['pull', '--platform', 'linux/arm64', `${registry.host}/multi/arm:1`],
    ['digest', '--platform', 'linux/arm64', `${registry.host}/multi/arm:1`],
    ['analyze', '--platform', 'linux/arm64', `docker://${registry.host}/multi/arm:1`],
  ]) {
    assert.match(assertCliError(shale(args, { root }), args.join(' ')), /does not match the specified platform: wanted linux\/arm64, actual: linux\/amd64/);
  }
  assert.equal(shaleJson<CopyJson>(['copy', '--platform', 'linux/amd64', `docker://${registry.host}/multi/arm:1`, `docker://${registry.host}/multi/arm3:1`], { root }).digest, arm!.digest);
  // an index cannot become a store image
  assert.match(assertCliError(shale(['copy', '--all-platforms', `oci:${layout}:multi`, 'multi/store:1'], { root }), 'index into the store'), /index/);
});

test('a bad SOURCE or DESTINATION exits 2 and writes nothing', async (t) => {
  const { work, root, base } = await setUp();
  const out = (name: string) => join(work, 'bad', name);
  mkdirSync(join(work, 'bad'), { recursive: true });
  const cases: [string[], RegExp, string][] = [
    [['copy', 'nosuch/image:1', `oci:${out('a')}:x`], /not found/, out('a')],
    [['copy', `oci:${out('missing-layout')}:x`, `oci:${out('b')}:x`], /does not exist/, out('b')],
    [['copy', `docker-archive:${out('missing.tar')}`, `oci-archive:${out('c.tar')}`], /does not exist/, out('c.tar')],
    [['copy', base.ref, 'docker-daemon:x:1'], /docker-daemon/, ''],
    [['copy', base.ref, 'UPPER/Case:1'], /destination/, ''],
    [['copy', base.ref, 'oci:'], /names no path/, ''],
    [['copy', base.ref, 'docker:/no-slashes/x:1'], /docker:\/\/HOST/, ''],
    [['copy', '--all-platforms', '--platform', 'linux/amd64', base.ref, `oci:${out('d')}`], /exclude/, out('d')],
    [['copy', base.ref, `oci:${out('e')}`, '--no-such-flag'], /unknown option/, out('e')],
    [['copy', '--platform', 'linux/arm64', base.ref, `oci:${out('g')}`], /does not match the specified platform/, out('g')],
    [['analyze', '--platform', 'linux/s390x', base.ref], /does not match the specified platform/, ''],
  ];
  for (const [args, words, written] of cases) {
    const line = assertCliError(shale(args, { root }), args.join(' '));
    assert.match(line, words, line);
    if (written) assert.ok(!existsSync(written), `${written} was not written`);
  }
  // a corrupt layout: the copy stops and the destination directory is not left behind
  const layout = join(work, 'bad-layout');
  shaleOk(['copy', base.ref, `oci:${layout}:x`], { root });
  const manifest = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', manifest.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  const layerPath = join(layout, 'blobs', 'sha256', m.layers[0]!.digest.slice(7));
  const bytes = readFileSync(layerPath);
  bytes[bytes.length - 1024] ^= 0xff;
  writeFileSync(layerPath, bytes);
  assert.match(assertCliError(shale(['copy', `oci:${layout}:x`, `oci:${out('f')}:x`], { root }), 'corrupt layer'), /digest/);
  assert.ok(!existsSync(out('f')), 'nothing was left at the destination');
});
