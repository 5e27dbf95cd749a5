import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveTree } from './live-tree.js';
import { PathTable } from './path-table.js';

/** A live tree driven by path strings and values, ids interned and values numbered on the way. */
function tree<V>() {
  const table = new PathTable();
  const t = new LiveTree(table);
  const values: V[] = [];
  return {
    set: (path: string, v: V) => t.set(table.intern(path), 0, values.push(v) - 1),
    get: (path: string) => {
      const id = table.intern(path);
      return t.layerOf(id) < 0 ? undefined : values[t.indexOf(id)];
    },
    remove: (path: string, keepSelf?: boolean): [string, V][] => t.remove(table.intern(path), keepSelf).map((c) => [table.path(c.id), values[c.index]!]),
    entries: () => [...t.entries()].map((c): [string, V] => [table.path(c.id), values[c.index]!]),
  };
}

const sorted = <V>(xs: [string, V][]): [string, V][] => [...xs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

test('set and get; entries are the paths that were given values (implied parents have none)', () => {
  const t = tree<number>();
  t.set('a/b/c', 1);
  t.set('a/x', 2);
  assert.equal(t.get('a/b/c'), 1);
  assert.equal(t.get('a/x'), 2);
  assert.equal(t.get('a'), undefined, 'an implied parent has no value');
  assert.equal(t.get('a/b'), undefined);
  t.set('a/x', 3);
  assert.equal(t.get('a/x'), 3, 'set replaces the value');
  assert.deepEqual(sorted([...t.entries()]), [['a/b/c', 1], ['a/x', 3]]);
});

test('remove drops the whole subtree, implied parents included, and returns what had values', () => {
  const t = tree<string>();
  t.set('d', 'dir');
  t.set('d/one', '1');
  t.set('d/sub/two', '2'); // d/sub is only implied
  t.set('dx', 'sibling with a common prefix');
  t.set('e/f', 'other');
  assert.deepEqual(sorted(t.remove('d')), [['d', 'dir'], ['d/one', '1'], ['d/sub/two', '2']]);
  assert.equal(t.get('d'), undefined);
  assert.equal(t.get('d/sub/two'), undefined);
  assert.equal(t.get('dx'), 'sibling with a common prefix', 'a name that only starts like the removed one stays');
  assert.deepEqual(sorted([...t.entries()]), [['dx', 'sibling with a common prefix'], ['e/f', 'other']]);
  // a second remove finds nothing
  assert.deepEqual(t.remove('d'), []);
});

test('remove with keepSelf drops only the children (an opaque directory)', () => {
  const t = tree<number>();
  t.set('o', 0);
  t.set('o/a', 1);
  t.set('o/b/c', 2);
  assert.deepEqual(sorted(t.remove('o', true)), [['o/a', 1], ['o/b/c', 2]]);
  assert.equal(t.get('o'), 0, 'the directory itself stays');
  assert.deepEqual([...t.entries()], [['o', 0]]);
});

test('remove of the root with keepSelf empties the tree', () => {
  const t = tree<number>();
  t.set('a', 1);
  t.set('b/c', 2);
  assert.deepEqual(sorted(t.remove('', true)), [['a', 1], ['b/c', 2]]);
  assert.deepEqual([...t.entries()], []);
});

test('paths set again after a remove are found by the next remove (parent links are rebuilt)', () => {
  const t = tree<number>();
  t.set('a/b/c', 1);
  t.remove('a/b');
  t.set('a/b/d', 2);
  assert.deepEqual(t.remove('a'), [['a/b/d', 2]]);
  t.set('o/x', 3);
  t.remove('o', true);
  t.set('o/y', 4);
  assert.deepEqual(t.remove('o'), [['o/y', 4]]);
  assert.deepEqual([...t.entries()], []);
});

test('removing a path that is not there changes nothing', () => {
  const t = tree<number>();
  t.set('a/b', 1);
  assert.deepEqual(t.remove('a/c'), []);
  assert.deepEqual(t.remove('zz/y'), []);
  assert.deepEqual([...t.entries()], [['a/b', 1]]);
  assert.deepEqual(t.remove('a'), [['a/b', 1]]);
});
