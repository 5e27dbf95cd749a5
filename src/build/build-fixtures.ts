import assert from 'node:assert/strict';
import { isShaleError, type ErrorCode } from '../internal/errors.js';

/** Asserts `fn` throws a ShaleError with `code` whose message matches `message` (string: prefix). */
export function throwsShale(fn: () => unknown, code: ErrorCode, message?: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isShaleError(e), `expected a ShaleError, got ${String(e)}`);
    assert.equal(e.code, code, `code of: ${e.message}`);
    if (typeof message === 'string') assert.ok(e.message.startsWith(message), `"${e.message}" should start with "${message}"`);
    else if (message) assert.match(e.message, message);
    return true;
  });
}
