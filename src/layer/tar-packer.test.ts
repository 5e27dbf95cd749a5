/** packTar: the same bytes as writeTar, packed into chunks the consumer owns or borrows. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fuzzParameters } from '../internal/fuzz-fixtures.js';
import { ShaleError } from '../internal/errors.js';
import type { EntryType } from './tar-header.js';
import { packTar, type PackEntry } from './tar-packer.js';
import { makeHeader, writeTar, type TarWriteEntry } from './tar-writer.js';

const collect = async (parts: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const out: Buffer[] = [];
  for await (const c of parts) out.push(Buffer.from(c));
  return Buffer.concat(out);
};

/** A reader of `body` that returns at most `step` bytes a call (a short read, as a file may give). */
function readerOf(body: Uint8Array, step: number): PackEntry['read'] {
  let at = 0;
  return (buf, offset, length) => {
    const n = Buffer.from(body.buffer, body.byteOffset, body.byteLength).copy(buf, offset, at, at + Math.min(length, step));
    at += n;
    return n;
  };
}

const entryArb = fc
  .record({
    name: fc.oneof(
      fc.stringMatching(/^[a-z]{1,8}(\/[a-z.]{1,8}){0,3}$/),
      fc.array(fc.stringMatching(/^[a-z]{20,40}$/), { minLength: 4, maxLength: 8 }).map((parts) => parts.join('/')), // PAX path
    ),
    type: fc.constantFrom<EntryType>('file', 'file', 'dir', 'symlink', 'hardlink', 'fifo'),
    body: fc.oneof(fc.uint8Array({ maxLength: 1500 }), fc.constant(new Uint8Array(0)), fc.integer({ min: 1, max: 9000 }).map((n) => new Uint8Array(n).fill(n % 251))),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.constant(2 ** 31)),
    mtime: fc.integer({ min: 0, max: 2 ** 33 }),
    xattr: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
  })
  .map(({ name, type, body, mode, uid, mtime, xattr }) => {
    const header = makeHeader({ name, type, mode, uid, gid: uid, mtime, size: type === 'file' ? body.length : 0, linkname: type === 'symlink' || type === 'hardlink' ? 'target' : '' });
    if (xattr) header.xattrs = { 'user.fuzz': Buffer.from(xattr) };
    return type === 'file' ? { header, body } : { header };
  });

const packEntries = (entries: TarWriteEntry[], step: number): PackEntry[] =>
  entries.map((e) => (e.body instanceof Uint8Array ? { header: e.header, read: readerOf(e.body, step) } : { header: e.header }));

test('packTar writes the bytes writeTar writes, owned or lent, whatever the chunk size and read sizes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(entryArb, { maxLength: 8 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 4000 }), async (entries, chunkSize, step) => {
      const expected = await collect(writeTar(entries));
      const owned = [...packTar(packEntries(entries, step), 'owned', chunkSize)];
      assert.ok(Buffer.concat(owned).equals(expected));
      assert.ok(owned.slice(0, -1).every((c) => c.length === chunkSize), 'only the last chunk is partial');
      const lent: Buffer[] = [];
      for (const c of packTar(packEntries(entries, step), 'lent', chunkSize)) lent.push(Buffer.from(c)); // copied before the next pull
      assert.ok(Buffer.concat(lent).equals(expected));
    }),
    fuzzParameters(200),
  );
});

test('lent chunks are views of one buffer: a chunk kept past the next pull is overwritten', () => {
  const body = Buffer.alloc(3000, 7);
  const entries = (): PackEntry[] => [{ header: makeHeader({ name: 'f', type: 'file', size: body.length }), read: readerOf(body, 1 << 20) }];
  const kept = [...packTar(entries(), 'lent', 1024)];
  assert.ok(kept.length > 2);
  assert.ok(kept.every((c) => c.buffer === kept[0]!.buffer && c.byteOffset === kept[0]!.byteOffset));
  assert.ok(!Buffer.concat(kept).equals(Buffer.concat([...packTar(entries(), 'owned', 1024)])), 'keeping lent chunks loses bytes');
});

test('content shorter than its header says is SIZE_MISMATCH, and the entries are closed', () => {
  let closed = false;
  function* entries(): Generator<PackEntry> {
    try {
      yield { header: makeHeader({ name: 'short', type: 'file', size: 10 }), read: readerOf(Buffer.from('abc'), 100) };
    } finally {
      closed = true;
    }
  }
  assert.throws(() => [...packTar(entries(), 'lent')], (e: unknown) => e instanceof ShaleError && e.code === 'SIZE_MISMATCH' && /"short": content is 3 bytes, header says 10/.test(e.message));
  assert.ok(closed);
});
