import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPath, PathTable } from './path-table.js';

test('path table: ids stay one per path through growth and hash collisions, parents first', () => {
  const table = new PathTable();
  const paths = Array.from({ length: 5000 }, (_, i) => `d${i % 37}/sub${i % 11}/f${i}`);
  const ids = paths.map((p) => table.intern(p));
  // the same paths again, with the hash the scan workers give
  assert.deepEqual(
    paths.map((p) => table.intern(p, hashPath(p))),
    ids,
  );
  assert.equal(new Set(ids).size, paths.length);
  for (const [i, p] of paths.entries()) {
    assert.equal(table.path(ids[i]!), p);
    assert.equal(table.path(table.parent(ids[i]!)), p.slice(0, p.lastIndexOf('/')));
    assert.ok(table.parent(ids[i]!) < ids[i]!);
  }
  assert.equal(table.find('d3'), table.intern('d3'));
  assert.equal(table.find('nowhere'), undefined);
  assert.equal(table.find(''), 0);

  // names at the top (their parent, the root, needs no lookup) filed under one hash: every lookup collides
  const colliding = new PathTable();
  const names = ['a', 'b', 'c', 'd', 'e'];
  const same = names.map((p) => colliding.intern(p, 42));
  assert.deepEqual(
    names.map((p) => colliding.intern(p, 42)),
    same,
  );
  assert.deepEqual(same, [1, 2, 3, 4, 5]);
});
