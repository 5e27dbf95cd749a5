import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { throwsShale } from './dockerfile-fixtures.js';
import { compareWalkOrder, DockerignoreMatcher, filterContext, parseDockerignore } from './dockerignore.js';

const matcher = (text: string) => new DockerignoreMatcher(parseDockerignore(text));
const excluded = (text: string, paths: string[]) => {
  const m = matcher(text);
  return paths.filter((p) => m.matches(p));
};

describe('parseDockerignore', () => {
  test('comments, blank lines, whitespace, leading / and unclean paths', () => {
    assert.deepEqual(parseDockerignore('\uFEFF# comment\n\n  node_modules  \n/build/\n!./keep//me\n ! spaced\r\n./a/../b\n'), [
      'node_modules',
      'build',
      '!keep/me',
      '!spaced',
      'b',
    ]);
  });

  test('a # later in a line is part of the pattern; a lone ! is refused by the matcher', () => {
    assert.deepEqual(parseDockerignore('a#b\n'), ['a#b']);
    throwsShale(() => new DockerignoreMatcher(['!']), 'INVALID_ARGUMENT', /illegal exclusion pattern/);
  });
});

describe('DockerignoreMatcher.matches', () => {
  test('exact names, and everything under a matched directory', () => {
    assert.deepEqual(excluded('node_modules\n', ['node_modules', 'node_modules/x/y.js', 'src/node_modules', 'node_modules2']), [
      'node_modules',
      'node_modules/x/y.js',
    ]);
  });

  test('* and ? stay within a component; [] classes', () => {
    assert.deepEqual(excluded('*.md\n', ['README.md', 'docs/a.md', 'x.mdx']), ['README.md']);
    assert.deepEqual(excluded('*/*.md\n', ['README.md', 'docs/a.md', 'docs/x/b.md']), ['docs/a.md']);
    assert.deepEqual(excluded('file?.txt\n', ['file1.txt', 'file10.txt', 'file/.txt']), ['file1.txt']);
    assert.deepEqual(excluded('[ab].txt\n', ['a.txt', 'b.txt', 'c.txt']), ['a.txt', 'b.txt']);
    assert.deepEqual(excluded('[^a].txt\n', ['a.txt', 'b.txt']), ['b.txt']);
    assert.deepEqual(excluded('[a-c]*\n', ['apple', 'cat', 'dog']), ['apple', 'cat']);
  });

  test('** spans any number of directories, including none', () => {
    const paths = ['a.go', 'x/a.go', 'x/y/a.go', 'a.txt'];
    assert.deepEqual(excluded('**/*.go\n', paths), ['a.go', 'x/a.go', 'x/y/a.go']);
    assert.deepEqual(excluded('x/**/a.go\n', paths), ['x/a.go', 'x/y/a.go']);
    assert.deepEqual(excluded('x/**\n', ['x', 'x/a', 'x/y/z', 'xy']), ['x/a', 'x/y/z']);
    assert.deepEqual(excluded('**\n', ['a', 'b/c']), ['a', 'b/c']);
    assert.deepEqual(excluded('**/tmp\n', ['tmp', 'a/tmp', 'a/tmp/f', 'atmp']), ['tmp', 'a/tmp', 'a/tmp/f']);
  });

  test('! exceptions re-include, and the last matching pattern wins', () => {
    assert.deepEqual(excluded('*.md\n!README.md\n', ['README.md', 'CHANGES.md']), ['CHANGES.md']);
    assert.deepEqual(excluded('*.md\n!README*.md\nREADME-secret.md\n', ['README.md', 'README-secret.md', 'X.md']), ['README-secret.md', 'X.md']);
    assert.deepEqual(excluded('logs\n!logs/keep.log\n', ['logs/a.log', 'logs/keep.log']), ['logs/a.log']);
  });

  test('leading / and ./ in patterns and paths are equivalent', () => {
    assert.deepEqual(excluded('/secret\n', ['secret', './secret', 'a/secret']), ['secret', './secret']);
  });

  test('matching is case-sensitive; regexp characters are literal', () => {
    assert.deepEqual(excluded('README.md\n', ['readme.md', 'README.md', 'READMEamd']), ['README.md']);
    assert.deepEqual(excluded('foo(1)+{x}|$.txt\n', ['foo(1)+{x}|$.txt', 'foo1.txt']), ['foo(1)+{x}|$.txt']);
    assert.deepEqual(excluded('a\\*b\n', ['a*b', 'axb']), ['a*b']);
  });

  test('the context root itself is never excluded; bad patterns are errors', () => {
    assert.equal(matcher('*\n').matches('.'), false);
    throwsShale(() => matcher('[a\n'), 'INVALID_ARGUMENT', /syntax error in pattern/);
  });
});

describe('filterContext (Docker\'s walk)', () => {
  const tree = [
    { path: 'Dockerfile', isDir: false },
    { path: 'build', isDir: true },
    { path: 'build/out.bin', isDir: false },
    { path: 'build/keep', isDir: true },
    { path: 'build/keep/me.txt', isDir: false },
    { path: 'src', isDir: true },
    { path: 'src/a.ts', isDir: false },
    { path: 'src/a.test.ts', isDir: false },
  ];
  const kept = (text: string) => filterContext(tree, matcher(text)).map((e) => e.path);

  test('an excluded directory drops all it holds', () => {
    assert.deepEqual(kept('build\n'), ['Dockerfile', 'src', 'src/a.ts', 'src/a.test.ts']);
  });

  test('an exception under an excluded directory brings back only that part (not the directory entry)', () => {
    assert.deepEqual(kept('build\n!build/keep\n'), ['Dockerfile', 'build/keep', 'build/keep/me.txt', 'src', 'src/a.ts', 'src/a.test.ts']);
  });

  test('an exception that does not start with the directory cannot reach inside it (Docker skips the directory)', () => {
    assert.deepEqual(kept('build\n!**/me.txt\n'), ['Dockerfile', 'src', 'src/a.ts', 'src/a.test.ts']);
    assert.equal(matcher('build\n!**/me.txt\n').matches('build/keep/me.txt'), false);
  });

  test('exclude everything but some paths', () => {
    assert.deepEqual(kept('*\n!src\nsrc/*.test.ts\n'), ['src', 'src/a.ts']);
  });

  test('walk order: depth first, names in byte order', () => {
    const paths = ['a.txt', 'a/b', 'a', 'B', 'a-b'];
    assert.deepEqual([...paths].sort(compareWalkOrder), ['B', 'a', 'a/b', 'a-b', 'a.txt']);
  });
});
