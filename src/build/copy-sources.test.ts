import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { throwsShale } from './build-fixtures.js';
import { expandCopySources, hasWildcards, trimSourcePath } from './copy-sources.js';

const context = ['a.txt', 'b.txt', 'c.md', 'd', 'd/x', 'd/y.txt', 'd/e', 'd/e/z.txt', 'file[1].txt', 'star*name'];

describe('expandCopySources', () => {
  test('a plain source is returned cleaned, whether or not it exists', () => {
    assert.deepEqual(expandCopySources('./d/../a.txt', context), ['a.txt']);
    assert.deepEqual(expandCopySources('/d/', context), ['d']);
    assert.deepEqual(expandCopySources('.', context), ['.']);
    assert.deepEqual(expandCopySources('missing', context), ['missing']);
  });

  test('* and ? match within one component (Go filepath.Match), in walk order', () => {
    assert.deepEqual(expandCopySources('*.txt', context), ['a.txt', 'b.txt', 'file[1].txt']);
    assert.deepEqual(expandCopySources('d/*', context), ['d/e', 'd/x', 'd/y.txt']);
    assert.deepEqual(expandCopySources('?.md', context), ['c.md']);
    assert.deepEqual(expandCopySources('*', context).length, 6);
  });

  test('** is not recursive for COPY: it is two stars within a component', () => {
    assert.deepEqual(expandCopySources('**/*.txt', context), ['d/y.txt']);
  });

  test('classes, negated classes, escapes', () => {
    assert.deepEqual(expandCopySources('[ab].txt', context), ['a.txt', 'b.txt']);
    assert.deepEqual(expandCopySources('[^a].txt', context), ['b.txt']);
    assert.deepEqual(expandCopySources('file?1?.txt', context), ['file[1].txt']);
    // escaped wildcards are not wildcards: Docker then looks the path up as written
    assert.deepEqual(expandCopySources('file\\[1\\].txt', context), ['file\\[1\\].txt']);
    assert.equal(hasWildcards('star\\*name'), false);
    assert.deepEqual(expandCopySources('star\\*name', context), ['star\\*name']);
  });

  test('no match gives an empty list; a malformed pattern is an error', () => {
    assert.deepEqual(expandCopySources('*.none', context), []);
    throwsShale(() => expandCopySources('[a-', context), 'INVALID_ARGUMENT', /syntax error in pattern/);
  });

  test('trimSourcePath drops a leading / and ./', () => {
    assert.deepEqual(['/a', './a', '/', 'a/./b'].map(trimSourcePath), ['a', 'a', '/', 'a/./b']);
  });
});
