/**
 * A reader that stops early releases the source: ending decompress's output also ends the stream it
 * reads (so a store blob's file is closed and its off-thread hasher let go, and the process can exit).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decompress } from './compression.js';
import { noise } from './layer-fixtures.js';

/** A source in 64 KiB pieces that records whether it was ended (its finally ran). */
function watched(data: Buffer): { source: AsyncIterable<Uint8Array>; ended: () => boolean } {
  let ended = false;
  return {
    source: (async function* () {
      try {
        for (let i = 0; i < data.length; i += 65_536) yield data.subarray(i, i + 65_536);
      } finally {
        ended = true;
      }
    })(),
    ended: () => ended,
  };
}

const payload = noise(1 << 20, 7);

for (const [kind, bytes] of [
  ['plain', payload],
  ['gzip', gzipSync(payload)],
] as const) {
  test(`decompress (${kind}): stopping after the first chunk ends the source`, async () => {
    const { source, ended } = watched(bytes);
    for await (const _chunk of decompress(source, { what: 'test' })) break;
    assert.equal(ended(), true);
  });

  test(`decompress (${kind}): returning before reading ends the source it peeked into`, async () => {
    const { source, ended } = watched(bytes);
    const it = decompress(source, { what: 'test' })[Symbol.asyncIterator]();
    await it.next();
    await it.return(undefined);
    assert.equal(ended(), true);
  });
}
