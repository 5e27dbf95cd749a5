/** Compression: sniffing, decompressing plain/gzip/zstd, corrupt input, and the cap against bombs. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { createGzip, gunzipSync, gzipSync, inflateRawSync } from 'node:zlib';
import { GZIP_MEMBER_SIZE, parallelGzip } from './compress.js';
import { decompress, defaultMaxUncompressedBytes, gzip, sniffCompression } from './compression.js';
import { chunks, collect, hasCommand, noise, rejectsWithCode, run } from './layer-fixtures.js';

const zstdMissing = !hasCommand('zstd') && 'the zstd CLI is not installed';
const zstd = (data: Buffer): Buffer => run('zstd', ['-q', '-c'], undefined, data);
const MiB = 1 << 20;

/** A compressible but not trivial payload: noise, zeros and text. */
const payload = Buffer.concat([noise(300_000, 42), Buffer.alloc(200_000), Buffer.from('layer text\n'.repeat(20_000))]);

/** Wraps a source so the test can see how many bytes the consumer pulled from it. */
function metered(src: AsyncIterable<Uint8Array>): { src: AsyncIterable<Uint8Array>; pulled: () => number } {
  let n = 0;
  return {
    src: (async function* () {
      for await (const c of src) {
        n += c.byteLength;
        yield c;
      }
    })(),
    pulled: () => n,
  };
}

/** `total` zeros, produced in pieces (never held whole in memory). */
function* zeros(total: number): Generator<Buffer> {
  const block = Buffer.alloc(MiB);
  for (let left = total; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
}

// The bomb tests come first: the zstd one measures the process's peak memory, which earlier tests would raise.
describe('decompression bombs stop at maxBytes with LIMIT_EXCEEDED', () => {
  test('zstd: 512 MiB of zeros in a single ~17 KiB chunk is stopped without expanding it in memory', { skip: zstdMissing }, async () => {
    // Made by the zstd CLI from a stream of zeros; the compressed bytes arrive as ONE chunk.
    const bomb = run('sh', ['-c', 'head -c 536870912 /dev/zero | zstd -q -c']);
    assert.ok(bomb.length < 64 * 1024, `bomb is ${bomb.length} bytes`);
    const peakBefore = process.resourceUsage().maxRSS; // KiB
    let produced = 0;
    await rejectsWithCode(async () => {
      for await (const c of decompress(chunks(bomb, bomb.length), { what: 'bomb', maxBytes: 10 * MiB })) produced += c.length;
    }, 'LIMIT_EXCEEDED');
    assert.ok(produced <= 10 * MiB, `${produced} bytes were handed out`);
    const grewMiB = (process.resourceUsage().maxRSS - peakBefore) / 1024;
    assert.ok(grewMiB < 200, `peak memory grew by ${grewMiB.toFixed(0)} MiB: the chunk was expanded whole`);
  });

  test('gzip: 200 MiB of zeros with maxBytes 10 MiB stops early, reading only a little of the input', async () => {
    const bomb = await collect(Readable.from(zeros(200 * MiB)).pipe(createGzip({ level: 9 })));
    assert.ok(bomb.length < 300_000, `bomb is ${bomb.length} bytes`);
    const m = metered(chunks(bomb, 4096));
    let produced = 0;
    const started = Date.now();
    const err = await rejectsWithCode(async () => {
      for await (const c of decompress(m.src, { what: 'layer sha256:bomb', maxBytes: 10 * MiB })) produced += c.length;
    }, 'LIMIT_EXCEEDED');
    assert.match(err.message, /layer sha256:bomb/);
    assert.ok(produced <= 10 * MiB, `${produced} bytes were handed out`);
    // 10 MiB of output needs ~10 KiB of this input: stopping early leaves most of the ~200 KiB unread.
    assert.ok(m.pulled() < bomb.length / 2, `pulled ${m.pulled()} of ${bomb.length} compressed bytes`);
    assert.ok(Date.now() - started < 5000, 'took too long: the whole bomb was probably inflated');
  });

  test('the cap is inclusive: output of exactly maxBytes passes, one byte less fails (gzip and zstd)', async () => {
    const data = noise(100_000, 9);
    const forms: [string, Buffer][] = [['gzip', gzipSync(data)]];
    if (!zstdMissing) forms.push(['zstd', zstd(data)]);
    for (const [kind, compressed] of forms) {
      const out = await collect(decompress(chunks(compressed, 1000), { what: kind, maxBytes: data.length }));
      assert.ok(out.equals(data), kind);
      await rejectsWithCode(() => collect(decompress(chunks(compressed, 1000), { what: kind, maxBytes: data.length - 1 })), 'LIMIT_EXCEEDED');
    }
  });

  test('plain (uncompressed) input is passed through uncapped: it cannot be a bomb', async () => {
    const out = await collect(decompress(chunks(Buffer.alloc(5000, 7), 100), { what: 'plain', maxBytes: 10 }));
    assert.equal(out.length, 5000);
  });

  test('the default cap comes from SHALE_MAX_UNCOMPRESSED_BYTES, else 1 TiB', async () => {
    const saved = process.env.SHALE_MAX_UNCOMPRESSED_BYTES;
    try {
      process.env.SHALE_MAX_UNCOMPRESSED_BYTES = '12345';
      assert.equal(defaultMaxUncompressedBytes(), 12345);
      // and decompress uses it when no maxBytes is given
      await rejectsWithCode(() => collect(decompress(chunks(gzipSync(Buffer.alloc(20000))), { what: 'x' })), 'LIMIT_EXCEEDED');
      for (const bad of ['', 'abc', '-5', '1.5', '0']) {
        process.env.SHALE_MAX_UNCOMPRESSED_BYTES = bad;
        assert.equal(defaultMaxUncompressedBytes(), 2 ** 40, `value "${bad}"`);
      }
    } finally {
      if (saved === undefined) delete process.env.SHALE_MAX_UNCOMPRESSED_BYTES;
      else process.env.SHALE_MAX_UNCOMPRESSED_BYTES = saved;
    }
  });
});

describe('sniffCompression', () => {
  test('recognises gzip and zstd magic, and takes anything else as plain', () => {
    assert.equal(sniffCompression(gzipSync(Buffer.from('x'))), 'gzip');
    assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00])), 'zstd');
    assert.equal(sniffCompression(Buffer.from('ustar file name\0')), 'none');
    assert.equal(sniffCompression(Buffer.alloc(0)), 'none');
    assert.equal(sniffCompression(Buffer.from([0x1f])), 'none'); // half a gzip magic
    assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f])), 'none'); // three quarters of zstd's
    assert.equal(sniffCompression(Buffer.from([0x1f, 0x8c])), 'none');
  });

  test('real zstd CLI output is recognised', { skip: zstdMissing }, () => {
    assert.equal(sniffCompression(zstd(Buffer.from('hello'))), 'zstd');
  });
});

describe('decompress', () => {
  test('plain input comes back unchanged, whatever the chunking', async () => {
    const small = payload.subarray(299_000, 301_000); // 1-byte chunks are slow to serve: keep those short
    for (const [data, size] of [[small, 1], [small, 3], [payload, 1000], [payload, payload.length]] as const) {
      assert.ok((await collect(decompress(chunks(data, size), { what: 'plain' }))).equals(data), `chunk ${size}`);
    }
    assert.equal((await collect(decompress(chunks(Buffer.alloc(0)), { what: 'empty' }))).length, 0);
  });

  test('gzip (node zlib) comes back as the original bytes, even fed one byte at a time at the start', async () => {
    const gz = gzipSync(payload);
    assert.ok((await collect(decompress(chunks(gz, 64 * 1024), { what: 'gz' }))).equals(payload));
    // 1-byte chunks: the magic has to be sniffed across chunks
    const oneByteStart = (async function* () {
      for (let i = 0; i < 8; i++) yield gz.subarray(i, i + 1);
      yield gz.subarray(8);
    })();
    assert.ok((await collect(decompress(oneByteStart, { what: 'gz' }))).equals(payload));
  });

  test('concatenated gzip members decompress to the concatenation', async () => {
    const two = Buffer.concat([gzipSync(Buffer.from('first ')), gzipSync(Buffer.from('second'))]);
    assert.equal((await collect(decompress(chunks(two, 7), { what: 'gz' }))).toString(), 'first second');
  });

  test('zstd from the zstd CLI comes back as the original bytes, in any chunking', { skip: zstdMissing }, async () => {
    const z = zstd(payload);
    assert.equal(sniffCompression(z), 'zstd');
    for (const size of [100, 4096, z.length]) {
      assert.ok((await collect(decompress(chunks(z, size), { what: 'zst' }))).equals(payload), `chunk ${size}`);
    }
    // 1-byte chunks (every frame and block boundary split), on a smaller input
    const text = Buffer.from('zstd one byte at a time\n'.repeat(2000));
    assert.ok((await collect(decompress(chunks(zstd(text), 1), { what: 'zst' }))).equals(text));
  });

  test('concatenated zstd frames decompress to the concatenation', { skip: zstdMissing }, async () => {
    const two = Buffer.concat([zstd(Buffer.from('first ')), zstd(noise(70_000, 3))]);
    const out = await collect(decompress(chunks(two, 5000), { what: 'zst' }));
    assert.ok(out.equals(Buffer.concat([Buffer.from('first '), noise(70_000, 3)])));
  });

  test('zstd of a large highly compressible input (more than one slice of the decoder) is exact', { skip: zstdMissing }, async () => {
    const data = Buffer.concat([Buffer.alloc(3 * MiB), noise(5000, 1), Buffer.alloc(MiB, 0x41)]);
    const z = zstd(data);
    assert.ok((await collect(decompress(chunks(z, z.length), { what: 'zst' }))).equals(data));
  });

  test('gzip() compresses deterministically (no name, no mtime) and decompress undoes it', async () => {
    const a = await collect(gzip(chunks(payload, 10_000)));
    const b = await collect(gzip(chunks(payload, 777)));
    assert.ok(a.equals(b));
    assert.deepEqual([...a.subarray(4, 8)], [0, 0, 0, 0]); // MTIME field of the gzip header
    assert.equal(a[3]! & 0x08, 0); // no FNAME
    assert.ok((await collect(decompress(chunks(a), { what: 'gz' }))).equals(payload));
  });

  test('corrupt gzip -> CORRUPT_INPUT (flipped bytes, truncation, garbage after the magic)', async () => {
    const gz = gzipSync(payload);
    const flipped = Buffer.from(gz);
    for (let i = 100; i < 120; i++) flipped[i]! ^= 0x55;
    await rejectsWithCode(() => collect(decompress(chunks(flipped, 4096), { what: 'gz' })), 'CORRUPT_INPUT');
    await rejectsWithCode(() => collect(decompress(chunks(gz.subarray(0, gz.length >> 1), 4096), { what: 'gz' })), 'CORRUPT_INPUT');
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('definitely not deflate data')]);
    await rejectsWithCode(() => collect(decompress(chunks(garbage), { what: 'gz' })), 'CORRUPT_INPUT');
  });

  test('corrupt zstd -> CORRUPT_INPUT (truncation, garbage after the magic)', { skip: zstdMissing }, async () => {
    const z = zstd(payload);
    await rejectsWithCode(() => collect(decompress(chunks(z.subarray(0, z.length >> 1), 4096), { what: 'zst' })), 'CORRUPT_INPUT');
    const garbage = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64, 0xff)]);
    await rejectsWithCode(() => collect(decompress(chunks(garbage), { what: 'zst' })), 'CORRUPT_INPUT');
  });
});

describe('parallel gzip (the layer compressor)', () => {
  const scratchDir = mkdtempSync(join(tmpdir(), 'shale-gzip-test-'));
  after(() => rmSync(scratchDir, { recursive: true, force: true }));
  const gz = (source: AsyncIterable<Uint8Array>, level: number, encoder: 'zlib' | 'libdeflate') => parallelGzip(source, level, { scratchDir, encoder });
  const libdeflateMissing = !hasCommand('libdeflate-gzip') && !process.env.CI && 'libdeflate-gzip is not installed';
  const big = Buffer.concat([payload, noise(9 * MiB, 7), Buffer.from('more text\n'.repeat(300_000))]);

  for (const encoder of ['zlib', 'libdeflate'] as const) {
    test(`${encoder}: fixed-size members, one valid gzip stream of the input, the same bytes every time`, { skip: encoder === 'libdeflate' && libdeflateMissing }, async () => {
      const once = await collect(gz(chunks(big, 65_536), 4, encoder));
      assert.deepEqual(gunzipSync(once), big);
      assert.deepEqual(await collect(gz(chunks(big, 1_000_003), 4, encoder)), once, 'the chunking of the input does not change the output');
      // each member starts with the gzip magic and a zero mtime: count them by decompressing member by member
      let members = 0;
      for (let rest = once; rest.length > 0; members++) {
        assert.deepEqual([...rest.subarray(0, 8)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
        const inflater = inflateRawSync(rest.subarray(10), { info: true }) as unknown as { engine: { bytesWritten: number } };
        rest = rest.subarray(10 + inflater.engine.bytesWritten + 8);
      }
      assert.equal(members, Math.ceil(big.length / GZIP_MEMBER_SIZE[encoder]));
      assert.deepEqual(gunzipSync(await collect(gz(chunks(Buffer.alloc(0), 1), 4, encoder))), Buffer.alloc(0), 'empty input: one empty member');
      assert.deepEqual(readdirSync(scratchDir), [], 'no chunk file is left behind');
    });
  }

  test('libdeflate: a failing encoder is an error naming it', { skip: libdeflateMissing }, async () => {
    await assert.rejects(collect(gz(chunks(payload, 4096), 99, 'libdeflate')), /libdeflate-gzip -99 failed \(exit status \d+\)/);
    assert.deepEqual(readdirSync(scratchDir), []);
  });

  test('libdeflate: a reader that stops after the first member ends the shells and leaves no file', { skip: libdeflateMissing }, async () => {
    const members = gz(chunks(big, 65_536), 4, 'libdeflate');
    const first = await members.next();
    assert.ok(!first.done && first.value.length > 0);
    await members.return(undefined);
    assert.deepEqual(readdirSync(scratchDir), []);
  });
});
