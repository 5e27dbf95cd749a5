import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diveMetrics } from './dive-metrics.js';
import { LayerScan, type ScanEntry } from './layer-scan.js';

// Layers by hand. dive reads only the tar headers: a path, a size, whether it is a directory. Its facts,
// as documented in src/analyze/README.md and dive's dive/filetree/efficiency.go:
// - each layer is a tree; only leaves (nodes without children in that layer's tree) are scored;
// - a leaf scores its header size; a whiteout leaf `.wh.X` scores path X with the summed sizes of X's
//   subtree in the stack of the layers beneath when X is a directory there (per its own header), else 0;
//   a whiteout whose X is missing beneath stops the scoring of the rest of that layer (name order,
//   children first); `.wh..wh..` names are never added to a tree;
// - efficiency = Σ min / Σ cumulative over paths; wasted = Σ cumulative of paths scored 2+ times;
//   userWastedPercent = wasted / (sum of header sizes of every layer but the first).
type Spec = Omit<ScanEntry, 'index'>;
const base = { size: 0, mode: 0o644, uid: 0, gid: 0, linkname: '' };
const file = (path: string, size: number): Spec => ({ ...base, path, type: 'file', size });
const dir = (path: string): Spec => ({ ...base, path, type: 'dir', mode: 0o755 });
const hardlink = (path: string, target: string): Spec => ({ ...base, path, type: 'hardlink', linkname: target });
const whiteout = (target: string): Spec => {
  const i = target.lastIndexOf('/');
  const path = i < 0 ? `.wh.${target}` : `${target.slice(0, i)}/.wh.${target.slice(i + 1)}`;
  return { ...base, path, type: 'file', mark: 'whiteout', target };
};
const opaque = (d: string): Spec => ({ ...base, path: `${d}/.wh..wh..opq`, type: 'file', mark: 'opaque', target: d });
const layer = (...entries: Spec[]): LayerScan => LayerScan.of(entries);

test('a file written twice: both copies count as wasted, efficiency is min over cumulative', () => {
  const m = diveMetrics([layer(file('a', 100), dir('d'), file('d/x', 10)), layer(file('a', 40))]);
  // paths: /a scored 100 (layer 0) and 40 (layer 1): cumulative 140, min 40, 2 times
  //        /d/x scored 10 once. /d is not a leaf in layer 0.
  // efficiency = (40 + 10) / (140 + 10) = 50 / 150
  assert.equal(m.efficiency, 50 / 150);
  assert.equal(m.wastedBytes, 140, 'the surviving 40-byte copy counts too');
  // sizes: layer 0 = 100 + 0 + 10 = 110, layer 1 = 40; user bytes 40; 140 / 40 = 3.5
  assert.equal(m.sizeBytes, 150);
  assert.equal(m.userSizeBytes, 40);
  assert.equal(m.userWastedPercent, 3.5);
  assert.deepEqual(m.inefficientFiles, [{ path: '/a', count: 2, wastedBytes: 140 }]);
});

test('a deleted file: the whiteout scores 0, so the path has min 0 and all its bytes are wasted (the seed split case)', () => {
  const m = diveMetrics([layer(file('base', 1000)), layer(dir('home'), file('home/big', 52_428_800)), layer(dir('home'), whiteout('home/big'))]);
  // /base 1000 once; /home/big 52428800 (layer 1) + 0 (whiteout of a file, layer 2): cumulative 52428800, min 0
  // /home is not a leaf in layer 1 or 2 (it has children there)
  // efficiency = (1000 + 0) / (1000 + 52428800)
  assert.equal(m.efficiency, 1000 / 52_429_800);
  assert.equal(m.wastedBytes, 52_428_800);
  // user bytes: layer 1 52428800 + layer 2 0
  assert.equal(m.userSizeBytes, 52_428_800);
  assert.equal(m.userWastedPercent, 1);
});

test('a deleted directory: the whiteout scores the subtree at its own path, which is scored once, so nothing is wasted', () => {
  const m = diveMetrics([layer(dir('d'), file('d/x', 10), file('d/y', 20), file('z', 5)), layer(whiteout('d'))]);
  // /d/x 10, /d/y 20, /z 5 once each; /d (the whiteout) = 0 (d) + 10 + 20 = 30, once
  // efficiency = (10 + 20 + 5 + 30) / (10 + 20 + 5 + 30) = 1
  assert.equal(m.efficiency, 1);
  assert.equal(m.wastedBytes, 0);
  assert.equal(m.userSizeBytes, 0, 'a whiteout has a header size of 0');
  assert.equal(m.userWastedPercent, null, 'no user bytes: dive divides by zero');
});

test('a directory deleted and recreated as a file: the whiteout score and the file meet at one path', () => {
  const m = diveMetrics([layer(dir('p'), file('p/q', 10)), layer(whiteout('p')), layer(file('p', 1))]);
  // /p/q 10 once; /p: 10 (whiteout of directory p: 0 + 10) then 1: cumulative 11, min 1
  // efficiency = (10 + 1) / (10 + 11) = 11 / 21; wasted = 11
  assert.equal(m.efficiency, 11 / 21);
  assert.equal(m.wastedBytes, 11);
  // user bytes 0 + 1 = 1
  assert.equal(m.userWastedPercent, 11);
});

test('an implied directory (no header of its own) is not a directory to dive: its whiteout scores 0', () => {
  const m = diveMetrics([layer(file('p/q', 10)), layer(whiteout('p')), layer(file('p', 1))]);
  // p exists in layer 0 only as a parent of p/q, with empty info: not a directory, so the whiteout scores 0
  // /p/q 10; /p: 0 then 1 -> cumulative 1, min 0; efficiency = (10 + 0) / (10 + 1)
  assert.equal(m.efficiency, 10 / 11);
  assert.equal(m.wastedBytes, 1);
});

test('stacking takes an upper layer\'s implied directory info over the lower directory (dive\'s quirk)', () => {
  const m = diveMetrics([layer(dir('p'), file('p/q', 10)), layer(file('p/r', 4)), layer(whiteout('p')), layer(file('p', 1))]);
  // layer 1 names p only as a parent: stacking it sets p's info to empty (not a directory), so the
  // whiteout in layer 2 scores 0, not 14.
  // /p/q 10, /p/r 4, /p: 0 then 1 (cumulative 1, min 0); efficiency = (10 + 4 + 0) / (10 + 4 + 1)
  assert.equal(m.efficiency, 14 / 15);
  assert.equal(m.wastedBytes, 1);
});

test('a whiteout of a path missing beneath stops scoring the rest of its layer (name order, children first)', () => {
  const m = diveMetrics([layer(file('a', 10)), layer(whiteout('b'), file('a', 5), file('c', 20))]);
  // layer 1 leaves in name order: ".wh.b" < "a" < "c"; b is missing beneath, so a and c are not scored.
  // /a 10 once: efficiency 1, wasted 0; the layer's size still counts: 5 + 20
  assert.equal(m.efficiency, 1);
  assert.equal(m.wastedBytes, 0);
  assert.equal(m.userSizeBytes, 25);
  assert.equal(m.userWastedPercent, 0);
  // the same names without the bad whiteout: /a scored twice
  const n = diveMetrics([layer(file('a', 10)), layer(file('a', 5), file('c', 20))]);
  // /a cumulative 15 min 5, /c 20: efficiency = (5 + 20) / (15 + 20)
  assert.equal(n.efficiency, 25 / 35);
  assert.equal(n.wastedBytes, 15);
});

test('a whiteout in the first layer is looked up in that layer itself', () => {
  // ".wh.x" in layer 0 with no x there: stops layer 0's scoring after it (".wh.x" < "y")
  const m = diveMetrics([layer(whiteout('x'), file('y', 3)), layer(file('y', 3))]);
  // only layer 1's /y (3) is scored: efficiency 1, wasted 0
  assert.equal(m.efficiency, 1);
  assert.equal(m.wastedBytes, 0);
  assert.equal(m.userSizeBytes, 3);
});

test('opaque markers are ignored: an opaque directory scores only its new children', () => {
  const m = diveMetrics([layer(dir('o'), file('o/x', 10)), layer(dir('o'), opaque('o'), file('o/y', 3))]);
  // /o/x 10 (layer 0), /o/y 3 (layer 1): each once; /o has children in both layers
  assert.equal(m.efficiency, 1);
  assert.equal(m.wastedBytes, 0);
  assert.equal(m.userSizeBytes, 3);
  // an opaque directory with no other children is an empty leaf in that layer: /o scored 0 there, once
  const e = diveMetrics([layer(dir('o'), file('o/x', 10)), layer(dir('o'), opaque('o'))]);
  assert.equal(e.efficiency, 1);
  assert.equal(e.wastedBytes, 0);
});

test('empty directories are leaves (scored 0); a path scored twice with 0 bytes wastes 0', () => {
  const m = diveMetrics([layer(dir('home'), file('f', 8)), layer(dir('home'))]);
  // /home 0 twice (cumulative 0, min 0), /f 8: efficiency 8/8, wasted 0 but /home is listed
  assert.equal(m.efficiency, 1);
  assert.equal(m.wastedBytes, 0);
  assert.deepEqual(m.inefficientFiles, [{ path: '/home', count: 2, wastedBytes: 0 }]);
});

test('hard links score their header size (0) and add nothing to a layer\'s size', () => {
  const m = diveMetrics([layer(file('a', 100), hardlink('b', 'a')), layer(hardlink('b', 'a'))]);
  // /a 100 once; /b 0 twice -> efficiency 100/100; sizes 100 and 0
  assert.equal(m.efficiency, 1);
  assert.equal(m.wastedBytes, 0);
  assert.equal(m.sizeBytes, 100);
  assert.equal(m.userSizeBytes, 0);
  assert.equal(m.userWastedPercent, null);
});

test('inefficient files are sorted by wasted bytes, largest first; no scores at all is efficiency 1', () => {
  const m = diveMetrics([layer(file('s', 1), file('l', 50)), layer(file('s', 2), file('l', 60)), layer(file('s', 3))]);
  // /s 1+2+3 = 6 (min 1), /l 50+60 = 110 (min 50); efficiency = (1 + 50) / (6 + 110)
  assert.equal(m.efficiency, 51 / 116);
  assert.equal(m.wastedBytes, 116);
  assert.deepEqual(m.inefficientFiles, [
    { path: '/l', count: 2, wastedBytes: 110 },
    { path: '/s', count: 3, wastedBytes: 6 },
  ]);
  const empty = diveMetrics([]);
  assert.deepEqual({ e: empty.efficiency, w: empty.wastedBytes, u: empty.userWastedPercent, s: empty.sizeBytes }, { e: 1, w: 0, u: null, s: 0 });
});
