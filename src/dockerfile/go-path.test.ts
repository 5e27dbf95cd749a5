import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BadPatternError, cleanPath, filepathMatch, joinPath } from './go-path.js';

describe('cleanPath / joinPath (Go path.Clean / path.Join)', () => {
  test('cleanPath', () => {
    const cases: [string, string][] = [
      ['', '.'], ['.', '.'], ['/', '/'], ['a/b/', 'a/b'], ['a//b', 'a/b'], ['./a', 'a'], ['a/./b', 'a/b'],
      ['a/../b', 'b'], ['../a', '../a'], ['/../a', '/a'], ['a/b/../../..', '..'], ['/a/b/..', '/a'],
    ];
    for (const [input, want] of cases) assert.equal(cleanPath(input), want, input);
  });

  test('joinPath', () => {
    assert.equal(joinPath('/', '', 'a'), '/a');
    assert.equal(joinPath('/', '/home/w', '../x'), '/home/x');
    assert.equal(joinPath('', ''), '');
  });
});

describe('filepathMatch (Go filepath.Match)', () => {
  const yes: [string, string][] = [
    ['abc', 'abc'], ['*', 'abc'], ['*c', 'abc'], ['a*', 'a'], ['a*', 'abc'], ['a*/b', 'abc/b'], ['a*b*c*d*e*/f', 'axbxcxdxe/f'],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f'], ['a*b?c*x', 'abxbbxdbxebxczzx'], ['ab[c]', 'abc'], ['ab[b-d]', 'abc'], ['ab[^c]', 'abd'],
    ['ab[^b-d]', 'abe'], ['a\\*b', 'a*b'], ['a?b', 'a☺b'], ['a[^a]b', 'a☺b'], ['[\\-]', '-'], ['[x\\-]', 'x'], ['*x', 'xxx'],
  ];
  const no: [string, string][] = [
    ['*c', 'abc/d'], ['a*', 'ab/c'], ['a*/b', 'abc/c'], ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f'], ['a*b?c*x', 'abxbbxdbxebxczzy'],
    ['ab[^c]', 'abc'], ['ab[^b-d]', 'abc'], ['a\\*b', 'ab'], ['a???b', 'a☺b'], ['a?b', 'a/b'], ['a*b', 'a/b'], ['[x\\-]', 'z'],
  ];
  const bad: [string, string][] = [
    ['[]', 'a'], ['[-]', '-'], ['[x-]', 'x'], ['[-x]', 'x'], ['\\', 'a'], ['[a-b-c]', 'a'], ['[', 'a'], ['[^', 'a'], ['a[', 'a'],
    ['[^bc', 'a'], ['*x\\', 'xxx'], ['a[', 'x'],
  ];

  test('matches', () => {
    for (const [p, s] of yes) assert.equal(filepathMatch(p, s), true, `${p} ~ ${s}`);
  });

  test('does not match', () => {
    for (const [p, s] of no) assert.equal(filepathMatch(p, s), false, `${p} !~ ${s}`);
  });

  test('malformed patterns throw BadPatternError, as Go returns ErrBadPattern', () => {
    for (const [p, s] of bad) assert.throws(() => filepathMatch(p, s), BadPatternError, `${p}`);
  });
});
