/**
 * Storing a snapshot's diff as a layer: the lent, summarised path (putLayer over diffDirectory) stores the
 * same blob and the same layer record as the general path (the same bytes handed over as owned chunks,
 * parsed again), for a tree with big and empty files, hard and symbolic links, whiteouts, an opaque
 * directory and xattrs; and a diff that fails midway leaves nothing in the store.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChangesTar, diffDirectory, scanTree } from '../src/snapshot/index.js';
import { putLayer, Store } from '../src/store/index.js';
import { tempDir } from './support/shale.js';

const setfattr = (path: string, name: string, value: string) => execFileSync('setfattr', ['-h', '-n', name, '-v', value, path]);

async function collect(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of src) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

/** The same chunks as a plain iterable, so putLayer takes its general path. */
async function* owned(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* src;
}

test('a diff stored from lent chunks is the blob and layer record the general path stores', async (t) => {
  const up = tempDir(t, 'shale-put-layer-');
  mkdirSync(join(up, 'etc'));
  writeFileSync(join(up, 'etc/conf'), 'conf\n');
  setfattr(join(up, 'etc/conf'), 'user.keep', 'yes');
  setfattr(join(up, 'etc/conf'), 'trusted.overlay.origin', '0x00'); // overlay bookkeeping, left out
  execFileSync('mknod', ['-m', '000', join(up, 'etc/gone'), 'c', '0', '0']); // a kernel whiteout
  mkdirSync(join(up, 'opq'));
  setfattr(join(up, 'opq'), 'trusted.overlay.opaque', 'y');
  writeFileSync(join(up, 'opq/new'), 'n');
  mkdirSync(join(up, 'data'));
  writeFileSync(join(up, 'data/big'), Buffer.alloc((5 << 20) / 2 + 3, 'x')); // spans several chunks, ends mid-block
  writeFileSync(join(up, 'data/empty'), '');
  linkSync(join(up, 'data/big'), join(up, 'data/big-link'));
  symlinkSync('big', join(up, 'data/sym'));
  for (let i = 0; i < 300; i++) writeFileSync(join(up, `data/f${i}`), 'y'.repeat(i * 37));

  const lentStore = await Store.open(join(tempDir(t, 'shale-store-'), 'store'), { durable: false });
  const ownedStore = await Store.open(join(tempDir(t, 'shale-store-'), 'store'), { durable: false });
  const lent = await putLayer(lentStore, diffDirectory(up, { sourceDateEpoch: null }), 'diff');
  const general = await putLayer(ownedStore, owned(diffDirectory(up, { sourceDateEpoch: null })), 'diff');
  assert.deepEqual(lent, general);
  assert.equal(lent.info.whiteouts, 2);
  const blob = readFileSync(lentStore.content.blobPath(lent.descriptor.digest));
  assert.ok(blob.equals(readFileSync(ownedStore.content.blobPath(general.descriptor.digest))));
  assert.ok(blob.equals(await collect(diffDirectory(up, { sourceDateEpoch: null }))));
});

test('a diff that fails while it is stored leaves no temp file and no blob', async (t) => {
  const up = tempDir(t, 'shale-put-layer-');
  writeFileSync(join(up, 'a'), 'a'.repeat(3 << 20));
  writeFileSync(join(up, 'b'), 'b');
  const { entries } = await scanTree(up);
  const store = await Store.open(join(tempDir(t, 'shale-store-'), 'store'), { durable: false });
  const changed = new ChangesTar(async () => ({
    changes: [
      { kind: 'entry', path: 'a', info: entries.get('a')!, abs: join(up, 'a') }, // three chunks are written first
      { kind: 'entry', path: 'b', info: { ...entries.get('b')!, size: 2 }, abs: join(up, 'b') }, // not the file scanned any more
    ],
    options: {},
  }));
  await assert.rejects(putLayer(store, changed, 'diff'), (e: Error & { code?: string }) => e.code === 'FAILED_PRECONDITION' && e.message.includes('changed while its layer was being written'));
  assert.deepEqual(readdirSync(store.ingestDir).filter((n) => !n.startsWith('owner-')), []);
  assert.deepEqual(await store.content.list(), []);
});
