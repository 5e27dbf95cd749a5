/**
 * shale pull / push / login against a real registry (Debian's docker-registry), with Docker and skopeo on
 * the other side: digests equal both ways, nothing sent twice, htpasswd auth, TLS from a test CA, and
 * faults (the registry killed mid-push, a blob corrupted on its disk).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test, type TestContext } from 'node:test';
import { busyboxBase } from './support/build.js';
import { dockerCleanup, dockerImageId, dockerOk } from './support/docker.js';
import { makeTestCa, startRegistry } from './support/registry.js';
import { assertErrorAfterProgress, shale, shaleJson, shaleOk, spawnShale, tempDir, tempStore, type ShaleResult } from './support/shale.js';
import { requireTool } from './support/tools.js';

interface PushJson {
  ref: string;
  id: string;
  manifestDigest: string;
  uploadedBytes: number;
  blobs: { digest: string; action: 'uploaded' | 'exists' | 'mounted'; from?: string }[];
}
interface PullJson {
  ref: string;
  id: string;
  manifestDigest: string;
  downloadedBytes: number;
  blobs: { digest: string; action: 'downloaded' | 'exists' }[];
}

interface ImageRowJson {
  repository: string;
  tag: string;
  digest: string;
  id: string;
}

const assertRegistryError = (r: ShaleResult, what: string): string => assertErrorAfterProgress(r, what);

const skopeoDigest = (ref: string, flags: string[] = ['--tls-verify=false']): string =>
  (JSON.parse(execFileSync('skopeo', ['inspect', ...flags, `docker://${ref}`], { encoding: 'utf8' })) as { Digest: string }).Digest;

function needTools(t: TestContext, ...tools: ('docker' | 'skopeo' | 'registry')[]): boolean {
  return tools.every((tool) => requireTool(t, tool));
}

test('shale push: docker pull and skopeo see the same digests; a second push uploads nothing; shale pull gets it back', async (t) => {
  if (!needTools(t, 'registry', 'docker', 'skopeo')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry = await startRegistry(t, work);
  const base = busyboxBase(t, work, root, 'regtest/base:1');
  const ref = `${registry.host}/busybox:1`;
  shaleOk(['tag', base.ref, ref], { root });

  const first = shaleJson<PushJson>(['push', ref], { root });
  assert.ok(first.uploadedBytes > 0);
  assert.ok(first.blobs.every((b) => b.action === 'uploaded'));
  const again = shaleJson<PushJson>(['push', ref], { root });
  assert.equal(again.uploadedBytes, 0, 'a second push uploads nothing');
  assert.ok(again.blobs.every((b) => b.action === 'exists'));
  assert.equal(again.manifestDigest, first.manifestDigest);
  const stored = shaleJson<{ manifest: unknown }>(['inspect', ref], { root });
  assert.ok(stored.manifest);

  // Docker pulls it: same image ID, and the registry digest is the one shale pushed
  dockerCleanup(t).image(ref);
  dockerOk(['pull', ref]);
  assert.equal(dockerImageId(ref), base.id);
  assert.match(dockerOk(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]), new RegExp(first.manifestDigest));
  // skopeo: inspect and copy keep the digest
  assert.equal(skopeoDigest(ref), first.manifestDigest);
  const layout = join(work, 'layout');
  execFileSync('skopeo', ['copy', '--preserve-digests', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:x`], { stdio: 'ignore' });
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  assert.equal(index.manifests[0]!.digest, first.manifestDigest);

  // shale pulls it into an empty store: same digests; a second pull downloads nothing
  const other = tempStore(t);
  const pulled = shaleJson<PullJson>(['pull', ref], { root: other });
  assert.equal(pulled.manifestDigest, first.manifestDigest);
  assert.equal(pulled.id, base.id);
  assert.ok(pulled.downloadedBytes > 0);
  const repeat = shaleJson<PullJson>(['pull', ref], { root: other });
  assert.equal(repeat.downloadedBytes, 0, 'nothing is downloaded twice');
  assert.deepEqual(shaleJson<{ ok: boolean }>(['fsck'], { root: other }).ok, true);

  // docker:// as a SOURCE reads the registry like the pulled image
  const strip = (a: Record<string, unknown>) => ({ ...a, image: undefined });
  const fromRegistry = shaleJson<Record<string, unknown>>(['analyze', `docker://${ref}`], { root: tempStore(t) });
  const fromStore = shaleJson<Record<string, unknown>>(['analyze', ref], { root: other });
  assert.deepEqual(strip(fromRegistry), strip(fromStore));
  const inspected = shaleJson<{ id: string }>(['inspect', `docker://${ref}`], { root: other });
  assert.equal(inspected.id, base.id);
  // history of docker:// reads no layer: a layer's size is its blob's, as the manifest gives it
  type Row = { size: number; emptyLayer: boolean };
  const history = shaleJson<Row[]>(['history', `docker://${ref}`], { root: other });
  const storedHistory = shaleJson<Row[]>(['history', ref], { root: other });
  assert.deepEqual(history.map((r) => ({ ...r, size: 0 })), storedHistory.map((r) => ({ ...r, size: 0 })));
  const blobSizes = shaleJson<{ manifest: { layers: { size: number }[] } }>(['inspect', ref], { root: other }).manifest.layers.map((l) => l.size);
  assert.deepEqual(history.filter((r) => !r.emptyLayer).map((r) => r.size), blobSizes.reverse());
});

test('docker push, shale pull: the registry manifest digest is kept; pushing it elsewhere mounts the blobs', async (t) => {
  if (!needTools(t, 'registry', 'docker', 'skopeo')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry = await startRegistry(t, work);
  const base = busyboxBase(t, work, root, `regtest/docker-base:${process.pid}`, { docker: true });
  const ref = `${registry.host}/from-docker:1`;
  dockerCleanup(t).image(ref);
  dockerOk(['tag', base.ref, ref]);
  dockerOk(['push', ref]);
  const digest = skopeoDigest(ref);

  const store = tempStore(t);
  const pulled = shaleJson<PullJson>(['pull', ref], { root: store });
  assert.equal(pulled.manifestDigest, digest, 'the pulled image keeps the registry manifest digest');
  assert.equal(pulled.id, dockerImageId(ref));
  assert.equal(shaleJson<{ ok: boolean }>(['fsck'], { root: store }).ok, true);

  // pushed back to another repository of the same registry: every blob is mounted, the digest is unchanged
  const copy = `${registry.host}/copy:1`;
  shaleOk(['tag', ref, copy], { root: store });
  const pushed = shaleJson<PushJson>(['push', copy], { root: store });
  assert.equal(pushed.uploadedBytes, 0);
  assert.ok(pushed.blobs.every((b) => b.action === 'mounted' && b.from === 'from-docker'), JSON.stringify(pushed.blobs));
  assert.equal(pushed.manifestDigest, digest);
  assert.equal(skopeoDigest(copy), digest);
});

test('htpasswd auth: login checks and stores credentials (0600), a wrong password is a clear error, nothing leaks', async (t) => {
  if (!needTools(t, 'registry', 'skopeo')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const registry = await startRegistry(t, work, { users: { alice: password } });
  const dockerConfig = join(work, 'docker-config');
  const env = { DOCKER_CONFIG: dockerConfig };
  busyboxBase(t, work, root, 'regtest/auth:1');
  const ref = `${registry.host}/private/busybox:1`;
  shaleOk(['tag', 'regtest/auth:1', ref], { root });

  const anonymous = shale(['push', ref], { root, env });
  assert.match(assertRegistryError(anonymous, 'push without login'), /requires authentication/);
  assert.match(anonymous.stderr, /hint: run `shale login/);

  const wrong = shale(['login', registry.host, '-u', 'alice', '--password-stdin'], { root, env, input: 'not-the-password\n' });
  assert.match(assertRegistryError(wrong, 'login with a wrong password'), /refused the credentials/);
  assert.ok(!wrong.stderr.includes('not-the-password') && !wrong.stdout.includes('not-the-password'));
  assert.throws(() => statSync(join(dockerConfig, 'config.json')), 'a failed login stores nothing');

  const login = shaleOk(['login', registry.host, '-u', 'alice', '--password-stdin'], { root, env, input: `${password}\n` });
  assert.match(login.stdout, /Login Succeeded/);
  const configPath = join(dockerConfig, 'config.json');
  assert.equal(statSync(configPath).mode & 0o777, 0o600);
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(config.auths[registry.host]!.auth, 'base64').toString(), `alice:${password}`);

  const pushRun = shaleOk(['push', ref, '--format', 'json'], { root, env });
  const pushed = JSON.parse(pushRun.stdout) as PushJson;
  const pullRun = shaleOk(['pull', ref, '--format', 'json'], { root: tempStore(t), env });
  assert.equal((JSON.parse(pullRun.stdout) as PullJson).manifestDigest, pushed.manifestDigest);
  for (const r of [login, pushRun, pullRun, anonymous]) assert.ok(!`${r.stdout}${r.stderr}`.includes(password), 'the password never appears in output');
  assert.equal(skopeoDigest(ref, ['--tls-verify=false', '--creds', `alice:${password}`]), pushed.manifestDigest);
});

test('TLS with a test CA: untrusted by default, trusted with SHALE_REGISTRY_CA or --ca-cert; skopeo agrees', async (t) => {
  if (!needTools(t, 'registry', 'skopeo')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const ca = makeTestCa(join(work, 'tls'));
  const registry = await startRegistry(t, work, { tls: { cert: ca.cert, key: ca.key } });
  busyboxBase(t, work, root, 'regtest/tls:1');
  const ref = `${registry.host}/secure/busybox:1`;
  shaleOk(['tag', 'regtest/tls:1', ref], { root });

  const untrusted = shale(['push', ref], { root, env: { SHALE_REGISTRY_CA: '', NODE_EXTRA_CA_CERTS: '' } });
  assert.match(assertRegistryError(untrusted, 'push to an untrusted TLS registry'), /certificate/i);

  const pushed = shaleJson<PushJson>(['push', ref], { root, env: { SHALE_REGISTRY_CA: ca.caCert } });
  assert.ok(pushed.uploadedBytes > 0);
  const pulled = shaleJson<PullJson>(['pull', ref, '--ca-cert', ca.caCert], { root: tempStore(t) });
  assert.equal(pulled.manifestDigest, pushed.manifestDigest);
  assert.equal(skopeoDigest(ref, ['--cert-dir', ca.caDir]), pushed.manifestDigest);
  // --insecure accepts the certificate without the CA
  assert.equal(shaleJson<PushJson>(['push', ref, '--insecure'], { root }).uploadedBytes, 0);
});

/** Flips one byte in the middle of a file (its size stays). */
function corrupt(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    const size = statSync(path).size;
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, Math.floor(size / 2));
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, Math.floor(size / 2));
  } finally {
    closeSync(fd);
  }
}

test('faults: the registry killed mid-push is a clear error and a later push completes; a corrupt blob fails the pull with DIGEST_MISMATCH and leaves the store as it was', async (t) => {
  if (!needTools(t, 'registry')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry = await startRegistry(t, work);
  busyboxBase(t, work, root, 'regtest/big:1', {
    extra: (rootfs) => {
      mkdirSync(join(rootfs, 'data'), { recursive: true });
      writeFileSync(join(rootfs, 'data', 'random.bin'), randomBytes(48 << 20));
    },
  });
  const ref = `${registry.host}/big:1`;
  shaleOk(['tag', 'regtest/big:1', ref], { root });

  // 1 MiB chunks: the upload is many requests, so the registry dies in the middle of it
  const env = { SHALE_REGISTRY_CHUNK_SIZE: String(1 << 20), SHALE_REGISTRY_RETRIES: '2' };
  const child = spawnShale(['push', ref], { root, env });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  const killed = new Promise<void>((resolve) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (/layer \w+: \d.*MB of/.test(stderr)) resolve();
    });
  });
  const status = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await Promise.race([killed, status]);
  await registry.kill();
  const code = await status;
  assertRegistryError({ status: code, signal: null, stdout, stderr }, 'push with the registry killed');
  assert.match(stderr, /error: registry 127\.0\.0\.1:\d+: .*(ECONNREFUSED|ECONNRESET|socket hang up)/);

  await registry.start();
  const pushed = shaleJson<PushJson>(['push', ref], { root, env });
  assert.ok(pushed.blobs.some((b) => b.action === 'uploaded'));
  const good = tempStore(t);
  assert.equal(shaleJson<PullJson>(['pull', ref], { root: good }).manifestDigest, pushed.manifestDigest);

  // a store holding another image; the pull of the corrupted one must leave it exactly as it was
  const store = tempStore(t);
  busyboxBase(t, join(work, 'other'), store, 'regtest/other:1');
  const before = { images: shaleOk(['images', '--format', 'json'], { root: store }).stdout, fsck: shaleJson<{ ok: boolean }>(['fsck'], { root: store }) };
  const layer = pushed.blobs.find((b) => b.action === 'uploaded' && b.digest !== pushed.id)!;
  corrupt(registry.blobPath(layer.digest));
  const bad = shale(['pull', ref], { root: store });
  assert.match(assertRegistryError(bad, 'pull of a corrupt blob'), /DIGEST_MISMATCH/);
  assert.equal(shaleOk(['images', '--format', 'json'], { root: store }).stdout, before.images);
  assert.deepEqual(shaleJson<{ ok: boolean }>(['fsck'], { root: store }), before.fsck);
  assert.equal(before.fsck.ok, true);
  // docker:// reads fail the same way
  assert.match(assertRegistryError(shale(['analyze', `docker://${ref}`], { root: store }), 'analyze docker:// of a corrupt blob'), /DIGEST_MISMATCH/);
});

test('a compressed layer whose tar is not the diffId its config names: the pull stores it by its digest, its first read fails with DIGEST_MISMATCH, fsck reports it', async (t) => {
  if (!needTools(t, 'registry', 'skopeo')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry = await startRegistry(t, work);
  // an OCI layout by hand: one gzip layer, a config whose diff_id names other content
  mkdirSync(join(work, 'rootfs', 'etc'), { recursive: true });
  writeFileSync(join(work, 'rootfs', 'etc', 'hello'), 'hello\n');
  const tar = execFileSync('tar', ['-C', join(work, 'rootfs'), '-cf', '-', '.']);
  const layer = gzipSync(tar);
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const wrongDiffId = sha(Buffer.concat([tar, Buffer.alloc(1024)]));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [wrongDiffId] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    }),
  );
  const layout = join(work, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  for (const b of [layer, config, manifest]) writeFileSync(join(layout, 'blobs', 'sha256', sha(b).slice(7)), b);
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'bad' } }] }));
  const ref = `${registry.host}/wrong-diffid:1`;
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:bad`, `docker://${ref}`]);

  assert.equal(shaleJson<PullJson>(['pull', ref], { root }).manifestDigest, sha(manifest));
  const out = join(work, 'out.tar');
  const line = assertErrorAfterProgress(shale(['export', ref, '-o', out], { root }), 'export of the inconsistent layer');
  assert.match(line, new RegExp(`DIGEST_MISMATCH|layer ${sha(layer)}: its uncompressed tar \\(diffId ${wrongDiffId}\\)`));
  assert.match(line, new RegExp(sha(tar)), 'names the digest the tar has');
  assert.throws(() => statSync(out), 'no output is left behind');
  const checked = shale(['fsck', '--format', 'json'], { root });
  assert.equal(checked.status, 1, 'fsck finds a problem');
  const fsck = JSON.parse(checked.stdout) as { ok: boolean; problems: string[] };
  assert.equal(fsck.ok, false);
  assert.ok(fsck.problems.some((p) => p.includes(`has diffId ${sha(tar)}, config says ${wrongDiffId}`)), fsck.problems.join('; '));
});

test('an index on the registry: pull picks this machine or --platform, and tags the chosen manifest', async (t) => {
  if (!needTools(t, 'registry')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry = await startRegistry(t, work);
  const base = busyboxBase(t, work, root, 'regtest/multi:1');
  const amd = `${registry.host}/multi:amd`;
  shaleOk(['tag', base.ref, amd], { root });
  const pushed = shaleJson<PushJson>(['push', amd, '--compression', 'none'], { root }); // the index below names the stored layers
  const stored = shaleJson<{ manifest: { layers: unknown[]; config: { size: number } }; config: Record<string, unknown> }>(['inspect', amd], { root });

  // an "arm64" variant of the same layer, and an index of both, written with plain HTTP calls
  const api = `http://${registry.host}/v2/multi`;
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const armConfig = Buffer.from(JSON.stringify({ ...stored.config, architecture: 'arm64', variant: 'v8' }));
  const start = await fetch(`${api}/blobs/uploads/`, { method: 'POST' });
  const location = new URL(start.headers.get('location')!, `http://${registry.host}`);
  location.searchParams.set('digest', sha(armConfig));
  assert.equal((await fetch(location, { method: 'PUT', body: new Uint8Array(armConfig) })).status, 201);
  const armManifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(armConfig), size: armConfig.length }, layers: stored.manifest.layers }));
  const put = (ref: string, body: Buffer, type: string) => fetch(`${api}/manifests/${ref}`, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': type } });
  assert.equal((await put('arm', armManifest, 'application/vnd.oci.image.manifest.v1+json')).status, 201);
  const rawAmd = await (await fetch(`${api}/manifests/amd`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).arrayBuffer();
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: pushed.manifestDigest, size: rawAmd.byteLength, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(armManifest), size: armManifest.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  }));
  assert.equal((await put('1', index, 'application/vnd.oci.image.index.v1+json')).status, 201);

  const store = tempStore(t);
  const arm = shaleJson<PullJson & { indexDigest: string }>(['pull', `${registry.host}/multi:1`, '--platform', 'linux/arm64/v8'], { root: store });
  assert.equal(arm.manifestDigest, sha(armManifest));
  assert.equal(arm.indexDigest, sha(index));
  assert.equal(arm.id, sha(armConfig));
  assert.equal(arm.blobs.filter((b) => b.action === 'downloaded').length, 2);
  if (process.arch === 'x64') {
    const host = shaleJson<PullJson>(['pull', `${registry.host}/multi:1`], { root: store });
    assert.equal(host.manifestDigest, pushed.manifestDigest);
    assert.equal(host.downloadedBytes, stored.manifest.config.size, 'the shared layer is not downloaded again');
  }
  // pulled by the index's digest: named by it, found by it, kept by prune
  const byIndex = tempStore(t);
  const indexRef = `${registry.host}/multi@${sha(index)}`;
  shaleOk(['pull', indexRef, '--platform', 'linux/arm64/v8'], { root: byIndex });
  shaleOk(['prune'], { root: byIndex });
  assert.deepEqual(shaleJson<ImageRowJson[]>(['images'], { root: byIndex }).map((r) => [r.repository, r.tag, r.digest, r.id]), [[`${registry.host}/multi`, '<none>', sha(index), sha(armConfig)]]);
  assert.equal(shaleJson<{ id: string }>(['inspect', indexRef], { root: byIndex }).id, sha(armConfig));
  const missing = shale(['pull', `${registry.host}/multi:1`, '--platform', 'linux/s390x'], { root: store });
  assert.match(assertRegistryError(missing, 'pull of a platform the index lacks'), /no image for platform linux\/s390x \(the index has linux\/amd64, linux\/arm64\/v8\)/);
});

test('pull by digest: the image is listed by its repository and digest (images --digests, as Docker), prune keeps it, a tag of it folds in', async (t) => {
  if (!needTools(t, 'registry')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry = await startRegistry(t, work);
  const base = busyboxBase(t, work, root, 'regtest/bydigest:1');
  const tagged = `${registry.host}/bydigest:1`;
  shaleOk(['tag', base.ref, tagged], { root });
  const { manifestDigest } = shaleJson<PushJson>(['push', tagged], { root });
  const repo = `${registry.host}/bydigest`;
  const byDigest = `${repo}@${manifestDigest}`;

  const store = tempStore(t);
  shaleOk(['pull', byDigest], { root: store });
  const rows = () => shaleJson<ImageRowJson[]>(['images'], { root: store }).map((r) => [r.repository, r.tag, r.digest, r.id]);
  assert.deepEqual(rows(), [[repo, '<none>', manifestDigest, base.id]]);
  const table = shaleOk(['images', '--digests'], { root: store }).stdout.split('\n');
  assert.match(table[0]!, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s/);
  assert.ok(table[1]!.startsWith(`${repo}   <none>   ${manifestDigest}   ${base.id.slice(7, 19)}`), table.join('\n'));
  assert.doesNotMatch(shaleOk(['images'], { root: store }).stdout, /DIGEST/, 'the column only with --digests');

  const pruned = shaleJson<{ deletedImages: string[]; deletedBlobs: string[] }>(['prune'], { root: store });
  assert.deepEqual([pruned.deletedImages, pruned.deletedBlobs], [[], []], 'prune keeps an image pulled by digest');
  assert.deepEqual(rows(), [[repo, '<none>', manifestDigest, base.id]]);
  assert.equal(shaleJson<{ id: string }>(['inspect', byDigest], { root: store }).id, base.id);
  assert.equal(shaleJson<{ ok: boolean }>(['fsck'], { root: store }).ok, true);

  // a tag of the same image in that repository is one row carrying the digest, as docker images --digests shows it
  shaleOk(['pull', tagged], { root: store });
  assert.deepEqual(rows(), [[repo, '1', manifestDigest, base.id]]);
  // removing the digest name leaves the tag; removing the tag then deletes the image
  assert.equal(shaleOk(['rmi', byDigest], { root: store }).stdout, `Untagged: ${byDigest}\n`);
  assert.deepEqual(rows(), [[repo, '1', manifestDigest, base.id]]);
});
