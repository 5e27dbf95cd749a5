import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contextEntryHasher, dirSourceName } from './context-hash.js';

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
