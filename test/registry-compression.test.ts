/**
 * Compressed layers against a real registry (Debian's docker-registry): shale pushes gzip and zstd that
 * Docker 20.10 (gzip only), Docker 26 and skopeo read with the digests shale printed; images skopeo pushed
 * compressed come back through shale pull and go out again unchanged; a copy is compressed once and
 * remembered; the registry killed mid-push leaves the store as it was.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { busyboxBase } from './support/build.js';
import { docker, dockerCleanup, dockerImageId, dockerOk } from './support/docker.js';
import { docker26Cleanup, docker26Ok, requireDocker26 } from './support/docker26.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { assertCliError, assertErrorAfterProgress, shale, shaleJson, shaleOk, spawnShale, tempDir, tempStore } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { defaultCompressionLevel } from '../src/layer/index.js';

interface PushJson {
  manifestDigest: string;
  mediaType: string;
  uploadedBytes: number;
  blobs: { kind: string; digest: string; size: number; action: 'uploaded' | 'exists' | 'mounted'; compressed?: boolean; diffId?: string }[];
}
interface PullJson {
  manifestDigest: string;
  id: string;
  blobs: { digest: string; action: string }[];
}
interface ManifestDoc {
  mediaType: string;
  config: { mediaType: string; digest: string };
  layers: { mediaType: string; digest: string; size: number }[];
}

const skopeoDigest = (ref: string): string =>
  (JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as { Digest: string }).Digest;
const rawManifest = (ref: string): ManifestDoc => JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as ManifestDoc;
const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const records = (root: string): string[] => (existsSync(join(root, 'shale', 'compressed-layers')) ? readdirSync(join(root, 'shale', 'compressed-layers')).sort() : []);
const blobList = (root: string): string[] => readdirSync(join(root, 'blobs', 'sha256')).sort();

function needTools(t: TestContext, ...tools: ('docker' | 'skopeo' | 'registry')[]): boolean {
  return tools.every((tool) => requireTool(t, tool));
}

/** A busybox image with 6 MB of compressible text in a second file: several 1 MiB gzip members. */
function textImage(t: TestContext, work: string, root: string, ref: string) {
  return busyboxBase(t, work, root, ref, {
    extra: (rootfs) => {
      const lines: string[] = [];
      let length = 0;
      for (let i = 0; length < 12 << 20; i++) {
        const line = `line ${i} ${(i * 7919) % 104729} ${randomBytes(6).toString('hex')}\n`;
        lines.push(line);
        length += line.length;
      }
      writeFileSync(join(rootfs, 'numbers.txt'), lines.join(''));
    },
  });
}

test('shale push gzip and zstd: Docker 20.10 (gzip), Docker 26 and skopeo read them with the digest shale printed; the copy is made once', async (t) => {
  if (!needTools(t, 'registry', 'docker', 'skopeo')) return;
  const d26 = requireDocker26(t);
  if (!d26) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry = await startRegistry(t, work);
  const base = textImage(t, work, root, 'comptest/base:1');
  const stored = shaleJson<{ manifest: ManifestDoc; config: { rootfs: { diff_ids: string[] } } }>(['inspect', base.ref], { root });
  const diffId = stored.config.rootfs.diff_ids[0]!;
  assert.equal(stored.manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar', 'stored uncompressed');

  // gzip by default
  const gz = `${registry.host}/comp:gzip`;
  shaleOk(['tag', base.ref, gz], { root });
  const pushed = shaleJson<PushJson>(['push', gz], { root });
  const layer = pushed.blobs.find((b) => b.kind === 'layer')!;
  assert.equal(layer.compressed, true);
  assert.equal(layer.diffId, diffId);
  assert.notEqual(pushed.manifestDigest, stored.manifest.config.digest);
  const m = rawManifest(gz);
  assert.equal(m.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  assert.equal(m.layers[0]!.digest, layer.digest);
  assert.equal(skopeoDigest(gz), pushed.manifestDigest);
  // the registry's blob is one valid gzip stream of several members, and decompresses to the diffId
  const blob = readFileSync(registry.blobPath(layer.digest));
  assert.equal(blob.length, layer.size);
  execFileSync('gzip', ['-t'], { input: blob });
  assert.equal(sha256(execFileSync('gzip', ['-dc'], { input: blob, maxBuffer: 64 << 20 })), diffId);
  assert.ok(blob.indexOf(Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]), 10) > 0, 'more than one gzip member (the layer is over 12 MiB, members are at most 8 MiB)');
  // remembered: a record beside the store's other records, and fsck is content
  assert.deepEqual(records(root), [`${diffId.slice(7)}.gzip-${defaultCompressionLevel('gzip')}.json`]);
  assert.equal(shaleJson<{ ok: boolean }>(['fsck'], { root }).ok, true);

  // a second push (another tag) compresses nothing: the remembered copy is already there
  const gz2 = `${registry.host}/comp:gzip-again`;
  shaleOk(['tag', base.ref, gz2], { root });
  const again = shaleJson<PushJson>(['push', gz2], { root });
  assert.equal(again.uploadedBytes, 0);
  assert.ok(again.blobs.every((b) => b.action === 'exists' && b.compressed === undefined), JSON.stringify(again.blobs));
  assert.equal(again.manifestDigest, pushed.manifestDigest);

  // zstd: OCI media type; a different level is another copy
  const zs = `${registry.host}/comp:zstd`;
  shaleOk(['tag', base.ref, zs], { root });
  const z = shaleJson<PushJson>(['push', '--compression', 'zstd', '--compression-level', '5', zs], { root });
  const zLayer = z.blobs.find((b) => b.kind === 'layer')!;
  assert.equal(zLayer.compressed, true);
  assert.equal(rawManifest(zs).layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  assert.equal(skopeoDigest(zs), z.manifestDigest);
  assert.equal(sha256(execFileSync('zstd', ['-dc'], { input: readFileSync(registry.blobPath(zLayer.digest)), maxBuffer: 64 << 20 })), diffId);
  assert.deepEqual(records(root), [`${diffId.slice(7)}.gzip-${defaultCompressionLevel('gzip')}.json`, `${diffId.slice(7)}.zstd-5.json`]);

  // Docker 20.10: gzip yes, zstd no (its layer store reads the zstd blob as a tar)
  const cleanup = dockerCleanup(t);
  // zstd layers came with Docker 23: 20.10 takes the blob for a tar and fails (tried first: with the image
  // already there from the gzip pull, it would download no layer)
  cleanup.image(zs);
  const old = docker(['pull', zs]);
  assert.notEqual(old.status, 0, 'Docker 20.10 cannot pull zstd layers');
  assert.match(old.stderr, /invalid tar header/);
  cleanup.image(gz);
  dockerOk(['pull', gz]);
  assert.equal(dockerImageId(gz), base.id);
  assert.match(dockerOk(['image', 'inspect', '--format', '{{json .RepoDigests}}', gz]), new RegExp(pushed.manifestDigest));

  // Docker 26: both, same image ID and digest
  const c26 = docker26Cleanup(t, d26);
  for (const [ref, digest] of [[gz, pushed.manifestDigest], [zs, z.manifestDigest]] as const) {
    c26(ref);
    docker26Ok(d26, ['pull', ref]);
    assert.equal(docker26Ok(d26, ['image', 'inspect', '--format', '{{.Id}}', ref]).trim(), base.id);
    assert.match(docker26Ok(d26, ['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]), new RegExp(digest));
  }
  // skopeo copy to an OCI layout keeps the digests
  for (const [ref, digest] of [[gz, pushed.manifestDigest], [zs, z.manifestDigest]] as const) {
    const layout = join(work, `layout-${digest.slice(7, 15)}`);
    execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:x`], { stdio: 'ignore' });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, digest);
  }

  // shale pulls the gzip image into a fresh store: same digest and ID; images shows the transfer size
  const other = tempStore(t);
  const pulled = shaleJson<PullJson>(['pull', gz], { root: other });
  assert.equal(pulled.manifestDigest, pushed.manifestDigest);
  assert.equal(pulled.id, base.id);
  const rows = shaleJson<{ tag: string; size: number; compressedSize: number | null }[]>(['images', '--format', 'json'], { root: other });
  assert.equal(rows[0]!.compressedSize, layer.size);
  assert.ok(rows[0]!.size > layer.size);
  // the pushing store knows the size of its remembered copy too
  const mine = shaleJson<{ tag: string; compressedSize: number | null }[]>(['images', '--format', 'json'], { root });
  assert.ok(mine.every((r) => r.compressedSize === layer.size), JSON.stringify(mine));
  assert.match(shaleOk(['images'], { root }).stdout.split('\n')[0]!, /COMPRESSED/);
});

test('images skopeo pushed compressed (gzip, zstd) come back through shale pull and go out again as they are', async (t) => {
  if (!needTools(t, 'registry', 'skopeo')) return;
  const work = tempDir(t);
  const seed = tempStore(t);
  const registry = await startRegistry(t, work);
  busyboxBase(t, work, seed, 'comptest/skopeo:1');
  shaleOk(['save', '--format', 'oci-archive', '-o', join(work, 'img.tar'), 'comptest/skopeo:1'], { root: seed });
  for (const format of ['gzip', 'zstd']) {
    const ref = `${registry.host}/sk-${format}:1`;
    execFileSync('skopeo', ['copy', '--dest-tls-verify=false', '--dest-compress', '--dest-compress-format', format, `oci-archive:${join(work, 'img.tar')}`, `docker://${ref}`], { stdio: 'ignore' });
    const digest = skopeoDigest(ref);
    const root = tempStore(t);
    const pulled = shaleJson<PullJson>(['pull', ref], { root });
    assert.equal(pulled.manifestDigest, digest);
    const copy = `${registry.host}/sk-${format}:copy`;
    shaleOk(['tag', ref, copy], { root });
    // the default (gzip) does not recompress: zstd layers stay zstd, nothing goes up but the manifest
    const pushed = shaleJson<PushJson>(['push', copy], { root });
    assert.equal(pushed.uploadedBytes, 0);
    assert.ok(pushed.blobs.every((b) => b.action === 'exists' && !b.compressed), JSON.stringify(pushed.blobs));
    assert.equal(pushed.manifestDigest, digest);
    assert.equal(skopeoDigest(copy), digest);
    assert.deepEqual(records(root), []);
    // the transfer size of a pulled image is its blobs'
    const layers = rawManifest(ref).layers.reduce((n, l) => n + l.size, 0);
    const df = shaleJson<{ images: { compressedSize: number | null } }>(['df', '--format', 'json'], { root });
    assert.equal(df.images.compressedSize, layers);
  }
});

test('save --compression and build -o compression=: archives Docker loads; bad values are refused with exit 2 and nothing written', async (t) => {
  if (!needTools(t, 'docker', 'skopeo')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const base = busyboxBase(t, work, root, `comptest/save:${process.pid}`);
  const before = blobList(root);
  for (const args of [
    ['push', '--compression', 'brotli', '127.0.0.1:1/x:1'],
    ['push', '--compression', 'gzip', '--compression-level', '12', '127.0.0.1:1/x:1'],
    ['push', '--compression', 'none', '--compression-level', '3', '127.0.0.1:1/x:1'],
    ['save', '--compression', 'lz4', '-o', join(work, 'bad.tar'), base.ref],
    ['save', '--compression', 'zstd', '--compression-level', '0', '-o', join(work, 'bad.tar'), base.ref],
  ]) {
    const r = shale(args, { root });
    assert.match(assertCliError(r, args.join(' ')), /compression/);
  }
  assert.equal(existsSync(join(work, 'bad.tar')), false);
  assert.deepEqual(blobList(root), before);
  assert.deepEqual(records(root), []);

  // docker-archive with gzip layers: Docker loads it under the same ID
  const archive = join(work, 'gz.tar');
  shaleOk(['save', '--compression', 'gzip', '-o', archive, base.ref], { root });
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' })) as { Layers: string[] }[];
  const layerFile = execFileSync('tar', ['-xOf', archive, manifest[0]!.Layers[0]!], { maxBuffer: 64 << 20 });
  execFileSync('gzip', ['-t'], { input: layerFile });
  dockerCleanup(t).image(base.ref);
  docker(['rmi', base.ref]);
  dockerOk(['load', '-i', archive]);
  assert.equal(dockerImageId(base.ref), base.id);
  // oci-archive with zstd layers: skopeo reads it; the copy was remembered, a gzip one reused
  const oci = join(work, 'zstd.oci.tar');
  shaleOk(['save', '--format', 'oci-archive', '--compression', 'zstd', '-o', oci, base.ref], { root });
  const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci-archive:${oci}`], { encoding: 'utf8' })) as ManifestDoc;
  assert.equal(inspected.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  assert.equal(records(root).length, 2);
  assert.equal(shaleJson<{ ok: boolean }>(['fsck'], { root }).ok, true);

  // build outputs take BuildKit's keys; unknown values are refused before anything is built
  const ctx = join(work, 'ctx');
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${base.ref}\nRUN true\n`);
  for (const spec of ['type=oci,dest=x.tar,compression=lz4', 'type=docker,dest=x.tar,compression=gzip,compression-level=10', 'type=oci,dest=x.tar,force-compression=true']) {
    assertCliError(shale(['build', '-o', spec, ctx], { root }), spec);
  }
  const out = join(work, 'built.oci.tar');
  shaleOk(['build', '-o', `type=oci,dest=${out},compression=gzip,compression-level=9`, ctx], { root });
  const built = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci-archive:${out}`], { encoding: 'utf8' })) as ManifestDoc;
  assert.ok(built.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip'), JSON.stringify(built.layers));
});

test('faults: the registry killed mid-push leaves the store as it was; a rerun compresses and pushes; prune drops the copy with its layer', async (t) => {
  if (!needTools(t, 'registry')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry: TestRegistry = await startRegistry(t, work);
  busyboxBase(t, work, root, 'comptest/big:1', {
    extra: (rootfs) => writeFileSync(join(rootfs, 'random.bin'), randomBytes(40 << 20)),
  });
  const ref = `${registry.host}/big:1`;
  shaleOk(['tag', 'comptest/big:1', ref], { root });
  const before = { blobs: blobList(root), images: shaleOk(['images', '--format', 'json'], { root }).stdout };

  const env = { SHALE_REGISTRY_RETRIES: '2' };
  const child = spawnShale(['push', ref], { root, env });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  const started = new Promise<void>((resolve) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (/layer \w+: \d.*MB of/.test(stderr)) resolve();
    });
  });
  const status = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await Promise.race([started, status]);
  await registry.kill();
  assertErrorAfterProgress({ status: await status, signal: null, stdout, stderr }, 'push with the registry killed');
  assert.deepEqual(blobList(root), before.blobs, 'no copy committed');
  assert.deepEqual(records(root), []);
  assert.equal(shaleOk(['images', '--format', 'json'], { root }).stdout, before.images);
  const ingest = join(root, 'shale', 'ingest');
  assert.deepEqual(existsSync(ingest) ? readdirSync(ingest).filter((n) => !n.startsWith('owner-')) : [], [], 'no temp file left');

  await registry.start();
  const pushed = shaleJson<PushJson>(['push', ref], { root, env });
  const layer = pushed.blobs.find((b) => b.kind === 'layer')!;
  assert.equal(layer.compressed, true);
  assert.equal(records(root).length, 1);
  assert.ok(blobList(root).includes(layer.digest.slice(7)));
  assert.equal(skopeoDigest(ref), pushed.manifestDigest);

  // prune keeps the copy while its layer is in an image, and drops both with the image
  shaleOk(['prune'], { root });
  assert.ok(blobList(root).includes(layer.digest.slice(7)));
  shaleOk(['rmi', ref, 'comptest/big:1'], { root });
  shaleOk(['prune'], { root });
  assert.equal(blobList(root).includes(layer.digest.slice(7)), false);
  assert.deepEqual(records(root), []);
  assert.equal(shaleJson<{ ok: boolean }>(['fsck'], { root }).ok, true);
});
