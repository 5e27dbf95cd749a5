/** The tar codec: writeTar -> readTar round trips, GNU tar interoperability, corrupt input. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { linkSync, mkdirSync, readFileSync, chmodSync, lstatSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeHeader, type TarHeader } from './tar-header.js';
import { readTar } from './tar-reader.js';
import { makeHeader, writeTar, type TarWriteEntry } from './tar-writer.js';
import {
  chunks,
  collect,
  dir,
  file,
  hardlink,
  hasCommand,
  noise,
  patchHeader,
  readAll,
  rejectsWithCode,
  run,
  runFull,
  symlink,
  tarOf,
  withTempDir,
} from './layer-fixtures.js';

/** The type flag of the header block at `off`. */
const flagAt = (tar: Buffer, off = 0): string => String.fromCharCode(tar[off + 156]!);

/** Writes entries, reads them back, and checks headers and bodies came back unchanged. */
async function roundTrip(entries: TarWriteEntry[]): Promise<Buffer> {
  const tar = await tarOf(entries);
  const back = await readAll(tar);
  assert.deepEqual(
    back.map((e) => e.header),
    entries.map((e) => e.header),
  );
  entries.forEach((e, i) => {
    const want = e.header.type === 'file' ? Buffer.from(e.body as Uint8Array) : Buffer.alloc(0);
    assert.ok(back[i]!.body.equals(want), `body of ${e.header.name}`);
  });
  return tar;
}

describe('tar round trip (writeTar -> readTar)', () => {
  test('every entry type keeps its type, mode, ids, names, mtime, link target and device numbers', async () => {
    const tar = await roundTrip([
      dir('d', { mode: 0o1750, uid: 1000, gid: 1001, uname: 'alice', gname: 'staff', mtime: 1600000000 }),
      file('d/f.txt', 'hello\n', { mode: 0o4755, uid: 12, gid: 34, uname: 'bob', gname: 'wheel', mtime: 1234567890 }),
      file('d/empty', ''),
      symlink('d/link', '../target/x', { mtime: 5, uid: 7 }),
      hardlink('d/hard', 'd/f.txt', { mode: 0o4755 }),
      { header: makeHeader({ name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }) },
      { header: makeHeader({ name: 'dev/sda1', type: 'block', mode: 0o660, devmajor: 8, devminor: 1, gname: 'disk', gid: 6 }) },
      { header: makeHeader({ name: 'run/fifo', type: 'fifo', mode: 0o600 }) },
    ]);
    // Short plain names need no extension header: the first block is the dir's own ustar header.
    assert.equal(flagAt(tar), '5');
    assert.equal(tar.toString('latin1', 257, 263), 'ustar\0');
  });

  test('file sizes around block boundaries, with bodies given as many small chunks', async () => {
    const sizes = [0, 1, 511, 512, 513, 1024, 100_000];
    const entries = sizes.map((n, i): TarWriteEntry => {
      const data = noise(n, i + 1);
      return { header: makeHeader({ name: `f${n}`, type: 'file', size: n }), body: chunks(data, 37) };
    });
    const tar = await collect(writeTar(entries));
    // Each entry: one header block plus the body rounded up to whole blocks; then two zero blocks.
    const expected = sizes.reduce((t, n) => t + 512 + Math.ceil(n / 512) * 512, 0) + 1024;
    assert.equal(tar.length, expected);
    const back = await readAll(tar);
    assert.deepEqual(back.map((e) => e.header.size), sizes);
    back.forEach((e, i) => assert.ok(e.body.equals(noise(sizes[i]!, i + 1)), `content of f${sizes[i]}`));
  });

  test('a body given as a plain Uint8Array (not a Buffer) is written as is', async () => {
    const u8 = new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 4);
    const tar = await tarOf([{ header: makeHeader({ name: 'u8', type: 'file', size: 3 }), body: u8 }]);
    assert.deepEqual([...(await readAll(tar))[0]!.body], [2, 3, 4]);
  });

  test('a path of 101..255 bytes with a usable slash is split into ustar prefix + name (no PAX)', async () => {
    const name = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(90)}`;
    const tar = await roundTrip([file(name, 'x'), dir(`${'d'.repeat(120)}/${'e'.repeat(30)}`)]);
    assert.equal(flagAt(tar), '0');
    assert.equal(tar.toString('latin1', 345, 345 + 121), `${'a'.repeat(60)}/${'b'.repeat(60)}`);
  });

  test('a path that cannot be split (>255 bytes, or one component >100) goes into a PAX header', async () => {
    const long = `${'x'.repeat(150)}/${'y'.repeat(150)}/z`;
    const oneComponent = 'q'.repeat(101);
    const tar = await roundTrip([file(long, 'long'), file(oneComponent, 'one'), dir(`${'w'.repeat(300)}`)]);
    assert.equal(flagAt(tar), 'x');
    assert.ok(tar.includes(`path=${long}\n`));
  });

  test('a name of exactly 100 bytes fills the ustar name field without a NUL and without PAX', async () => {
    const name = 'n'.repeat(100);
    const tar = await roundTrip([file(name, 'hundred')]);
    assert.equal(flagAt(tar), '0');
    assert.equal(tar.toString('latin1', 0, 100), name);
  });

  test('link targets longer than 100 bytes (symlink and hard link) go through PAX linkpath', async () => {
    const target = `${'t'.repeat(120)}/${'u'.repeat(80)}`;
    const longFile = `${'h'.repeat(130)}`;
    await roundTrip([symlink('s', target), file(longFile, 'data'), hardlink('h', longFile)]);
  });

  test('non-ASCII names, link targets and owner names survive (byte lengths, not character counts)', async () => {
    const multiByte = 'é'.repeat(60); // 60 characters but 120 bytes: must not fit the 100-byte name field
    const splittable = `${'é'.repeat(70)}/${'ñ'.repeat(45)}`; // 140-byte prefix + 90-byte name
    const tar = await roundTrip([
      dir('données'),
      file('données/日本語のファイル.txt', 'こんにちは', { uname: 'jürgen', gname: 'grüppe' }),
      symlink('données/lien', 'cible/ü'),
      file(multiByte, 'm'),
      file(splittable, 's'),
      file('owner', 'o', { uname: 'ü'.repeat(20), gname: 'g'.repeat(33) }), // 40 and 33 bytes: PAX uname/gname
    ]);
    assert.ok(tar.includes(`path=${multiByte}\n`));
    assert.ok(tar.includes(`uname=${'ü'.repeat(20)}\n`));
  });

  test('uid/gid above the 7-digit octal limit go through PAX; the ustar field holds 0', async () => {
    const tar = await roundTrip([
      file('big-ids', 'x', { uid: 0o7777777 + 1, gid: 3_000_000_000 }),
      file('max-octal', 'y', { uid: 0o7777777, gid: 0o7777777 }),
    ]);
    assert.ok(tar.includes(`uid=${0o7777777 + 1}\n`));
    assert.ok(tar.includes('gid=3000000000\n'));
    // max-octal fits: no PAX before its header (its header directly follows big-ids' header+body).
    const entries = await readAll(tar);
    assert.equal(flagAt(tar, entries[1]!.offset), '0');
    assert.equal(tar.toString('latin1', entries[1]!.offset + 108, entries[1]!.offset + 115), '7777777');
  });

  test('fractional and very large mtimes go through PAX and come back exactly', async () => {
    const tar = await roundTrip([
      file('frac', 'f', { mtime: 1700000000.25 }),
      file('far-future', 'g', { mtime: 2 ** 34 }),
      dir('dir-frac', { mtime: 1.5 }),
    ]);
    assert.ok(tar.includes('mtime=1700000000.25\n'));
    // The ustar field still carries the whole seconds for readers that ignore PAX.
    assert.equal(tar.toString('latin1', 1024 + 136, 1024 + 147), (1700000000).toString(8).padStart(11, '0'));
  });

  test('xattrs with binary values (NUL, newline, "=", 0xff, empty) round trip on files, dirs and symlinks', async () => {
    const xattrs = {
      'user.bin': Buffer.from([0, 1, 2, 0x0a, 0x3d, 0xff, 0x20, 0]),
      'security.capability': noise(20, 7),
      'user.empty': Buffer.alloc(0),
      'user.ünï': Buffer.from('ok'),
    };
    await roundTrip([
      file('f', 'content', { xattrs }),
      dir('d', { xattrs: { 'trusted.overlay.opaque': Buffer.from('y') } }),
      symlink('s', 'f', { xattrs: { 'user.x': Buffer.from([0xff]) } }),
    ]);
  });

  test('PAX record lengths are right where the length field gains a digit (99->100, 999->1000)', async () => {
    // A record is "LEN key=value\n" where LEN counts its own digits: sweep across both digit boundaries.
    const entries: TarWriteEntry[] = [];
    for (let n = 985; n <= 1000; n++) entries.push(file('p'.repeat(n), String(n)));
    for (let n = 65; n <= 85; n++) entries.push(file(`x${n}`, '', { xattrs: { 'user.k': Buffer.alloc(n, 0x61) } }));
    const tar = await roundTrip(entries);
    // GNU tar must agree with every record (it rejects a wrong length as a malformed header).
    if (hasCommand('tar')) {
      await withTempDir((d) => {
        writeFileSync(join(d, 'x.tar'), tar);
        const r = runFull('tar', ['-tf', 'x.tar'], d);
        assert.equal(r.stderr, '');
        assert.equal(r.stdout.split('\n').filter(Boolean).length, entries.length);
      });
    }
  });

  test('a file size above 8 GiB is carried by PAX (header only; the body is not needed to read it)', async () => {
    const header = encodeHeader(makeHeader({ name: 'huge', type: 'file', size: 2 ** 33 + 5 }));
    assert.ok(header.includes(`size=${2 ** 33 + 5}\n`));
    for await (const e of readTar(chunks(header))) {
      assert.equal(e.header.size, 2 ** 33 + 5);
      break; // stop before the (absent) body is skipped
    }
  });

  test('output is deterministic: same entries give identical bytes, whatever the xattr key order', async () => {
    const make = (order: string[]): TarWriteEntry[] => {
      const xattrs: Record<string, Buffer> = {};
      for (const k of order) xattrs[k] = Buffer.from(k.toUpperCase());
      return [
        dir('a', { mtime: 1 }),
        file(`a/${'l'.repeat(300)}`, noise(1000), { mtime: 1.5, uid: 5_000_000, xattrs }),
        symlink('a/s', 't'.repeat(200)),
        hardlink('a/h', `a/${'l'.repeat(300)}`),
      ];
    };
    const one = await tarOf(make(['user.a', 'user.b', 'user.c']));
    const two = await tarOf(make(['user.c', 'user.a', 'user.b']));
    assert.ok(one.equals(two));
    assert.ok(one.equals(await tarOf(make(['user.a', 'user.b', 'user.c']))));
    // And it changes when the content does (the comparison can fail).
    const other = make(['user.a']);
    assert.ok(!one.equals(await tarOf(other)));
  });

  test('any chunking of the input stream reads the same entries', async () => {
    const tar = await tarOf([
      file('a', noise(700, 3)),
      file(`${'l'.repeat(40)}/${'m'.repeat(300)}`, noise(1500, 4), { xattrs: { 'user.a': noise(600, 5) } }),
      symlink('s', 'x'.repeat(150)),
      file('b', 'tail'),
    ]);
    const whole = await readAll(tar, tar.length);
    assert.equal(whole.length, 4);
    for (const size of [1, 7, 511, 512, 513, 4096]) {
      assert.deepEqual(await readAll(tar, size), whole, `chunk size ${size}`);
    }
  });

  test('unread bodies are skipped; a partly read body is finished when the next entry is asked for', async () => {
    const entries = [file('a', noise(3000, 1)), file('b', noise(10, 2)), file('c', 'c-content')];
    const tar = await tarOf(entries);
    const names: string[] = [];
    let i = 0;
    for await (const e of readTar(chunks(tar, 100))) {
      names.push(e.header.name);
      if (i === 0) {
        // read only the first piece of a's body
        const it = e.body[Symbol.asyncIterator]();
        assert.equal((await it.next()).done, false);
      }
      if (i === 2) assert.equal((await collect(e.body)).toString(), 'c-content');
      i++;
    }
    assert.deepEqual(names, ['a', 'b', 'c']);
  });

  test('offset is where an entry begins, its PAX header included', async () => {
    const tar = await tarOf([file('a', 'xyz'), file('p'.repeat(200), 'long'), dir('d')]);
    const back = await readAll(tar);
    assert.deepEqual(
      back.map((e) => e.offset),
      [0, 1024, 1024 + 512 * 3 + 512], // a: header+1 block; long: PAX header + PAX data + header + 1 block
    );
    assert.equal(flagAt(tar, back[1]!.offset), 'x');
    assert.equal(flagAt(tar, back[2]!.offset), '5');
  });

  test('reading stops at the end-of-archive blocks (trailing bytes ignored); a missing end is accepted', async () => {
    const tar = await tarOf([file('a', 'A'), file('b', 'B')]);
    const want = await readAll(tar);
    assert.equal(want.length, 2);
    assert.deepEqual(await readAll(Buffer.concat([tar, Buffer.from('trailing junk')])), want);
    assert.deepEqual(await readAll(tar.subarray(0, tar.length - 1024)), want);
  });
});

describe('reading tars made by GNU tar', { skip: !hasCommand('tar') && 'GNU tar is not installed' }, () => {
  const longDir = 'long-directory-name-'.repeat(6); // 120 bytes
  const longFile = `${'file-with-a-very-long-name-'.repeat(5)}.txt`; // 139 bytes
  const longTarget = `target/${'t'.repeat(150)}`;

  /** short.txt, a file under long names, a symlink with a long target, a hard link to the long file. */
  function makeTree(root: string): void {
    mkdirSync(join(root, longDir));
    writeFileSync(join(root, 'short.txt'), 'short');
    chmodSync(join(root, 'short.txt'), 0o640);
    writeFileSync(join(root, longDir, longFile), 'deep content');
    linkSync(join(root, longDir, longFile), join(root, 'hard'));
    symlinkSync(longTarget, join(root, 'link'));
    writeFileSync(join(root, 'ünïcödé-名前.txt'), 'unicode');
    utimesSync(join(root, 'short.txt'), 1600000000.5, 1600000000.5);
  }

  /** Type flags of the GNU long-name records ('././@LongLink') found at block boundaries. */
  function longLinkFlags(tar: Buffer): Set<string> {
    const flags = new Set<string>();
    for (let off = 0; off + 512 <= tar.length; off += 512) {
      if (tar.toString('latin1', off, off + 13) === '././@LongLink') flags.add(flagAt(tar, off));
    }
    return flags;
  }

  async function checkTree(tar: Buffer, fractionalMtime: boolean): Promise<void> {
    const byName = new Map((await readAll(tar)).map((e) => [e.header.name, e]));
    const short = byName.get('short.txt')!;
    assert.equal(short.body.toString(), 'short');
    assert.equal(short.header.mode, 0o640);
    assert.equal(short.header.mtime, fractionalMtime ? 1600000000.5 : 1600000000);
    assert.equal(short.header.uname, 'root');
    assert.equal(byName.get(`${longDir}/`)?.header.type, 'dir');
    // GNU tar stores the first of the two names as the file, the second as a hard link to it.
    const deepName = `${longDir}/${longFile}`;
    const deep = byName.get(deepName)!;
    const hard = byName.get('hard')!;
    const [fileEntry, linkEntry, linkTarget] = deep.header.type === 'file' ? [deep, hard, deepName] : [hard, deep, 'hard'];
    assert.equal(fileEntry.header.type, 'file');
    assert.equal(fileEntry.body.toString(), 'deep content');
    assert.equal(linkEntry.header.type, 'hardlink');
    assert.equal(linkEntry.header.linkname, linkTarget);
    const link = byName.get('link')!;
    assert.equal(link.header.type, 'symlink');
    assert.equal(link.header.linkname, longTarget);
    assert.equal(byName.get('ünïcödé-名前.txt')?.body.toString(), 'unicode');
  }

  test('--format=gnu: long names and long link targets in GNU L/K records', async () => {
    await withTempDir(async (d) => {
      makeTree(d);
      // The long file is stored first, so `hard` becomes a hard link whose long target needs a K record
      // (as does the symlink's target); the long path itself needs an L record.
      run('tar', ['--format=gnu', '-cf', 'out.tar', longDir, 'hard', 'link', 'short.txt', 'ünïcödé-名前.txt'], d);
      const tar = readFileSync(join(d, 'out.tar'));
      assert.deepEqual(longLinkFlags(tar), new Set(['L', 'K']));
      await checkTree(tar, false);
    });
  });

  test('--format=posix: PAX names, link targets and fractional mtime', async () => {
    await withTempDir(async (d) => {
      makeTree(d);
      run('tar', ['--format=posix', '-cf', 'out.tar', longDir, 'hard', 'link', 'short.txt', 'ünïcödé-名前.txt'], d);
      const tar = readFileSync(join(d, 'out.tar'));
      assert.equal(longLinkFlags(tar).size, 0);
      assert.equal(flagAt(tar), 'x');
      await checkTree(tar, true);
    });
  });

  test('--format=gnu with ids and mtime too big for octal: base-256 numbers', async () => {
    await withTempDir(async (d) => {
      writeFileSync(join(d, 'f'), 'x');
      run('tar', ['--format=gnu', '--owner=big:3000000', '--group=grp:4000000', '--mtime=@99999999999', '-cf', 'out.tar', 'f'], d);
      const tar = readFileSync(join(d, 'out.tar'));
      assert.equal(tar[108]! & 0x80, 0x80, 'uid field is base-256');
      const [e] = await readAll(tar);
      assert.equal(e!.header.uid, 3000000);
      assert.equal(e!.header.gid, 4000000);
      assert.equal(e!.header.mtime, 99999999999);
      assert.equal(e!.header.uname, 'big');
    });
  });

  /** A 10 MiB file with holes and data at the given offsets (truncate + dd, as a user would). */
  function makeSparse(d: string, offsets: number[]): Buffer {
    const f = join(d, 'f');
    run('truncate', ['-s', '10M', f]);
    offsets.forEach((off, i) => {
      const data = noise(Math.min(100 + ((i * 997) % 3000), (10 << 20) - off), i + 11);
      run('dd', ['of=f', 'bs=4096', `seek=${off}`, 'oflag=seek_bytes', 'conv=notrunc', 'status=none'], d, data);
    });
    const bytes = readFileSync(f);
    assert.equal(bytes.length, 10 << 20);
    return bytes;
  }

  async function checkSparse(tar: Buffer, original: Buffer): Promise<void> {
    assert.ok(tar.length < 1 << 20, `archive is ${tar.length} bytes: the file was not stored sparse`);
    const entries = await readAll(tar);
    assert.equal(entries.length, 1);
    const [e] = entries;
    assert.equal(e!.header.name, 'f');
    assert.equal(e!.header.type, 'file');
    assert.equal(e!.header.size, original.length);
    assert.equal(e!.body.length, original.length);
    assert.ok(e!.body.equals(original), 'expanded body differs from the original file');
  }

  // 30 data regions: more than the 4 map slots of an old GNU header and the 21 of one extension block.
  const manyOffsets = [0, ...Array.from({ length: 28 }, (_, i) => (i + 1) * 340_007 + 3), (10 << 20) - 5];

  test('--sparse --format=gnu: old GNU sparse with extension blocks', async () => {
    await withTempDir(async (d) => {
      const original = makeSparse(d, manyOffsets);
      run('tar', ['--sparse', '--format=gnu', '-cf', 'out.tar', 'f'], d);
      const tar = readFileSync(join(d, 'out.tar'));
      assert.equal(flagAt(tar), 'S');
      assert.notEqual(tar[482], 0, 'the header has sparse extension blocks');
      await checkSparse(tar, original);
    });
  });

  test('--sparse --format=posix: PAX sparse 1.0 (map in the data, longer than one block)', async () => {
    await withTempDir(async (d) => {
      const offsets = Array.from({ length: 60 }, (_, i) => i * 170_003 + 17);
      const original = makeSparse(d, offsets);
      run('tar', ['--sparse', '--format=posix', '-cf', 'out.tar', 'f'], d);
      const tar = readFileSync(join(d, 'out.tar'));
      assert.ok(tar.includes('GNU.sparse.major=1\n'));
      await checkSparse(tar, original);
    });
  });

  test('--sparse --format=posix --sparse-version=0.1: PAX sparse map record', async () => {
    await withTempDir(async (d) => {
      const original = makeSparse(d, [1_000_000, 5_000_000, 9_000_000]);
      run('tar', ['--sparse', '--format=posix', '--sparse-version=0.1', '-cf', 'out.tar', 'f'], d);
      const tar = readFileSync(join(d, 'out.tar'));
      assert.ok(tar.includes('GNU.sparse.map='));
      await checkSparse(tar, original);
    });
  });

  test('--sparse --format=posix --sparse-version=0.0: repeated offset/numbytes records', async () => {
    await withTempDir(async (d) => {
      const original = makeSparse(d, [1_000_000, 5_000_000, 9_000_000]);
      run('tar', ['--sparse', '--format=posix', '--sparse-version=0.0', '-cf', 'out.tar', 'f'], d);
      const tar = readFileSync(join(d, 'out.tar'));
      assert.ok(tar.includes('GNU.sparse.offset='));
      await checkSparse(tar, original);
    });
  });

  test('--xattrs --format=posix: SCHILY.xattr records with binary values', async (t) => {
    await withTempDir(async (d) => {
      writeFileSync(join(d, 'f'), 'with xattrs');
      const value = Buffer.from([0x00, 0xff, 0x0a, 0x3d, 0x41]);
      const failure = setXattr(join(d, 'f'), 'user.shale', value);
      if (failure) {
        console.log(`# skipped GNU tar xattr case: cannot set xattrs here (${failure})`);
        t.skip(`cannot set xattrs: ${failure}`);
        return;
      }
      run('tar', ['--xattrs', "--xattrs-include=user.*", '--format=posix', '-cf', 'out.tar', 'f'], d);
      const [e] = await readAll(readFileSync(join(d, 'out.tar')));
      assert.ok(e!.header.xattrs, 'no xattrs were read');
      assert.deepEqual(e!.header.xattrs['user.shale'], value);
      assert.equal(e!.body.toString(), 'with xattrs');
    });
  });
});

/** Sets an xattr with setfattr, or Python's os.setxattr; returns why it failed, or undefined. */
function setXattr(path: string, name: string, value: Buffer): string | undefined {
  const reasons: string[] = [];
  if (hasCommand('setfattr')) {
    try {
      run('setfattr', ['-n', name, '-v', `0x${value.toString('hex')}`, path]);
      return undefined;
    } catch (e) {
      reasons.push(`setfattr: ${(e as Error).message.split('\n')[0]}`);
    }
  } else reasons.push('setfattr is not installed');
  if (hasCommand('python3')) {
    try {
      run('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]))', path, name, value.toString('hex')]);
      return undefined;
    } catch (e) {
      reasons.push(`python3 os.setxattr: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return reasons.join('; ');
}

describe('GNU tar reads what writeTar writes', { skip: !hasCommand('tar') && 'GNU tar is not installed' }, () => {
  test('extracting long names, long link targets, non-ASCII, big ids, fractional mtime and hard links', async () => {
    const longPath = `${'a'.repeat(150)}/${'b'.repeat(150)}`;
    const tar = await tarOf([
      dir('top', { mode: 0o750 }),
      dir(`top/${'a'.repeat(150)}`),
      file(`top/${longPath}`, 'long', { mode: 0o600, mtime: 1700000000.25, uid: 3_000_000, gid: 4_000_000 }),
      symlink('top/sym', `${'s'.repeat(150)}/target`),
      hardlink('top/hard', `top/${longPath}`),
      file('top/ünï.txt', 'unicode', { mtime: 1600000000 }),
    ]);
    await withTempDir((d) => {
      writeFileSync(join(d, 'x.tar'), tar);
      mkdirSync(join(d, 'out'));
      const r = runFull('tar', ['-xf', '../x.tar'], join(d, 'out'));
      assert.equal(r.stderr, '');
      const top = join(d, 'out', 'top');
      assert.equal(statSync(top).mode & 0o7777, 0o750);
      const long = join(top, longPath);
      assert.equal(readFileSync(long, 'utf8'), 'long');
      const st = statSync(long);
      assert.equal(st.mode & 0o7777, 0o600);
      assert.equal(st.mtimeMs, 1700000000250);
      if (process.getuid?.() === 0) assert.deepEqual([st.uid, st.gid], [3_000_000, 4_000_000]);
      assert.equal(readlinkSync(join(top, 'sym')), `${'s'.repeat(150)}/target`);
      assert.ok(lstatSync(join(top, 'sym')).isSymbolicLink());
      assert.equal(statSync(join(top, 'hard')).ino, st.ino);
      assert.equal(readFileSync(join(top, 'ünï.txt'), 'utf8'), 'unicode');
    });
  });
});

describe('corrupt and truncated tars', () => {
  const twoFiles = () => tarOf([file('a', noise(2000, 1)), file('b', 'x')]);

  test('cut inside a header block -> CORRUPT_INPUT', async () => {
    const tar = await twoFiles();
    await rejectsWithCode(() => readAll(tar.subarray(0, 300)), 'CORRUPT_INPUT');
    await rejectsWithCode(() => readAll(tar.subarray(0, 512 + 2048 + 100)), 'CORRUPT_INPUT'); // second header
  });

  test('cut inside a body, right after a header, or in the padding -> CORRUPT_INPUT', async () => {
    const tar = await twoFiles();
    for (const cut of [512 + 1000, 512, 512 + 2000 + 10]) {
      await rejectsWithCode(() => readAll(tar.subarray(0, cut)), 'CORRUPT_INPUT');
    }
  });

  test('a truncated body is reported even when the body is never read (skipped)', async () => {
    const tar = await twoFiles();
    await rejectsWithCode(async () => {
      for await (const e of readTar(chunks(tar.subarray(0, 1200)))) void e;
    }, 'CORRUPT_INPUT');
  });

  test('cut inside a PAX extension header -> CORRUPT_INPUT', async () => {
    const tar = await tarOf([file('p'.repeat(300), 'x')]);
    await rejectsWithCode(() => readAll(tar.subarray(0, 512 + 100)), 'CORRUPT_INPUT');
  });

  test('cut exactly between two entries reads the entries before the cut (as GNU tar does)', async () => {
    const tar = await twoFiles();
    const back = await readAll(tar.subarray(0, 512 + 2048));
    assert.deepEqual(back.map((e) => e.header.name), ['a']);
  });

  test('a header whose checksum does not match -> CORRUPT_INPUT', async () => {
    const tar = await twoFiles();
    const bad = Buffer.from(tar);
    bad[0] = 'z'.charCodeAt(0); // name changed, checksum not updated
    await rejectsWithCode(() => readAll(bad), 'CORRUPT_INPUT');
    const bad2 = Buffer.from(tar);
    bad2[512 + 2048 + 1] ^= 1; // second entry's header
    await rejectsWithCode(() => readAll(bad2), 'CORRUPT_INPUT');
  });

  test('input that is not a tar at all -> CORRUPT_INPUT', async () => {
    await rejectsWithCode(() => readAll(Buffer.from('hello, this is not a tar archive\n'.repeat(40))), 'CORRUPT_INPUT');
  });

  test('an unknown type flag -> CORRUPT_INPUT', async () => {
    const tar = patchHeader(await tarOf([file('a', 'x')]), 0, (b) => (b[156] = 'Z'.charCodeAt(0)));
    await rejectsWithCode(() => readAll(tar), 'CORRUPT_INPUT');
  });

  test('a malformed PAX record (bad length, no "=") -> CORRUPT_INPUT', async () => {
    const tar = await tarOf([file('p'.repeat(300), 'x')]);
    const badLen = Buffer.from(tar);
    badLen.write('zz', 512, 'latin1'); // the record length digits
    await rejectsWithCode(() => readAll(badLen), 'CORRUPT_INPUT');
    const noEq = Buffer.from(tar);
    const eq = noEq.indexOf('=', 512);
    noEq[eq] = 'X'.charCodeAt(0);
    await rejectsWithCode(() => readAll(noEq), 'CORRUPT_INPUT');
  });

  test('an extension header larger than maxMetaBytes -> CORRUPT_INPUT', async () => {
    const tar = await tarOf([file('p'.repeat(300), 'x')]);
    await rejectsWithCode(async () => {
      for await (const e of readTar(chunks(tar), { maxMetaBytes: 100 })) void e;
    }, 'CORRUPT_INPUT');
    // the same archive is fine with the default limit
    assert.equal((await readAll(tar)).length, 1);
  });

  test('the error names the input given as `what`', async () => {
    const err = await rejectsWithCode(async () => {
      for await (const e of readTar(chunks(Buffer.alloc(100, 1)), { what: 'layer sha256:abc' })) void e;
    }, 'CORRUPT_INPUT');
    assert.match(err.message, /layer sha256:abc/);
  });
});

describe('writeTar refuses a body that does not match its header size', () => {
  const header = (size: number): TarHeader => makeHeader({ name: 'f', type: 'file', size });

  test('a body shorter than header.size -> SIZE_MISMATCH (Buffer and stream bodies)', async () => {
    await rejectsWithCode(() => collect(writeTar([{ header: header(10), body: Buffer.from('short') }])), 'SIZE_MISMATCH');
    await rejectsWithCode(() => collect(writeTar([{ header: header(10), body: chunks(Buffer.from('short'), 2) }])), 'SIZE_MISMATCH');
  });

  test('no body at all for a non-empty file -> SIZE_MISMATCH', async () => {
    await rejectsWithCode(() => collect(writeTar([{ header: header(1) }])), 'SIZE_MISMATCH');
  });

  test('a body longer than header.size -> SIZE_MISMATCH, and no extra bytes are emitted', async () => {
    await rejectsWithCode(() => collect(writeTar([{ header: header(3), body: Buffer.from('toolong') }])), 'SIZE_MISMATCH');
    let emitted = 0;
    await rejectsWithCode(async () => {
      for await (const c of writeTar([{ header: header(4), body: chunks(Buffer.from('abcdefgh'), 3) }])) emitted += c.length;
    }, 'SIZE_MISMATCH');
    assert.ok(emitted <= 512 + 4, `emitted ${emitted} bytes`);
  });
});
