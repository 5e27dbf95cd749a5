import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { throwsShale } from '../dockerfile/dockerfile-fixtures.js';
import { copySelector, expandCopySources, hasWildcards, splitParentsSource, trimSourcePath } from './copy-sources.js';

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

describe('COPY --parents and --exclude selection (BuildKit rules)', () => {
  test('splitParentsSource: the /./ pivot, or the root; both cleaned', () => {
    assert.deepEqual(splitParentsSource('./x/a.txt'), { dir: '/', pattern: 'x/a.txt' });
    assert.deepEqual(splitParentsSource('./x/./y/*.txt'), { dir: '/x', pattern: 'y/*.txt' });
    assert.deepEqual(splitParentsSource('a/b/./c/./d'), { dir: '/a/b', pattern: 'c/d' });
    assert.deepEqual(splitParentsSource('../x/../a'), { dir: '/', pattern: 'a' });
  });

  // a tree walked as the copy walks it: which entries are copied, given the selector
  const tree = ['dir1', 'dir1/file-101.png', 'dir1/file-102.txt', 'dir2', 'dir2/sub', 'dir2/sub/a.png', 'dir2/sub/b.txt', 'top.png'];
  const dirs = new Set(['dir1', 'dir2', 'dir2/sub']);
  const copied = (select = copySelector({ exclude: [] })): string[] => {
    const out: string[] = [];
    const walk = (prefix: string) => {
      for (const p of tree.filter((q) => q.startsWith(prefix) && !q.slice(prefix.length).includes('/'))) {
        const choice = select ? select(p, dirs.has(p)) : 'copy';
        if (choice === 'copy') out.push(p);
        if (choice !== 'skip' && dirs.has(p)) walk(`${p}/`);
      }
    };
    walk('');
    return out;
  };

  test('--exclude: .dockerignore patterns relative to the source, a matched directory taking all below it', () => {
    assert.equal(copySelector({ exclude: [] }), undefined);
    assert.deepEqual(copied(copySelector({ exclude: ['*/*.png'] })), ['dir1', 'dir1/file-102.txt', 'dir2', 'dir2/sub', 'dir2/sub/a.png', 'dir2/sub/b.txt', 'top.png']);
    assert.deepEqual(copied(copySelector({ exclude: ['**/*.png'] })), ['dir1', 'dir1/file-102.txt', 'dir2', 'dir2/sub', 'dir2/sub/b.txt']);
    assert.deepEqual(copied(copySelector({ exclude: ['dir2'] })), ['dir1', 'dir1/file-101.png', 'dir1/file-102.txt', 'top.png']);
    // a `!` exception reaches inside an excluded directory: the directory is made for what it re-includes
    const select = copySelector({ exclude: ['dir2', '!dir2/sub/b.txt'] })!;
    assert.equal(select('dir2', true), 'descend');
    assert.deepEqual(copied(select), ['dir1', 'dir1/file-101.png', 'dir1/file-102.txt', 'dir2/sub/b.txt', 'top.png']);
    throwsShale(() => copySelector({ exclude: ['a[b'] }), 'INVALID_ARGUMENT', /COPY --exclude: /);
  });

  test('--parents: only what the pattern matches (and everything below a matched directory); --exclude applies too', () => {
    assert.deepEqual(copied(copySelector({ include: 'dir2/sub/b.txt', exclude: [] })), ['dir2/sub/b.txt']);
    assert.equal(copySelector({ include: 'dir2/sub/b.txt', exclude: [] })!('dir1', true), 'skip');
    assert.deepEqual(copied(copySelector({ include: 'dir*/*.txt', exclude: [] })), ['dir1/file-102.txt']);
    assert.deepEqual(copied(copySelector({ include: 'dir2', exclude: ['**/*.png'] })), ['dir2', 'dir2/sub', 'dir2/sub/b.txt']);
    assert.deepEqual(copied(copySelector({ include: '**/*.png', exclude: [] })), ['dir1/file-101.png', 'dir2/sub/a.png', 'top.png']);
  });
});
