import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { goDuration, goQuote, goQuoteInt, goQuoteSlice, goSlice, parseGoDuration } from './go-format.js';

describe('Go formatting', () => {
  test('goQuote escapes as strconv.Quote', () => {
    assert.equal(goQuote('plain'), '"plain"');
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('\n\t\x07\x00\x7f'), '"\\n\\t\\a\\x00\\x7f"');
    assert.equal(goQuote('é☺'), '"é☺"');
    assert.equal(goQuote('\u00a0\u200b'), '"\\u00a0\\u200b"');
  });

  test('goQuoteInt prints a quoted rune', () => {
    assert.deepEqual([0, 3, 10, 39, 65].map(goQuoteInt), ["'\\x00'", "'\\x03'", "'\\n'", "'\\''", "'A'"]);
  });

  test('slices', () => {
    assert.equal(goQuoteSlice(['a', 'b c']), '["a" "b c"]');
    assert.equal(goQuoteSlice([]), '[]');
    assert.equal(goSlice(['/bin/sh', '-c']), '[/bin/sh -c]');
  });

  test('goDuration as time.Duration.String', () => {
    const cases: [number, string][] = [
      [0, '0s'], [1, '1ns'], [1100, '1.1µs'], [2_200_000, '2.2ms'], [3_300_000_000, '3.3s'], [5_000_000_000, '5s'],
      [90_000_000_000, '1m30s'], [3_600_000_000_000, '1h0m0s'], [4_000_000_000_000 + 1, '1h6m40.000000001s'], [-1_500_000_000, '-1.5s'],
    ];
    for (const [ns, want] of cases) assert.equal(goDuration(ns), want, String(ns));
  });

  test('parseGoDuration as time.ParseDuration', () => {
    const cases: [string, number | null][] = [
      ['0', 0], ['5s', 5e9], ['1m30s', 90e9], ['1.5h', 5400e9], ['300ms', 3e8], ['10us', 1e4], ['10µs', 1e4], ['-2s', -2e9],
      ['.5s', 5e8], ['1h2m3s4ms5us6ns', 3723004005006], ['5', null], ['', null], ['1x', null], ['s', null], ['1.s', 1e9],
    ];
    for (const [input, want] of cases) assert.equal(parseGoDuration(input), want, input);
  });
});
