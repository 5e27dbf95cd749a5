import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readBuildLines, writeBuildLines } from './build-lines.js';
import { prune } from './gc.js';
import { putImage } from './put-image.js';
import { Store } from './store.js';
import { removeImages } from './tags.js';

test('an image\'s Dockerfile lines are kept while it is stored and go with its config blob', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'shale-lines-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await Store.open(join(dir, 'store'));
  const config = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers' as const, diff_ids: [] }, history: [{ created_by: 'ENV A=1', empty_layer: true }] };
  const { id } = await putImage(store, config, [], ['lines:1']);
  await writeBuildLines(store, id, ['Dockerfile:2']);
  await prune(store);
  assert.deepEqual(await readBuildLines(store, id), ['Dockerfile:2'], 'a tagged image keeps its lines');
  await removeImages(store, ['lines:1']);
  await prune(store);
  assert.equal(await readBuildLines(store, id), undefined);
});
