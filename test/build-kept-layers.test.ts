/**
 * A build tars only the layers of the image it writes: a stage the image only copies from keeps its
 * steps as snapshots, with no blob, and still serves the cache; built later as a target, those steps are
 * cached and their layers are made then; `prune --build-cache` removes the snapshots no image holds.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createReadStream } from 'node:fs';
import { decompress } from '../src/layer/index.js';
import { assertNoLeftovers, buildEvents, busyboxBase, layerListing, shaleBuild, writeContext } from './support/build.js';
import { shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';

/** The paths each layer blob of the store holds (configs and manifests left out). */
async function blobPaths(root: string): Promise<Map<string, string[]>> {
  const dir = join(root, 'blobs', 'sha256');
  const out = new Map<string, string[]>();
  for (const hex of readdirSync(dir)) {
    if (readFileSync(join(dir, hex)).subarray(0, 1).toString() === '{') continue;
    const listing = await layerListing(decompress(createReadStream(join(dir, hex)), { what: hex }), hex);
    out.set(hex, listing.map((l) => l.split(' ')[4] ?? ''));
  }
  return out;
}

const holding = (blobs: Map<string, string[]>, path: string): string[] => [...blobs].filter(([, paths]) => paths.some((p) => p.startsWith(path))).map(([hex]) => hex);

/** The kept snapshots in the store: `kept-*` names, and those a stored layer adopted (a diffId name links to them). */
function keptLayers(root: string): { all: string[]; adopted: string[] } {
  const dir = join(root, 'shale', 'snapshots', 'layers');
  const names = readdirSync(dir);
  const all = names.filter((n) => n.startsWith('kept-'));
  const adopted = names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => { try { return readlinkSync(join(dir, n)); } catch { return ''; } }).filter((t) => all.includes(t));
  return { all: all.sort(), adopted: [...new Set(adopted)].sort() };
}

test('a stage the image only copies from makes no blob, serves the cache, and gets its layer when built as the target', { timeout: 180_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const base = busyboxBase(t, work, root, `shale-kept-${uniqueSuffix()}:base`).ref;
  const ctx = writeContext(join(work, 'ctx'), {
    Dockerfile: `FROM ${base} AS builder
RUN busybox seq 1 200000 > /numbers && echo built > /marker
FROM ${base}
COPY --from=builder /marker /
`,
  });
  const first = shaleBuild(root, ctx, ['--progress', 'json']);
  let blobs = await blobPaths(root);
  assert.equal(holding(blobs, 'marker').length, 1, 'the COPY layer is stored');
  assert.deepEqual(holding(blobs, 'numbers'), [], 'the builder stage, not in the image, made no blob');
  const keptAfterFirst = keptLayers(root);
  assert.equal(keptAfterFirst.all.length, 2, 'both steps are kept as snapshots');
  assert.equal(keptAfterFirst.adopted.length, 1, 'the image\'s layer is the unpacked form of its stored blob');

  const again = shaleBuild(root, ctx, ['--progress', 'json']);
  assert.equal(again.id, first.id, 'a rebuild is fully cached');
  assert.equal(buildEvents(again.result.stderr).filter((e) => e.type === 'cached').length, 2);

  // a step over a kept layer with the copy snapshotter, which cannot stack one: the layer is stored first
  const more = writeContext(join(work, 'more'), {
    Dockerfile: `FROM ${base} AS builder\nRUN busybox seq 1 200000 > /numbers && echo built > /marker\nRUN busybox wc -l /numbers > /count\n`,
  });
  const copied = shaleBuild(root, more, ['--progress', 'json', '--snapshotter', 'copy']);
  assert.equal(buildEvents(copied.result.stderr).filter((e) => e.type === 'cached').length, 1, 'the first RUN comes from the cache');
  assert.equal(shaleOk(['run', '--rm', copied.id, 'cat', '/count'], { root }).stdout.trim(), '200000 /numbers');
  shaleOk(['rmi', copied.id], { root });

  const builder = shaleBuild(root, ctx, ['--progress', 'json', '--target', 'builder']);
  assert.equal(buildEvents(builder.result.stderr).filter((e) => e.type === 'cached').length, 1, 'the builder\'s RUN comes from the cache');
  blobs = await blobPaths(root);
  assert.equal(holding(blobs, 'numbers').length, 1, 'written as an image, the builder\'s layer is stored now');
  assert.equal(shaleOk(['run', '--rm', builder.id, 'busybox', 'wc', '-l', '/numbers'], { root }).stdout.trim().split(/\s+/)[0], '200000');
  assert.deepEqual(keptLayers(root).adopted.length, 2);

  // prune: the snapshots no stored layer adopted go; the steps run again, and the images stay whole
  shaleOk(['rmi', builder.id], { root });
  const other = shaleBuild(root, writeContext(join(work, 'ctx2'), { Dockerfile: `FROM ${base} AS other\nRUN echo other > /other\nFROM ${base}\nCOPY --from=other /other /\n` }), ['-t', `shale-kept-${uniqueSuffix()}:other`]);
  assert.equal(keptLayers(root).all.length, 4);
  const df = shaleJson<{ buildCache: { snapshots: { count: number; size: number } } }>(['df'], { root });
  assert.deepEqual(df.buildCache.snapshots, { count: 1, size: 6 }, 'df counts the one snapshot no image holds (/other, 6 bytes) as build cache');
  assert.match(shaleOk(['prune', '--build-cache'], { root }).stdout, /^deleted step snapshots: 1$/m);
  assert.deepEqual(keptLayers(root).all, keptLayers(root).adopted, 'only adopted snapshots stay');
  assert.equal(keptLayers(root).all.length, 3);
  const rebuilt = shaleBuild(root, ctx, ['--progress', 'json']);
  assert.equal(buildEvents(rebuilt.result.stderr).filter((e) => e.type === 'cached').length, 0, 'the cache is gone');
  assert.equal(shaleOk(['run', '--rm', other.id, 'cat', '/other'], { root }).stdout, 'other\n');
  // an image of many layers: each is tarred on the one worker thread, which warns of nothing
  const many = shaleBuild(root, writeContext(join(work, 'many'), { Dockerfile: `FROM ${base}\n${Array.from({ length: 12 }, (_, i) => `RUN echo ${i} > /f${i}\n`).join('')}` }));
  assert.doesNotMatch(many.result.stderr, /Warning/, 'no warning from the worker thread');
  assert.equal(shaleOk(['run', '--rm', many.id, 'cat', '/f0', '/f11'], { root }).stdout, '0\n11\n');
  assertNoLeftovers(root, 'builds with kept layers');
});
