import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { extractBuilderFlags, lexWords, parseWords, splitFields } from './words.js';

const texts = (input: string, options?: Parameters<typeof lexWords>[1]) => Array.from(lexWords(input, options), (w) => w.text);

describe('lexWords: one lexer, its options', () => {
  test('by default quotes and escapes stay in the words; the escape is literal inside single quotes', () => {
    assert.deepEqual(texts(`A="x y" B='p\\q' C=a\\ b ""`), ['A="x y"', "B='p\\q'", 'C=a\\ b', '""']);
  });

  test('unquote removes quotes and escapes, the escape then working inside single quotes too', () => {
    assert.deepEqual(texts(`--a="x y" --b='p\\'q' --c=a\\ b ""`, { unquote: true }), ['--a=x y', "--b=p'q", '--c=a b', '']);
  });

  test('escape picks the escape character; the other one is an ordinary character', () => {
    assert.deepEqual(texts('a` b c\\ d', { escape: '`' }), ['a` b', 'c\\', 'd']);
    assert.deepEqual(texts('a` b', { escape: '`', unquote: true }), ['a b']);
  });

  test('offsets point into the input (UTF-16), astral characters included; a trailing escape is dropped', () => {
    assert.deepEqual([...lexWords('  😀x  "a b"\\')], [
      { text: '😀x', start: 2, end: 5 },
      { text: '"a b"', start: 7, end: 13 },
    ]);
    assert.deepEqual(texts('"open quote runs on'), ['"open quote runs on']);
  });

  test('parseWords, extractBuilderFlags and splitFields are presets of it', () => {
    assert.deepEqual(parseWords('K="v 1" L=2', '\\'), ['K="v 1"', 'L=2']);
    assert.deepEqual(extractBuilderFlags('--mount="type=cache,target=/c" --network=none echo "--x"'), {
      flags: ['--mount=type=cache,target=/c', '--network=none'],
      rest: 'echo "--x"',
    });
    assert.deepEqual(extractBuilderFlags('--link -- --not-a-flag x'), { flags: ['--link'], rest: ' --not-a-flag x' });
    assert.deepEqual(extractBuilderFlags('\\'), { flags: [], rest: '\\' });
    assert.deepEqual(extractBuilderFlags('--a=1 '), { flags: ['--a=1'], rest: '' });
    assert.deepEqual(splitFields('a \t b'), ['a', 'b']);
  });
});
