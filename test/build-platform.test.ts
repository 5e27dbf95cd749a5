/**
 * Platforms in builds: `build --platform linux/arm64` with RUN steps under binfmt_misc emulation, compared
 * with Docker 26's `docker buildx build --platform linux/arm64 --load` on the same arm64 base (layers,
 * file contents, config platform, the platform args RUN sees and records); a platform nothing can run here
 * refused; the FROM --platform=$BUILDPLATFORM pattern running natively beside an emulated stage; FROM pulled
 * from a registry for the build's platform (a multi-platform index picks the manifest), `--pull` re-resolving,
 * and the pulled manifest digest recorded in the base annotations.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decompress } from '../src/layer/index.js';
import { BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION } from '../src/oci/index.js';
import { arm64BusyboxBase, requireArm64Emulation } from './support/arm64-base.js';
import { busyboxBase, layerListing, shaleBuild, shaleImageLayers, writeContext, type ImageConfigJson, type LayerListing } from './support/build.js';
import { docker26Cleanup, docker26Ok, requireDocker26, type Docker26 } from './support/docker26.js';
import { startRegistry } from './support/registry.js';
import { shale, shaleJson, shaleOk, tempDir, tempStore } from './support/shale.js';
import { requireTool } from './support/tools.js';

interface Inspected {
  manifest: { annotations?: Record<string, string> };
  config: ImageConfigJson & { architecture: string; os: string; variant?: string };
}

/** Docker 26's `docker save` of one image, read back: config and per-layer listings (oldest first). */
async function docker26Saved(d: Docker26, ref: string): Promise<{ config: Inspected['config']; layers: LayerListing[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'shale-saved26-'));
  try {
    docker26Ok(d, ['save', '-o', join(dir, 'image.tar'), ref]);
    execFileSync('tar', ['-C', dir, '-xf', join(dir, 'image.tar')]);
    const [m] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
    const layers: LayerListing[] = [];
    for (const l of m!.Layers) layers.push(await layerListing(decompress(createReadStream(join(dir, l)), { what: l }), l));
    return { config: JSON.parse(readFileSync(join(dir, m!.Config), 'utf8')) as Inspected['config'], layers };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One file of an image's root filesystem, through `shale export`. */
function shaleFile(root: string, ref: string, path: string, work: string): string {
  const tar = join(work, `export-${randomBytes(4).toString('hex')}.tar`);
  shaleOk(['export', ref, '-o', tar], { root });
  try {
    return execFileSync('tar', ['-xOf', tar, path], { encoding: 'utf8' });
  } finally {
    rmSync(tar, { force: true });
  }
}

/** The `K=V` build args a RUN history entry records (`|N K=V ... cmd`), as a sorted list. */
const recordedArgs = (createdBy: string): string[] => {
  const m = /\|(\d+) (.*)$/.exec(createdBy);
  if (!m) return [];
  return m[2]!.split(' ').slice(0, Number(m[1])).sort();
};

test('platforms: build --platform, emulated RUN, FROM pulls', async (t) => {
  if (!requireTool(t, 'runc') || !requireArm64Emulation(t)) return;
  const d = requireDocker26(t);
  if (!d) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const suffix = randomBytes(4).toString('hex');
  const armRef = `shale-platform-${suffix}:arm64`;
  await arm64BusyboxBase(work, root, armRef);
  const amdRef = busyboxBase(t, join(work, 'amd64'), root, `shale-platform-${suffix}:amd64`).ref;

  await t.test('linux/arm64 with RUN steps: the same layers, files, config platform and args as Docker 26', async () => {
    const cleanup = docker26Cleanup(t, d);
    const archive = join(work, 'arm64-base.tar');
    shaleOk(['save', '-o', archive, armRef], { root });
    cleanup(armRef);
    docker26Ok(d, ['load', '-i', archive]);
    const ctx = writeContext(join(work, 'ctx-arm64'), {
      Dockerfile: [
        `FROM ${armRef}`,
        'ARG TARGETPLATFORM TARGETARCH TARGETVARIANT BUILDPLATFORM',
        'RUN uname -m > /arch && echo "$TARGETPLATFORM $TARGETARCH [$TARGETVARIANT] $BUILDPLATFORM" > /platform',
        'COPY file /file',
        '',
      ].join('\n'),
      file: 'data\n',
    });
    const tag = `shale-platform-${suffix}:built`;
    shaleBuild(root, ctx, ['--platform', 'linux/arm64/v8', '-t', tag]);
    cleanup(tag);
    docker26Ok(d, ['buildx', 'build', '--network', 'host', '--load', '--platform', 'linux/arm64/v8', '-t', tag, ctx]);

    assert.equal(shaleFile(root, tag, 'arch', work), 'aarch64\n', 'RUN ran the arm64 busybox');
    assert.equal(shaleFile(root, tag, 'platform', work), 'linux/arm64 arm64 [] linux/amd64\n');
    const mine = shaleJson<Inspected>(['inspect', tag], { root }).config;
    const theirs = await docker26Saved(d, tag);
    for (const c of [mine, theirs.config]) assert.deepEqual([c.os, c.architecture, c.variant], ['linux', 'arm64', undefined]);
    assert.deepEqual(await shaleImageLayers(root, tag), theirs.layers, 'the same layers, entry by entry');
    const run = (c: ImageConfigJson) => c.history.find((h) => h.created_by?.includes('uname -m'))!.created_by!;
    assert.deepEqual(recordedArgs(run(mine)), recordedArgs(run(theirs.config)));
    assert.deepEqual(recordedArgs(run(mine)), ['BUILDPLATFORM=linux/amd64', 'TARGETARCH=arm64', 'TARGETPLATFORM=linux/arm64', 'TARGETVARIANT=']);
  });

  await t.test('FROM --platform=$BUILDPLATFORM runs natively in a build for arm64; the next stage runs arm64', () => {
    const ctx = writeContext(join(work, 'ctx-cross'), {
      Dockerfile: [
        `FROM --platform=$BUILDPLATFORM ${amdRef} AS build`,
        'ARG TARGETARCH',
        'RUN echo "$(uname -m) for $TARGETARCH" > /made',
        `FROM ${armRef}`,
        'COPY --from=build /made /made',
        'RUN uname -m >> /made',
        '',
      ].join('\n'),
    });
    shaleBuild(root, ctx, ['--platform', 'linux/arm64', '-t', 'cross:1']);
    assert.equal(shaleFile(root, 'cross:1', 'made', work), 'x86_64 for arm64\naarch64\n');
    assert.equal(shaleJson<Inspected>(['inspect', 'cross:1'], { root }).config.architecture, 'arm64');
  });

  await t.test('a platform nothing here can run is refused at its first RUN, naming it', () => {
    // scratch is the target platform's, so the build gets as far as the RUN
    const ctx = writeContext(join(work, 'ctx-windows'), { Dockerfile: 'FROM scratch\nCOPY sh /bin/sh\nRUN true\n', sh: { content: readFileSync('/bin/busybox'), mode: 0o755 } });
    const r = shale(['build', '--platform', 'windows/amd64', ctx], { root });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^error: Dockerfile:3: RUN for windows\/amd64 needs a windows kernel/m);
    const bad = shale(['build', '--platform', 'linux/', ctx], { root });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^error: invalid platform "linux\/"/m);
  });

  await t.test('FROM pulls from a registry for the platform; an index picks the manifest; --pull re-resolves', async () => {
    const registry = await startRegistry(t, join(work, 'registry'));
    const host = registry.host;
    const push = (ref: string, to: string) => {
      shaleOk(['tag', ref, to], { root });
      return shaleJson<{ manifestDigest: string }>(['push', to], { root }).manifestDigest;
    };
    const armDigest = push(armRef, `${host}/multi:arm64`);
    const amdDigest = push(amdRef, `${host}/multi:amd64`);
    const sizeOf = async (digest: string) =>
      (await (await fetch(`http://${host}/v2/multi/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).arrayBuffer()).byteLength;
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amdDigest, size: await sizeOf(amdDigest), platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: armDigest, size: await sizeOf(armDigest), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    };
    const put = await fetch(`http://${host}/v2/multi/manifests/1`, {
      method: 'PUT',
      headers: { 'content-type': index.mediaType },
      body: JSON.stringify(index),
    });
    assert.equal(put.status, 201, await put.text());

    const fresh = tempStore(t);
    const ctx = writeContext(join(work, 'ctx-pull'), { Dockerfile: `FROM ${host}/multi:1\nRUN uname -m > /arch\n` });
    const base = (ref: string) => shaleJson<Inspected>(['inspect', ref], { root: fresh }).manifest.annotations ?? {};
    const arm = shaleBuild(fresh, ctx, ['--platform', 'linux/arm64', '-t', 'pulled:arm64']);
    assert.match(arm.result.stderr, /downloading/, 'the base was pulled');
    assert.equal(base('pulled:arm64')[BASE_DIGEST_ANNOTATION], armDigest);
    assert.equal(base('pulled:arm64')[BASE_NAME_ANNOTATION], `${host}/multi:1`);
    assert.equal(shaleFile(fresh, 'pulled:arm64', 'arch', work), 'aarch64\n');
    // the store now holds the arm64 image under that name: a build for this machine pulls the amd64 one
    shaleBuild(fresh, ctx, ['-t', 'pulled:amd64']);
    assert.equal(base('pulled:amd64')[BASE_DIGEST_ANNOTATION], amdDigest);
    assert.equal(shaleFile(fresh, 'pulled:amd64', 'arch', work), 'x86_64\n');

    // the tag moves to the arm64 manifest alone: a stored match is used as it is, --pull asks the registry again
    const moved = await fetch(`http://${host}/v2/multi/manifests/1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: await (await fetch(`http://${host}/v2/multi/manifests/${armDigest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).arrayBuffer(),
    });
    assert.equal(moved.status, 201);
    const cached = shaleBuild(fresh, ctx, ['-t', 'again:1']);
    assert.doesNotMatch(cached.result.stderr, /downloading|already there/, 'no registry access without --pull');
    assert.equal(base('again:1')[BASE_DIGEST_ANNOTATION], amdDigest);
    const refused = shale(['build', '--pull', ctx], { root: fresh });
    assert.equal(refused.status, 2, 'the registry now has only arm64 under the tag');
    assert.match(refused.stderr, /^error: Dockerfile:1: FROM .*multi:1: pulling it for linux\/amd64 failed: .*multi:1 \(image sha256:\w+\) does not match the specified platform: wanted linux\/amd64, actual: linux\/arm64$/m);
    const repulled = shaleBuild(fresh, ctx, ['--pull', '--platform', 'linux/arm64', '-t', 'again:2']);
    assert.match(repulled.result.stderr, /already there/);
    assert.equal(base('again:2')[BASE_DIGEST_ANNOTATION], armDigest);
  });
});
