import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LayerScan, type ScanEntry } from './layer-scan.js';
import { accountStack, kindOf, needsContentCompare, type HiddenCopy } from './waste-accounting.js';

// Layers written by hand: each entry as its tar header would say, in tar order.
type Spec = Omit<ScanEntry, 'index'>;
const base = { size: 0, mode: 0o644, uid: 0, gid: 0, linkname: '' };
const file = (path: string, size: number, mode = 0o644): Spec => ({ ...base, path, type: 'file', size, mode });
const dir = (path: string): Spec => ({ ...base, path, type: 'dir', mode: 0o755 });
const symlink = (path: string, target: string): Spec => ({ ...base, path, type: 'symlink', linkname: target, mode: 0o777 });
const hardlink = (path: string, target: string): Spec => ({ ...base, path, type: 'hardlink', linkname: target });
const split = (p: string): [string, string] => {
  const i = p.lastIndexOf('/');
  return i < 0 ? ['', p] : [p.slice(0, i + 1), p.slice(i + 1)];
};
/** `.wh.NAME` hiding `target`. */
const whiteout = (target: string): Spec => {
  const [d, name] = split(target);
  return { ...base, path: `${d}.wh.${name}`, type: 'file', mark: 'whiteout', target };
};
/** `DIR/.wh..wh..opq`. */
const opaque = (d: string): Spec => ({ ...base, path: `${d}/.wh..wh..opq`, type: 'file', mark: 'opaque', target: d });
const layer = (...entries: Spec[]): LayerScan => LayerScan.of(entries);

/** The facts of a hidden copy that matter, sorted by path. */
const facts = (copies: HiddenCopy[]) =>
  copies
    .map((c) => ({ path: c.path, root: c.root, layer: c.layer, hiddenBy: c.hiddenBy, bytes: c.bytes, type: c.entry.type, replacement: c.replacement?.type }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
const counts = (r: ReturnType<typeof accountStack>) => r.counts.map(({ added, modified, removed }) => ({ added, modified, removed }));

test('a file overwritten by a later layer: the lower copy is hidden once, kind overwritten', () => {
  const r = accountStack([layer(dir('app'), file('app/data', 1000)), layer(dir('app'), file('app/data', 400))]);
  // the 1000-byte copy of layer 0 is dead; the 400-byte copy of layer 1 lives. dir over dir hides nothing.
  assert.deepEqual(facts(r.copies), [{ path: 'app/data', root: 'app/data', layer: 0, hiddenBy: 1, bytes: 1000, type: 'file', replacement: 'file' }]);
  const c = r.copies[0]!;
  assert.equal(needsContentCompare(c), false, '1000 vs 400 bytes: no need to hash');
  assert.equal(kindOf(c, false), 'overwritten');
  assert.deepEqual(counts(r), [
    { added: 1, modified: 0, removed: 0 }, // directories are not counted
    { added: 0, modified: 1, removed: 0 },
  ]);
  assert.deepEqual([...r.final().keys()].sort(), ['app', 'app/data']);
  assert.equal(r.final().get('app/data')!.layer, 1);
  assert.equal(r.final().get('app/data')!.entry.size, 400);
});

test('a same-size replacement needs a content compare: same bytes is metadata (a chmod copy-up), else overwritten', () => {
  const r = accountStack([layer(file('run.sh', 5000, 0o644)), layer(file('run.sh', 5000, 0o755))]);
  assert.equal(r.copies.length, 1);
  const c = r.copies[0]!;
  assert.equal(c.bytes, 5000);
  assert.equal(needsContentCompare(c), true);
  assert.equal(kindOf(c, true), 'metadata');
  assert.equal(kindOf(c, false), 'overwritten');
});

test('a deleted directory of 300 files: all 300 copies hidden at the whiteout, each counted once', () => {
  const files = Array.from({ length: 300 }, (_, i) => file(`cache/f${String(i).padStart(3, '0')}`, 100));
  const r = accountStack([layer(dir('keep'), file('keep/k', 7)), layer(dir('cache'), ...files), layer(whiteout('cache'))]);
  const hidden = r.copies.filter((c) => c.entry.type !== 'dir');
  assert.equal(hidden.length, 300);
  assert.ok(hidden.every((c) => c.root === 'cache' && c.layer === 1 && c.hiddenBy === 2 && c.bytes === 100 && !c.replacement));
  assert.ok(hidden.every((c) => kindOf(c, false) === 'deleted'));
  // 300 files * 100 bytes = 30000 bytes hidden
  assert.equal(hidden.reduce((n, c) => n + c.bytes, 0), 30_000);
  // the directory entry is hidden too (0 bytes); nothing of layer 0 is touched
  assert.deepEqual(r.copies.filter((c) => c.entry.type === 'dir').map((c) => [c.path, c.bytes]), [['cache', 0]]);
  assert.deepEqual(counts(r)[2], { added: 0, modified: 0, removed: 300 });
  assert.deepEqual([...r.final().keys()].sort(), ['keep', 'keep/k']);
});

test('an opaque directory hides the lower children; a child recreated there is overwritten, the others deleted', () => {
  const r = accountStack([
    layer(dir('o'), file('o/a', 111), file('o/b', 222), dir('o/sub'), file('o/sub/c', 5)),
    layer(dir('o'), opaque('o'), file('o/b', 2), file('o/n', 33)),
  ]);
  assert.deepEqual(facts(r.copies), [
    { path: 'o/a', root: 'o', layer: 0, hiddenBy: 1, bytes: 111, type: 'file', replacement: undefined },
    { path: 'o/b', root: 'o', layer: 0, hiddenBy: 1, bytes: 222, type: 'file', replacement: 'file' },
    { path: 'o/sub', root: 'o', layer: 0, hiddenBy: 1, bytes: 0, type: 'dir', replacement: undefined },
    { path: 'o/sub/c', root: 'o', layer: 0, hiddenBy: 1, bytes: 5, type: 'file', replacement: undefined },
  ]);
  const kinds = Object.fromEntries(r.copies.map((c) => [c.path, kindOf(c, false)]));
  assert.equal(kinds['o/a'], 'deleted');
  assert.equal(kinds['o/b'], 'overwritten');
  // layer 1: o/a and o/sub/c removed (2), o/b replaced (1), o/n new (1)
  assert.deepEqual(counts(r)[1], { added: 1, modified: 1, removed: 2 });
  assert.deepEqual([...r.final().keys()].sort(), ['o', 'o/b', 'o/n']);
});

test('hard links: deleting one name of a linked pair hides no bytes, deleting the last name hides them once', () => {
  const pair = layer(dir('hl'), file('hl/a', 4096), hardlink('hl/b', 'hl/a'));
  // one name, then the other in a later layer
  let r = accountStack([pair, layer(whiteout('hl/a')), layer(whiteout('hl/b'))]);
  assert.deepEqual(facts(r.copies), [
    { path: 'hl/a', root: 'hl/a', layer: 0, hiddenBy: 1, bytes: 0, type: 'file', replacement: undefined },
    { path: 'hl/b', root: 'hl/b', layer: 0, hiddenBy: 2, bytes: 4096, type: 'hardlink', replacement: undefined },
  ]);
  // only one name deleted: 0 bytes in all
  r = accountStack([pair, layer(whiteout('hl/b'))]);
  assert.equal(r.copies.reduce((n, c) => n + c.bytes, 0), 0);
  // both names in one layer: 4096 bytes once (with whichever name goes last)
  r = accountStack([pair, layer(whiteout('hl/a'), whiteout('hl/b'))]);
  assert.equal(r.copies.reduce((n, c) => n + c.bytes, 0), 4096);
  assert.deepEqual(r.copies.map((c) => c.bytes), [0, 4096]);
  // the whole directory: both names, 4096 bytes once
  r = accountStack([pair, layer(whiteout('hl'))]);
  assert.equal(r.copies.reduce((n, c) => n + c.bytes, 0), 4096);
  // overwriting one name and deleting the other: the content dies with the second
  r = accountStack([pair, layer(file('hl/a', 10)), layer(whiteout('hl/b'))]);
  assert.deepEqual(r.copies.map((c) => [c.path, c.hiddenBy, c.bytes]), [['hl/a', 1, 0], ['hl/b', 2, 4096]]);
});

test('a file replaced by a directory: the file is hidden by the directory entry (overwritten)', () => {
  // Docker writes the new directory as opaque: the marker finds nothing below it, the entry hides the file
  const r = accountStack([layer(file('x', 700)), layer(dir('x'), opaque('x'), file('x/inner', 10))]);
  assert.deepEqual(facts(r.copies), [{ path: 'x', root: 'x', layer: 0, hiddenBy: 1, bytes: 700, type: 'file', replacement: 'dir' }]);
  assert.equal(needsContentCompare(r.copies[0]!), false);
  assert.equal(kindOf(r.copies[0]!, false), 'overwritten');
  assert.deepEqual(counts(r)[1], { added: 1, modified: 0, removed: 0 });
});

test('a directory replaced by a file: its files are hidden at the directory path by the new entry (overwritten, not deleted)', () => {
  const r = accountStack([layer(dir('y'), file('y/one', 50), file('y/two', 60)), layer(file('y', 5))]);
  assert.deepEqual(facts(r.copies), [
    { path: 'y', root: 'y', layer: 0, hiddenBy: 1, bytes: 0, type: 'dir', replacement: 'file' },
    { path: 'y/one', root: 'y', layer: 0, hiddenBy: 1, bytes: 50, type: 'file', replacement: undefined },
    { path: 'y/two', root: 'y', layer: 0, hiddenBy: 1, bytes: 60, type: 'file', replacement: undefined },
  ]);
  // no whiteout was involved: a later layer replaced the path
  for (const c of r.copies) assert.equal(kindOf(c, false), 'overwritten', c.path);
  assert.equal(needsContentCompare(r.copies.find((c) => c.path === 'y/one')!), false);
  assert.deepEqual([...r.final().keys()], ['y']);
});

test('a symlink hidden by a whiteout counts its target length; a directory over a directory hides nothing', () => {
  const r = accountStack([layer(dir('d'), symlink('d/l', 'some/target'), file('d/f', 3)), layer(dir('d'), whiteout('d/l'))]);
  // 'some/target' is 11 bytes
  assert.deepEqual(facts(r.copies), [{ path: 'd/l', root: 'd/l', layer: 0, hiddenBy: 1, bytes: 11, type: 'symlink', replacement: undefined }]);
  assert.deepEqual([...r.final().keys()].sort(), ['d', 'd/f']);
});

test('an entry repeated in one layer hides nothing; a whiteout of a missing path hides nothing', () => {
  const r = accountStack([layer(file('a', 10), file('a', 12)), layer(whiteout('nothing/here'))]);
  assert.deepEqual(r.copies, []);
  assert.equal(r.final().get('a')!.entry.size, 12);
  assert.deepEqual(counts(r)[1], { added: 0, modified: 0, removed: 0 });
});

test('a whiteout then the same path added again in one layer: counted as modified, not removed', () => {
  const r = accountStack([layer(file('f', 9)), layer(whiteout('f'), file('f', 9))]);
  assert.equal(r.copies.length, 1);
  assert.equal(r.copies[0]!.replacement?.type, 'file');
  assert.deepEqual(counts(r)[1], { added: 0, modified: 1, removed: 0 });
});

test('with files: each layer lists its changes (A added, M modified, D removed)', () => {
  const r = accountStack([layer(file('a', 1), file('b', 2)), layer(file('a', 3), whiteout('b'), file('c', 4))], { files: true });
  assert.deepEqual(r.counts[1]!.files, [
    { path: 'b', type: 'file', size: 2, change: 'D' },
    { path: 'a', type: 'file', size: 3, change: 'M' },
    { path: 'c', type: 'file', size: 4, change: 'A' },
  ]);
  assert.equal(accountStack([layer(file('a', 1))]).counts[0]!.files, undefined);
});
