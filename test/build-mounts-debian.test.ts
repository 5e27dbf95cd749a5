/**
 * The modern apt build on the Debian base: apt's lists and archives in `RUN --mount=type=cache` mounts
 * (sharing=locked). A second build whose step must rerun downloads nothing (apt's `Get:` lines are
 * counted), and the step's layer holds no package list or archive.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { shaleBuild, shaleImageLayers, writeContext } from './support/build.js';
import { debianBaseStore } from './support/debian.js';


test('apt with cache mounts: the second build downloads nothing, the layer holds no package lists', { timeout: 900_000 }, async (t) => {
  const base = debianBaseStore(t, 'shale-apt-cache');
  if (!base) return;
  const { work, root, name } = base;
  const ctx = writeContext(join(work, 'ctx'), {
    Dockerfile: `FROM ${name}:base
ARG BUILD
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\
    echo "build $BUILD" && apt-get update && apt-get install -y --no-install-recommends hello
`,
  });
  // apt's downloads: `Get:` lines; the release file (InRelease) is revalidated with the mirror on every
  // update and this mirror answers with the whole file, so it is not counted as a download of lists
  const gets = (stderr: string) => stderr.split('\n').filter((l) => /^#\d+ \| Get:\d+ /.test(l));
  const fetches = (stderr: string) => gets(stderr).filter((l) => !/ InRelease /.test(l)).length;
  const first = shaleBuild(root, ctx, ['--progress', 'plain', '--network', 'host', '--build-arg', 'BUILD=1', '-t', `${name}:1`], 600_000).result.stderr;
  assert.match(first, /Setting up hello /);
  assert.ok(fetches(first) > 0, `the first build downloads lists and packages:\n${first}`);
  // a new BUILD value reruns the step; the cache mounts are kept
  const second = shaleBuild(root, ctx, ['--progress', 'plain', '--network', 'host', '--build-arg', 'BUILD=2', '-t', `${name}:2`], 600_000).result.stderr;
  assert.match(second, /build 2/);
  assert.match(second, /Setting up hello /);
  assert.equal(fetches(second), 0, `the second build downloads nothing:\n${second}`);
  assert.match(second, /Need to get 0 B\/[\d.]+ kB of archives/);
  for (const ref of [`${name}:1`, `${name}:2`]) {
    const layers = await shaleImageLayers(root, ref);
    const runLayer = layers[layers.length - 1]!;
    assert.ok(runLayer.some((l) => / usr\/bin\/hello$/.test(l)), 'hello is installed in the layer');
    const cached = runLayer.filter((l) => / var\/(lib\/apt\/lists|cache\/apt)\/./.test(l));
    assert.deepEqual(cached, [], 'no package list or archive in the layer');
  }
});
