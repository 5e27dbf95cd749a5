/** A layer blob described and hashed in one pass: the same digest and diffId as hashing it apart. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { chunks, file, tarOf } from '../layer/layer-fixtures.js';
import { describeAndHashLayerBlob } from './layer-info.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('describeAndHashLayerBlob: digest, size and diffId of a plain and a gzip tar, and of a tar with bytes after it', async () => {
  const tar = await tarOf([file('etc/a', 'alpha\n'), file('etc/b', 'beta\n')]);
  const plain = await describeAndHashLayerBlob(() => chunks(tar, 1000), tar.length, 'plain');
  assert.deepEqual([plain.digest, plain.diffId, plain.size, plain.compression], [sha(tar), sha(tar), tar.length, 'none']);
  const gz = gzipSync(tar);
  const zipped = await describeAndHashLayerBlob(() => chunks(gz, 100), gz.length, 'gzip');
  assert.deepEqual([zipped.digest, zipped.diffId, zipped.size, zipped.compression], [sha(gz), sha(tar), gz.length, 'gzip']);
  const trailing = Buffer.concat([tar, Buffer.alloc(4096, 7)]);
  const longer = await describeAndHashLayerBlob(() => chunks(trailing, 1000), trailing.length, 'trailing');
  assert.deepEqual([longer.digest, longer.size], [sha(trailing), trailing.length], 'the whole blob is hashed, not what the tar reader read');
});
