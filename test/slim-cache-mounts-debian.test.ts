/**
 * `shale slim --verify --cache-mounts` on an apt Dockerfile over the debootstrap Debian base: the rewrite
 * chains the RUNs, mounts apt's caches (`RUN --mount=type=cache`, sharing=locked) instead of cleaning
 * them and drops the now-pointless `apt-get clean`; both are built for real (Debian's mirror) and must be
 * equivalent but for the mounted caches, which are listed. A rebuild of the rewrite that must rerun the
 * step downloads no package again. Slow: its own file, one base import, the builds shared.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { shaleBuild, shaleImageLayers, writeContext } from './support/build.js';
import { shaleJson } from './support/shale.js';
import { debianBaseStore } from './support/debian.js';


interface SlimJson {
  changes: { kind: string; lines: number[]; applied: boolean; cacheTargets?: string[] }[];
  rewritten: string;
  before: { sizeBytes: number; layers: number };
  after: { sizeBytes: number; layers: number };
  savedBytes: number;
  equivalent: boolean;
  verification: { removedCaches: string[]; cacheDifferences: string[]; volatile: string[]; differences: string[]; configDifferences: string[] };
}

test('slim --verify --cache-mounts of an apt Dockerfile on Debian: cache mounts, equivalent, bytes saved, no download on rebuild', { timeout: 1_200_000 }, async (t) => {
  const base = debianBaseStore(t, 'shale-slim-cache');
  if (!base) return;
  const { work, root, name } = base;
  const ctx = writeContext(join(work, 'ctx'), {
    Dockerfile: `FROM ${name}:base
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update
RUN apt-get install -y --no-install-recommends hello && apt-get clean
CMD ["hello"]
`,
  });
  const r = shaleJson<SlimJson>(['slim', '--verify', '--cache-mounts', '-t', `${name}:slim`, ctx], { root, timeoutMs: 1_100_000 });
  assert.deepEqual(
    r.changes.map((c) => `${c.kind} ${c.lines.join(',')} ${c.applied}`),
    ['chain-runs 3,4 true', 'cache-mount 3 true'],
  );
  assert.equal(
    r.rewritten.split('\n')[2] + '\n' + r.rewritten.split('\n')[3],
    'RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt/lists,sharing=locked apt-get update \\\n && apt-get install -y --no-install-recommends hello',
  );
  assert.equal(r.equivalent, true, JSON.stringify(r.verification, null, 1));
  assert.deepEqual([r.verification.differences, r.verification.configDifferences], [[], []]);
  assert.ok(r.verification.cacheDifferences.some((p) => p.startsWith('/var/lib/apt/lists/')), 'the apt lists are listed as cache differences');
  assert.ok(r.verification.cacheDifferences.every((p) => /^\/var\/(lib\/apt\/lists|cache\/apt)(\/|$)/.test(p)), r.verification.cacheDifferences.join(' '));
  assert.ok(r.savedBytes > 10_000_000, `the lists are tens of MB (saved ${r.savedBytes} B)`);
  assert.equal(r.before.sizeBytes - r.after.sizeBytes, r.savedBytes);
  assert.deepEqual([r.before.layers, r.after.layers], [3, 2]);
  const runLayer = (await shaleImageLayers(root, `${name}:slim`)).at(-1)!;
  assert.ok(runLayer.some((l) => / usr\/bin\/hello$/.test(l)), 'hello is installed');
  assert.deepEqual(runLayer.filter((l) => / var\/(lib\/apt\/lists|cache\/apt)\/./.test(l)), [], 'no package list or archive in the layer');

  // the verify build filled the cache mounts: a rebuild that reruns the step downloads no package
  const rewritten = join(work, 'Dockerfile.slim');
  writeFileSync(rewritten, r.rewritten);
  const rebuild = shaleBuild(root, ctx, ['-f', rewritten, '--no-cache', '--progress', 'plain', '--network', 'host'], 600_000).result.stderr;
  assert.match(rebuild, /Setting up hello /);
  assert.match(rebuild, /Need to get 0 B\/[\d.]+ kB of archives/);
  assert.doesNotMatch(rebuild, /Get:\d+ \S+ \S+ \S+ hello /, 'the hello package is not fetched again');
  t.diagnostic(`apt with cache mounts: ${r.before.sizeBytes} B -> ${r.after.sizeBytes} B, saved ${r.savedBytes} B; cache differences: ${r.verification.cacheDifferences.length} paths; volatile: ${r.verification.volatile.join(' ')}`);
});
