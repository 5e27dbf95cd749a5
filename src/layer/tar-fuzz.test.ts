/**
 * Property tests of the tar readers (the stream's `readTar`/`listTar` and the file's `listTarFile`): any
 * bytes end in entries or a coded error, written entries read back as written, both readers agree, and no
 * name a reader returns escapes its root once checked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { assertCodedError, expectParsedOrRefusedAsync, fuzzParameters } from '../internal/fuzz-fixtures.js';
import type { ErrorCode } from '../internal/errors.js';
import { cleanEntryPath } from './path-safety.js';
import { listTar, readTar } from './tar-reader.js';
import { listTarFile } from './tar-file-list.js';
import { makeHeader, writeTar, type TarWriteEntry } from './tar-writer.js';
import type { EntryType, TarHeader } from './tar-header.js';

const TAR_ERRORS: ErrorCode[] = ['CORRUPT_INPUT', 'LIMIT_EXCEEDED', 'UNSUPPORTED', 'SIZE_MISMATCH'];

async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const collect = async (parts: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const out: Buffer[] = [];
  for await (const c of parts) out.push(Buffer.from(c));
  return Buffer.concat(out);
};

/** Every entry (body read in full) by the stream reader. */
async function readAll(bytes: Uint8Array, chunkSize: number, verified: boolean): Promise<{ header: TarHeader; body: Buffer }[]> {
  const out: { header: TarHeader; body: Buffer }[] = [];
  for await (const e of readTar(chunks(bytes, chunkSize), { what: 'fuzz', verified, maxMetaBytes: 1 << 16 })) out.push({ header: e.header, body: await collect(e.body) });
  return out;
}

async function listStream(bytes: Uint8Array, verified: boolean): Promise<[TarHeader, number | undefined][]> {
  const out: [TarHeader, number | undefined][] = [];
  await listTar(chunks(bytes, 4096), { what: 'fuzz', verified, maxMetaBytes: 1 << 16 }, (h, _i, offset) => out.push([h, offset]));
  return out;
}

function listFile(dir: string, bytes: Uint8Array, verified: boolean): [TarHeader, number | undefined][] | 'fallback' {
  const path = join(dir, 'fuzz.tar');
  writeFileSync(path, bytes);
  const out: [TarHeader, number | undefined][] = [];
  return listTarFile(path, { what: 'fuzz', verified, maxMetaBytes: 1 << 16 }, (h, _i, offset) => out.push([h, offset])) ? out : 'fallback';
}

/** Names as tars carry them: plain, nested, long (PAX), unicode, hostile. */
const nameArb = fc.oneof(
  fc.stringMatching(/^[a-z]{1,8}(\/[a-z.]{1,8}){0,3}$/),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0')),
  fc.stringMatching(/^(\.\.\/|\/|\.\/)?[a-z]{1,4}(\/\.\.)?\/[a-z]{1,4}$/),
  fc.array(fc.stringMatching(/^[a-z]{20,40}$/), { minLength: 4, maxLength: 8 }).map((parts) => parts.join('/')),
);

const entryArb: fc.Arbitrary<TarWriteEntry> = fc
  .record({
    name: nameArb,
    type: fc.constantFrom<EntryType>('file', 'dir', 'symlink', 'hardlink', 'fifo'),
    body: fc.uint8Array({ maxLength: 1500 }),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.constant(2 ** 31)),
    mtime: fc.oneof(fc.integer({ min: 0, max: 2 ** 33 }), fc.constant(1.5)),
    linkname: fc.oneof(fc.constant(''), nameArb),
    xattr: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
  })
  .map(({ name, type, body, mode, uid, mtime, linkname, xattr }) => {
    const header = makeHeader({ name, type, mode, uid, gid: uid, mtime, size: type === 'file' ? body.length : 0, linkname: type === 'symlink' || type === 'hardlink' ? linkname || 'x' : '' });
    if (xattr) header.xattrs = { 'user.fuzz': Buffer.from(xattr) };
    return type === 'file' ? { header, body } : { header };
  });

const entriesArb = fc.array(entryArb, { maxLength: 6 });

/** A valid tar with some of its bytes overwritten (checksums then mostly fail: read `verified` to go past them). */
const damagedTarArb = fc.record({
  entries: entriesArb,
  edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
  cut: fc.nat({ max: 3 }),
});

const fieldsOf = (h: TarHeader) => ({ name: h.name, type: h.type, mode: h.mode, uid: h.uid, size: h.size, mtime: h.mtime, linkname: h.linkname, xattrs: h.xattrs });

test('tar readers: written entries read back as written, by the stream reader and the file lister alike', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-tar-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await fc.assert(
    fc.asyncProperty(entriesArb, fc.integer({ min: 1, max: 2000 }), async (entries, chunkSize) => {
      const bytes = await collect(writeTar(entries));
      const read = await readAll(bytes, chunkSize, false);
      assert.deepEqual(read.map((e) => fieldsOf(e.header)), entries.map((e) => fieldsOf(e.header)));
      assert.deepEqual(read.map((e) => e.body), entries.map((e) => Buffer.from(e.body instanceof Uint8Array ? e.body : [])));
      const listed = await listStream(bytes, false);
      assert.deepEqual(listFile(dir, bytes, false), listed);
    }),
    fuzzParameters(150),
  );
});

test('tar readers: any bytes, and valid tars with bytes overwritten or cut, end in entries or a coded error; both readers agree', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-tar-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inputs = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }),
    damagedTarArb,
  );
  await fc.assert(
    fc.asyncProperty(inputs, fc.boolean(), async (input, verified) => {
      let bytes: Buffer;
      if (input instanceof Uint8Array) bytes = Buffer.from(input);
      else {
        bytes = await collect(writeTar(input.entries));
        for (const [at, value] of input.edits) bytes[at % bytes.length] = value;
        if (input.cut > 0) bytes = bytes.subarray(0, bytes.length - input.cut * 37);
      }
      const stream = await expectParsedOrRefusedAsync(() => readAll(bytes, 512 + (bytes.length % 700), verified), TAR_ERRORS);
      const listed = await expectParsedOrRefusedAsync(() => listStream(bytes, verified), TAR_ERRORS);
      let file: ReturnType<typeof listFile> | undefined;
      try {
        file = listFile(dir, bytes, verified);
      } catch (e) {
        assertCodedError(e, TAR_ERRORS);
      }
      // the listers see the same headers; the file lister may hand an old GNU sparse entry to the stream's
      if (file !== 'fallback') assert.equal(file === undefined, listed === undefined, 'the stream and file listers disagree on whether the tar is good');
      if (file !== undefined && file !== 'fallback' && listed !== undefined) assert.deepEqual(file, listed);
      if (stream !== undefined && listed !== undefined) assert.deepEqual(stream.map((e) => e.header), listed.map(([h]) => h));
      // a name read from any tar, once checked, stays inside the root it is joined to
      for (const e of stream ?? []) {
        try {
          const p = cleanEntryPath(e.header.name);
          assert.ok(!p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\0'), p);
          assert.ok(join('/root', p).startsWith('/root'), p);
        } catch (err) {
          assertCodedError(err, ['UNSAFE_PATH']);
        }
      }
    }),
    fuzzParameters(400),
  );
});

test('cleanEntryPath: any name is refused as unsafe or comes back clean (no empty, `.` or `..` component, no leading or trailing `/`)', () => {
  const part = fc.constantFrom('a', 'b.c', '.', '..', '', '.wh.x', '\u00e9', 'a\0');
  fc.assert(
    fc.property(fc.array(part, { maxLength: 6 }), fc.constantFrom('', '/', './', '//'), fc.constantFrom('', '/', '//'), (parts, lead, trail) => {
      const name = `${lead}${parts.join('/')}${trail}`;
      let clean: string;
      try {
        clean = cleanEntryPath(name);
      } catch (e) {
        assertCodedError(e, ['UNSAFE_PATH']);
        assert.ok(name.startsWith('/') || name.includes('\0') || name.split('/').includes('..'), name);
        return;
      }
      assert.equal(clean, parts.filter((p) => p !== '' && p !== '.').join('/'), name);
    }),
    fuzzParameters(3000),
  );
  // found by fuzzing extraction: a doubled trailing slash after `./` kept one `/`
  assert.equal(cleanEntryPath('./out//'), 'out');
});
