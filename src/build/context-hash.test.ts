import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contextEntryHasher, dirSourceName, imageEntryHasher } from './context-hash.js';

describe('context entry hashes (Docker classic builder, measured)', () => {
  test('file: a.txt 0644 "hello\\n" is the hash of the reference COPY', () => {
    const hex = contextEntryHasher({ path: 'a.txt', type: 'file', mode: 0o644, size: 6 }).update('hello\n').digest('hex');
    assert.equal(hex, '00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda');
  });

  test('dir: d/ (0755) holding x (0644 "x\\n") is the hash of the reference COPY d /d', () => {
    const dir = contextEntryHasher({ path: 'd', type: 'dir', mode: 0o755, size: 0 }).digest('hex');
    const file = contextEntryHasher({ path: 'd/x', type: 'file', mode: 0o644, size: 2 }).update('x\n').digest('hex');
    assert.equal(dirSourceName([file, dir]), 'dir:649c5e2d66cc69f4dedf115b0e9a088e65df0feaaa8b7780719ea57dabf2c9ca');
  });

  test('mode, name, link target and xattrs all change the hash', () => {
    const base = { path: 'l', type: 'symlink' as const, mode: 0o777, size: 0, linkname: 'target' };
    const h = (o: object) => contextEntryHasher({ ...base, ...o }).digest('hex');
    const all = new Set([h({}), h({ mode: 0o755 }), h({ path: 'm' }), h({ linkname: 'other' }), h({ xattrs: { 'security.capability': 'x' } })]);
    assert.equal(all.size, 5);
  });
});

describe('context entries: links (Docker classic builder, measured)', () => {
  // context: tree/x ("x\n"), tree/xhard (hard link to tree/x), tree/lnk -> x, tree/dangling -> /nowhere
  const x = () => contextEntryHasher({ path: 'tree/x', type: 'file', mode: 0o644, size: 2 }).update('x\n').digest('hex');

  test('COPY tree/x and COPY tree/lnk (a symlink to it) both record the sum of tree/x', () => {
    assert.equal(x(), 'c3c803ad4a098328049d2fe6a53a19648ba6b07b4f77d439d4599b54ed6c6508');
  });

  test('a second name of a hard-linked file is a typeflag-1 header naming the first, without content', () => {
    const hex = contextEntryHasher({ path: 'tree/xhard', type: 'hardlink', mode: 0o644, size: 2, linkname: 'tree/x' }).digest('hex');
    assert.equal(hex, '3630f4914fa901140e430346a458580709b4ab83870b57d123d8a104470a46a8');
  });

  test('COPY tree: a symlink counts as its target, a dangling one as its path string', () => {
    const dir = contextEntryHasher({ path: 'tree', type: 'dir', mode: 0o755, size: 0 }).digest('hex');
    const hard = contextEntryHasher({ path: 'tree/xhard', type: 'hardlink', mode: 0o644, size: 0, linkname: 'tree/x' }).digest('hex');
    assert.equal(dirSourceName([dir, 'tree/dangling', x(), x(), hard]), 'dir:201e9bd83c973352d5a8daed5c5616ea10259b02ea241a004746db1f61d180c2');
  });
});

describe('image entries of COPY --from (Docker classic builder, measured)', () => {
  const host = { user: (id: number) => ({ 0: 'root', 65534: 'nobody', 1000: 'cloudsdk' })[id] ?? '', group: (id: number) => ({ 0: 'root', 65534: 'nogroup', 1000: 'cloudsdk' })[id] ?? '' };
  const file = (path: string, mode: number, content: string, uid = 0, gid = 0) =>
    imageEntryHasher(path, { mode: 0o100000 | mode, uid, gid, size: content.length, rdev: 0 }, host).update(content).digest('hex');
  const dir = (path: string) => imageEntryHasher(path, { mode: 0o040755, uid: 0, gid: 0, size: 4096, rdev: 0 }, host).digest('hex');

  test('a file: mode with its type bits, the host names of its owner', () => {
    assert.equal(file('out/artifact', 0o751, 'built\n'), '2edcd1611d2714d069730d05bb47cec191ca6c1d03dbbb48c7960a7ee65fc035');
    assert.equal(file('o/b', 0o4755, 'b\n', 65534, 65534), '2a3de08ea5497da330a67e60fcea621f425b03966f3a33c78bf00f81627dadc4');
    assert.equal(file('o/n', 0o644, 'n\n', 1000, 1000), '3b83fe16f58e58a56cf6e0bed50c1e3a064cc446366e6ba5e2c07f186f21f5b9');
  });

  test('an owner the host does not know has empty names', () => {
    assert.equal(file('o/a', 0o644, 'a\n', 4242, 4243), '11193d5876b7b1766821b9ec5af8656ca8cf29cb1cf68e2794415be262e4073e');
  });

  test('COPY --from /out: the directory (size 0, name with /), a symlink to artifact counted as artifact', () => {
    const artifact = file('out/artifact', 0o751, 'built\n');
    const s = file('out/sub/s', 0o644, 's\n');
    assert.equal(dirSourceName([dir('out/sub'), s]), 'dir:4e3129a64cf6f38989215952b898fb63b2474fca0efc09f502265533bd8fd0d8');
    assert.equal(dirSourceName([dir('out'), artifact, artifact, dir('out/sub'), s]), 'dir:75dfc9c09be90fe309379b1e1ebc9d0631e1b1b7aa3273a114722aa0eea2bcd3');
  });

  test('a dangling symlink counts as the path it points to', () => {
    const a = file('o/a', 0o644, 'a\n', 4242, 4243);
    const b = file('o/b', 0o4755, 'b\n', 65534, 65534);
    const n = file('o/n', 0o644, 'n\n', 1000, 1000);
    // o/dang -> /missing; o/dl -> d (counted as o/d)
    assert.equal(dirSourceName([dir('o'), a, b, n, dir('o/d'), dir('o/d'), 'missing']), 'dir:3c6907c5af437f229ee46305dfd5ca9b2c3b57a9bbd71417c56a2269498e5ff6');
  });
});
