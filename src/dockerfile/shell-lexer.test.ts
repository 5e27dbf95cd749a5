import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { throwsShale } from './dockerfile-fixtures.js';
import { expandWord, expandWords, lexWord, lookupFromList } from './shell-lexer.js';

const env = lookupFromList(['PWD=/home', 'EMPTY=', 'V=x y', 'PATHV=/usr/local/bin/app.tar.gz', 'Q="quoted"']);
const w = (s: string) => expandWord(s, env);

describe('expandWord: variables', () => {
  test('$V and ${V}; unset is empty', () => {
    assert.equal(w('$PWD'), '/home');
    assert.equal(w('${PWD}/x'), '/home/x');
    assert.equal(w('a${PWD}b'), 'a/homeb');
    assert.equal(w('$PWD_x'), '');
    assert.equal(w('${UNSET}'), '');
    assert.equal(w('$UNSET-x'), '-x');
  });

  test('${V:-w} and ${V-w}: default when unset (and, with the colon, when empty)', () => {
    assert.equal(w('${PWD:-d}'), '/home');
    assert.equal(w('${UNSET:-d}'), 'd');
    assert.equal(w('${EMPTY:-d}'), 'd');
    assert.equal(w('${EMPTY-d}'), '');
    assert.equal(w('${UNSET-d}'), 'd');
  });

  test('${V:+w} and ${V+w}: alternative when set (and, with the colon, non-empty)', () => {
    assert.equal(w('${PWD:+alt}'), 'alt');
    assert.equal(w('${UNSET:+alt}'), '');
    assert.equal(w('${EMPTY:+alt}'), '');
    assert.equal(w('${EMPTY+alt}'), 'alt');
    assert.equal(w('${UNSET+alt}'), '');
  });

  test('${V:?msg} and ${V?msg} fail when unset (or empty)', () => {
    assert.equal(w('${PWD:?x}'), '/home');
    throwsShale(() => w('${UNSET:?must be set}'), 'INVALID_ARGUMENT', /UNSET: must be set/);
    throwsShale(() => w('${EMPTY:?}'), 'INVALID_ARGUMENT', /EMPTY: is not allowed to be empty/);
    assert.equal(w('${EMPTY?x}'), '');
  });

  test('nested defaults', () => {
    assert.equal(w('${UNSET:-${ALSO:-${PWD}}}'), '/home');
    assert.equal(w('${UNSET:-a b}'), 'a b');
  });

  test('prefix/suffix removal and replacement', () => {
    assert.equal(w('${PATHV##*/}'), 'app.tar.gz');
    assert.equal(w('${PATHV#*/}'), 'usr/local/bin/app.tar.gz');
    assert.equal(w('${PATHV%.*}'), '/usr/local/bin/app.tar');
    assert.equal(w('${PATHV%%.*}'), '/usr/local/bin/app');
    assert.equal(w('${PATHV/usr/opt}'), '/opt/local/bin/app.tar.gz');
    assert.equal(w('${PATHV//a/A}'), '/usr/locAl/bin/App.tAr.gz');
  });

  test('a lone $, $ before a non-name, special parameters and positional digits', () => {
    assert.equal(w('$'), '$');
    assert.equal(w('cost: 5$'), 'cost: 5$');
    assert.equal(w('$/x'), '$/x');
    assert.equal(w('$1x'), 'x');
    assert.equal(w('$@'), '');
  });

  test('malformed substitutions', () => {
    throwsShale(() => w('${}'), 'INVALID_ARGUMENT', /bad substitution/);
    throwsShale(() => w('${PWD'), 'INVALID_ARGUMENT', /missing '}'/);
    throwsShale(() => w('${PWD:=x}'), 'INVALID_ARGUMENT', /unsupported modifier \(:=\)/);
    throwsShale(() => w('${PWD:-x'), 'INVALID_ARGUMENT', /missing '}'/);
  });
});

describe('expandWord: quotes and escapes', () => {
  test('single quotes are literal and removed', () => {
    assert.equal(w("'$PWD'"), '$PWD');
    assert.equal(w("he'll'o"), 'hello');
    assert.equal(w("'a\\b'"), 'a\\b');
  });

  test('double quotes expand, keep spaces and escape only " $ and the escape char', () => {
    assert.equal(w('"$PWD"'), '/home');
    assert.equal(w('"a  b"'), 'a  b');
    assert.equal(w('"\\$PWD"'), '$PWD');
    assert.equal(w('"a\\"b"'), 'a"b');
    assert.equal(w('"a\\b"'), 'a\\b');
    assert.equal(w('"a\\\\b"'), 'a\\b');
    assert.equal(w('"it\'s"'), "it's");
  });

  test('outside quotes the escape makes the next character literal; a trailing one is dropped', () => {
    assert.equal(w('\\$PWD'), '$PWD');
    assert.equal(w("he\\'llo"), "he'llo");
    assert.equal(w('a\\ b'), 'a b');
    assert.equal(w('abc\\'), 'abc');
    assert.equal(w('abc\\\\'), 'abc\\');
  });

  test('expanded values are not re-scanned for quotes', () => {
    assert.equal(w('$Q'), '"quoted"');
  });

  test('with the backtick escape, backslash is ordinary', () => {
    assert.equal(expandWord('c:\\dir`$PWD', env, '`'), 'c:\\dir$PWD');
    assert.equal(expandWord('"a`"b"', env, '`'), 'a"b');
  });

  test('unterminated quotes', () => {
    throwsShale(() => w("he'llo"), 'INVALID_ARGUMENT', /matching single-quote/);
    throwsShale(() => w('"abc'), 'INVALID_ARGUMENT', /matching double-quote/);
  });
});

describe('expandWords: splitting after expansion', () => {
  test('splits on unquoted whitespace, including whitespace coming from a variable', () => {
    assert.deepEqual(expandWords('a  b "c d" $V', env), ['a', 'b', 'c d', 'x', 'y']);
    assert.deepEqual(expandWords('"$V"', env), ['x y']);
    assert.deepEqual(expandWords('80 $EMPTY 443', env), ['80', '443']);
  });
});

describe('lexWord: raw modes used for heredoc detection', () => {
  test('rawQuotes and rawEscapes keep the characters; skipUnsetEnv keeps unknown references', () => {
    const none = () => undefined;
    assert.deepEqual(lexWord('RUN <<"EOF" $X \\n', none, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words, ['RUN', '<<"EOF"', '$X', '\\n']);
    assert.equal(lexWord('${X:-d} ${Y}', none, { skipUnsetEnv: true }).word, '${X:-d} ${Y}');
  });

  test('`<<` keeps the whitespace after it in its word (BuildKit 1.16+), other `<` are plain', () => {
    const words = (s: string) => lexWord(s, () => undefined, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
    assert.deepEqual(words('RUN <<  EOF  > foo'), ['RUN', '<<  EOF', '>', 'foo']);
    assert.deepEqual(words('cat <<\t"E F" 3<< X'), ['cat', '<<\t"E F"', '3<< X']);
    assert.deepEqual(words('RUN <<- EOF a<b << '), ['RUN', '<<-', 'EOF', 'a<b', '<< ']);
    assert.deepEqual(words('echo "<< x"'), ['echo', '"<< x"']);
    assert.equal(lexWord('a << b', () => undefined).word, 'a << b');
  });

  test('skipProcessQuotes treats quotes as ordinary characters', () => {
    assert.equal(lexWord(`say "$PWD" 'x'`, env, { skipProcessQuotes: true }).word, `say "/home" 'x'`);
  });
});

describe('lookupFromList', () => {
  test('first occurrence of a key wins; a bare key is empty', () => {
    const l = lookupFromList(['A=1', 'A=2', 'B']);
    assert.equal(l('A'), '1');
    assert.equal(l('B'), '');
    assert.equal(l('C'), undefined);
  });
});
