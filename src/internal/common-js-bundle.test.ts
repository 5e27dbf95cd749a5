/** The CLI's launchers run its bundle through here: as a CommonJS module, and through a code cache of the same source. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { runCommonJsBundle } from './common-js-bundle.js';

const require = createRequire(import.meta.url);
const SOURCE = `const { basename } = require('node:path');
exports.name = basename(__filename);
exports.dir = __dirname;
module.exports.twice = (n) => n * 2;`;

test('runs the source as a CommonJS module with the given require and file name', () => {
  const { exports } = runCommonJsBundle(SOURCE, '/opt/shale/dist/shale.cjs', require);
  assert.equal(exports.name, 'shale.cjs');
  assert.equal(exports.dir, '/opt/shale/dist');
  assert.equal((exports.twice as (n: number) => number)(21), 42);
});

test('a code cache made from a run is taken by the next run of the same source, refused for another source', () => {
  const first = runCommonJsBundle(SOURCE, 'a.cjs', require);
  const cache = first.script.createCachedData();
  assert.ok(cache.length > 0);
  const second = runCommonJsBundle(SOURCE, 'a.cjs', require, cache);
  assert.equal(second.script.cachedDataRejected, false);
  assert.equal((second.exports.twice as (n: number) => number)(4), 8);
  const other = runCommonJsBundle(`${SOURCE}\nexports.more = 1;`, 'a.cjs', require, cache);
  assert.equal(other.script.cachedDataRejected, true);
  assert.equal(other.exports.more, 1);
});
