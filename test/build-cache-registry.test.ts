/**
 * The build cache shared through a registry (and an OCI layout directory): two stores are two CI machines.
 * The first builds and exports its cache (`--cache-to`); the second, cold but for the same base image, builds
 * with `--cache-from`, runs no RUN and gets the same image ID. Faults: a corrupted layer in the registry is
 * refused and its step runs; a registry killed during the export fails the build before the image is named.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { busyboxBase, shaleBuild, writeContext } from './support/build.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { assertCliError, assertErrorAfterProgress, shale, shaleOk, spawnShale, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';

let work = '';
let registry: TestRegistry;
let base = '';
let baseArchive = '';
// what the suite's set-up made, undone when the whole file is done
const cleanups: (() => unknown)[] = [];
const suite = { after: (fn: () => unknown) => void cleanups.push(fn) };
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

before(async () => {
  work = tempDir(suite, 'shale-cache-registry-');
  registry = await startRegistry(suite, work);
  const root = tempStore(suite);
  base = busyboxBase(suite, work, root, `shale-cache-${uniqueSuffix()}:base`).ref;
  baseArchive = join(work, 'base.tar');
  shaleOk(['save', '-o', baseArchive, base], { root });
});

/** A store holding only the base image (loaded from the same archive, so the same image ID): a fresh machine. */
function machine(t: Parameters<typeof tempStore>[0]): string {
  const root = tempStore(t);
  shaleOk(['load', '-i', baseArchive], { root });
  return root;
}

/** A build with plain progress; returns its ID and stderr (RUN output lines are `#N | ...`). */
function build(root: string, ctx: string, args: string[]): { id: string; log: string } {
  const { id, result } = shaleBuild(root, ctx, ['--progress', 'plain', ...args]);
  return { id, log: result.stderr };
}

/** The cache manifest and config the registry holds for `ref` (a tag of repository `repo`). */
async function cacheDocument(repo: string, tag: string): Promise<{ manifest: { config: { digest: string; mediaType: string }; layers: { digest: string; mediaType: string }[] }; config: { mode: string; records: { key: string; layer?: { digest: string } }[] } }> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(res.status, 200, `manifest ${repo}:${tag}`);
  const manifest = (await res.json()) as { config: { digest: string; mediaType: string }; layers: { digest: string; mediaType: string }[] };
  const config = JSON.parse(readFileSync(registry.blobPath(manifest.config.digest), 'utf8'));
  return { manifest, config };
}

const ran = (log: string, marker: string) => log.split('\n').some((l) => /^#\d+ \| /.test(l) && l.includes(marker));

test('a second store with --cache-from type=registry runs no RUN, fetches only the layers it needs, and gets the same image ID', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const ctx = writeContext(join(tempDir(t), 'ctx'), {
    Dockerfile: `FROM ${base}
RUN date +%s%N > /stamp && echo ran-one
COPY file /file
RUN cat /stamp /file > /both && echo ran-two
`,
    file: 'context file\n',
  });
  const ref = `${registry.host}/cache/simple:1`;
  const a = build(machine(t), ctx, ['--cache-to', `type=registry,ref=${ref}`]);
  assert.ok(ran(a.log, 'ran-one') && ran(a.log, 'ran-two'), a.log);
  const { manifest, config } = await cacheDocument('cache/simple', '1');
  assert.equal(manifest.config.mediaType, 'application/vnd.shale.build-cache.config.v1+json');
  assert.equal(config.records.length, 3, 'mode=min: the three steps of the final stage');
  assert.equal(manifest.layers.length, 3);
  assert.deepEqual(manifest.layers.map((l) => l.mediaType), Array(3).fill('application/vnd.oci.image.layer.v1.tar+gzip'), 'layers go up gzip-compressed');

  const rootB = machine(t);
  const b = build(rootB, ctx, ['--cache-from', `type=registry,ref=${ref}`, '-t', 'built:b']);
  assert.equal(b.id, a.id, 'the same image ID as the first machine');
  assert.ok(!ran(b.log, 'ran-one') && !ran(b.log, 'ran-two'), `no RUN ran:\n${b.log}`);
  assert.equal(b.log.split('\n').filter((l) => /^#\d+ CACHED$/.test(l)).length, 3, b.log);
  // the image is whole in store B: its layers are there (save reads and verifies every blob)
  shaleOk(['save', '-o', join(tempDir(t), 'b.tar'), 'built:b'], { root: rootB });
  // and the records are now B's own cache: without --cache-from it is still fully cached
  const again = build(rootB, ctx, []);
  assert.equal(again.id, a.id);
  assert.ok(!ran(again.log, 'ran-one'), again.log);

  // a bare reference is buildx's shorthand for type=registry
  const c = build(machine(t), ctx, ['--cache-from', ref]);
  assert.equal(c.id, a.id);

  // a cache that is not there is a warning, as BuildKit's: the build runs without it
  const cold = build(machine(t), ctx, ['--cache-from', `type=registry,ref=${registry.host}/cache/missing:1`]);
  assert.match(cold.log, /^warning: importing cache .*cache\/missing:1: .*building without it/m, cold.log);
  assert.ok(ran(cold.log, 'ran-one'), cold.log);
});

test('mode=min exports the final stage only, mode=max every stage; a layer no step needs is not downloaded', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const ctx = writeContext(join(tempDir(t), 'ctx'), {
    Dockerfile: `FROM ${base} AS builder
RUN busybox seq 1 100000 > /numbers && date +%s%N > /built && echo builder-ran
FROM ${base}
COPY --from=builder /built /built
RUN cat /built > /copy && echo final-ran
`,
  });
  const min = `${registry.host}/cache/stages:min`;
  const max = `${registry.host}/cache/stages:max`;
  const a = build(machine(t), ctx, ['--cache-to', `type=registry,ref=${min}`, '--cache-to', `type=registry,ref=${max},mode=max`]);
  const docMin = await cacheDocument('cache/stages', 'min');
  const docMax = await cacheDocument('cache/stages', 'max');
  assert.equal(docMin.config.records.length, 2, 'min: COPY and RUN of the final stage');
  assert.equal(docMax.config.records.length, 3, 'max: the builder stage too');
  const builderLayer = docMax.config.records.find((r) => !docMin.config.records.some((m) => m.key === r.key))!.layer!.digest;

  // min: the builder's RUN runs again (its record is not exported), yet the COPY --from is keyed by the
  // builder's step key, not its content, so the final stage is reused and the image ID is the same
  const bMin = build(machine(t), ctx, ['--cache-from', `type=registry,ref=${min}`]);
  assert.ok(ran(bMin.log, 'builder-ran'), bMin.log);
  assert.ok(!ran(bMin.log, 'final-ran'), bMin.log);
  assert.equal(bMin.id, a.id);

  const rootMax = machine(t);
  const bMax = build(rootMax, ctx, ['--cache-from', `type=registry,ref=${max}`]);
  assert.ok(!ran(bMax.log, 'builder-ran') && !ran(bMax.log, 'final-ran'), bMax.log);
  assert.equal(bMax.id, a.id);
  assert.ok(!existsSync(join(rootMax, 'blobs', 'sha256', builderLayer.slice(7))), 'the builder stage\'s layer, which no step ran on, was not downloaded');
});

test('type=local round trip: an OCI layout with the step records, and the cache mounts as plain directories', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const ctx = writeContext(join(tempDir(t), 'ctx'), {
    Dockerfile: `FROM ${base}
RUN --mount=type=cache,target=/cache date +%s%N > /cache/seen && date +%s%N > /stamp && echo ran-local
`,
  });
  const dir = join(tempDir(t), 'cache-dir');
  // the store holds another build's cache mount: only the mounts of the build that exports go with it
  const rootA = machine(t);
  const other = writeContext(join(tempDir(t), 'other'), { Dockerfile: `FROM ${base}\nRUN --mount=type=cache,id=other,target=/c touch /c/other\n` });
  build(rootA, other, []);
  const a = build(rootA, ctx, ['--cache-to', `type=local,dest=${dir},mode=max`]);
  assert.ok(existsSync(join(dir, 'oci-layout')));
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
  assert.equal(index.manifests[0]!.annotations['org.opencontainers.image.ref.name'], 'latest');
  const mounts = readdirSync(join(dir, 'cache-mounts'));
  assert.equal(mounts.length, 1, `only this build's mount: ${mounts.join(', ')}`);
  assert.equal(readFileSync(join(dir, 'cache-mounts', mounts[0]!, 'id'), 'utf8').trim(), '/cache', 'the mount is named by its id (the target when no id=)');
  const seen = readFileSync(join(dir, 'cache-mounts', mounts[0]!, 'instance-0', 'seen'), 'utf8');

  const rootB = machine(t);
  const b = build(rootB, ctx, ['--cache-from', `type=local,src=${dir}`]);
  assert.equal(b.id, a.id);
  assert.ok(!ran(b.log, 'ran-local'), b.log);
  assert.equal(readFileSync(join(rootB, 'shale', 'cache-mounts', mounts[0]!, 'instance-0', 'seen'), 'utf8'), seen, 'the cache mount came with it');
});

test('a corrupted cache layer in the registry is refused with a warning and its step runs; the build succeeds', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const ctx = writeContext(join(tempDir(t), 'ctx'), {
    Dockerfile: `FROM ${base}
RUN date +%s%N > /stamp && echo ran-first
RUN echo second > /second && echo ran-second
`,
  });
  const ref = `${registry.host}/cache/corrupt:1`;
  const a = build(machine(t), ctx, ['--cache-to', `type=registry,ref=${ref}`]);
  const { config } = await cacheDocument('cache/corrupt', '1');
  const first = config.records[0]!.layer!.digest;
  const path = registry.blobPath(first);
  const bytes = readFileSync(path);
  const at = Math.floor(bytes.length / 2); // the layer goes up gzip-compressed: a few hundred bytes
  bytes[at] = bytes[at]! ^ 0xff; // same size, another digest
  writeFileSync(path, bytes);

  const rootB = machine(t);
  const b = build(rootB, ctx, ['--cache-from', `type=registry,ref=${ref}`, '-t', 'corrupt:b']);
  assert.match(b.log, new RegExp(`warning: .*${first}.*refused, running the step instead`), b.log);
  assert.ok(ran(b.log, 'ran-first'), `the step whose layer was refused ran:\n${b.log}`);
  assert.ok(!ran(b.log, 'ran-second'), b.log);
  assert.notEqual(b.id, a.id, 'its new /stamp makes another layer');
  assert.equal(shaleOk(['run', '--rm', 'corrupt:b', 'cat', '/second'], { root: rootB }).stdout.trim(), 'second');
});

test('a registry killed during the cache export fails the build (exit 2) before the image is named', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const ctx = writeContext(join(tempDir(t), 'ctx'), {
    Dockerfile: `FROM ${base}
RUN busybox dd if=/dev/urandom of=/big bs=1M count=96 2>/dev/null
`,
  });
  const root = machine(t);
  const before = shaleOk(['images', '--format', 'json'], { root }).stdout;
  const child = spawnShale(['build', '--progress', 'plain', '-t', 'killed:1', '--cache-to', `type=registry,ref=${registry.host}/cache/killed:1`, ctx], { root, env: { SHALE_REGISTRY_RETRIES: '2' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const uploads = join(registry.dataDir, 'docker', 'registry', 'v2', 'repositories', 'cache', 'killed', '_uploads');
  const deadline = Date.now() + 60_000;
  while (!existsSync(uploads) || readdirSync(uploads).length === 0) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `the upload never started:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  await registry.kill();
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = assertErrorAfterProgress({ status, signal: null, stdout, stderr }, 'build --cache-to to a killed registry');
  assert.match(line, /exporting cache to .*cache\/killed:1/);
  assert.equal(shaleOk(['images', '--format', 'json'], { root }).stdout, before, 'no image was named');
  await registry.start();
});

test('cache specs: unknown types and keys are refused (exit 2), the store unchanged', (t) => {
  const root = machine(t);
  const ctx = writeContext(join(tempDir(t), 'ctx'), { Dockerfile: `FROM ${base}\nRUN true\n` });
  const before = readdirSync(join(root, 'blobs', 'sha256')).sort();
  const cases: [string[], RegExp][] = [
    [['--cache-to', 'type=gha'], /cache type "gha" is not supported/],
    [['--cache-from', 'type=s3,region=x'], /cache type "s3" is not supported/],
    [['--cache-to', 'type=inline'], /cache type "inline" is not supported/],
    [['--cache-to', 'type=nope,ref=x'], /unknown cache type "nope"/],
    [['--cache-to', `type=registry,ref=${registry.host}/c:1,compression=zstd`], /does not take compression/],
    [['--cache-to', `type=registry,ref=${registry.host}/c:1,mode=all`], /mode must be min or max/],
    [['--cache-to', 'type=local'], /type=local needs dest=DIR/],
    [['--cache-from', 'type=local,dest=/tmp/x'], /does not take dest/],
    [['--cache-to', 'somewhere'], /expected type=registry/],
  ];
  for (const [args, message] of cases) {
    const r = shale(['build', ...args, ctx], { root });
    assert.match(assertCliError(r, args.join(' ')), message);
  }
  assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')).sort(), before);
});
