/** The live status line of a build on a terminal: it fits on one line whatever width the terminal reports. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressStatusLine } from './build-progress.js';

test('progress line: a terminal that reports 0 columns (or none) is drawn as 80 wide, the step still shown', () => {
  for (const columns of [0, undefined]) {
    const line = progressStatusLine(3, '[stage-0] RUN apk add curl', 1.25, columns);
    assert.equal(line, '=> #3 [stage-0] RUN apk add curl  1.3s');
    const long = progressStatusLine(3, `[stage-0] RUN ${'x'.repeat(200)}`, 2, columns);
    assert.equal(long.length, 79, long);
    assert.match(long, /^=> #3 \[stage-0\] RUN x+…  2\.0s$/);
  }
});

test('progress line: clipped to the width less one column, so it never wraps; line breaks show as spaces', () => {
  const line = progressStatusLine(12, '[build] RUN echo a && \\\n  echo b', 10, 30);
  assert.ok(line.length <= 29, line);
  assert.doesNotMatch(line, /\n/);
  assert.match(line, /^=> #12 \[build\] RUN e.*…  10\.0s$/);
  // narrower than the frame itself: still one line within the width
  for (const columns of [1, 5, 12]) assert.ok(progressStatusLine(7, 'RUN true', 3, columns).length <= Math.max(columns - 1, 0));
});
