/** Leases taken at the same time (parallel build stages) all end up in the lease file. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Store } from './store.js';
import type { Digest } from '../oci/index.js';

test('concurrent leases: the lease file holds every digest leased, whatever order the writes end in', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'shale-lease-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await Store.open(join(dir, 'store'));
  const digests = Array.from({ length: 40 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}` as Digest);
  await Promise.all(digests.map((d) => store.lease([d])));
  // a second Store object reads the file, as a prune in another process would
  const other = await Store.open(join(dir, 'store'));
  assert.deepEqual([...(await other.leasedBlobs())].sort(), [...digests].sort());
});
