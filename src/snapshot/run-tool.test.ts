/** A failed program's error carries its stderr on one readable line. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTool } from './run-tool.js';

test('runTool: multi-line stderr of a failed program is folded with "; ", blank lines and padding dropped', async () => {
  await assert.rejects(
    runTool('sh', ['-c', 'printf "mount: /x: wrong fs type.\\n\\n       dmesg(1) may have more information.\\n" >&2; exit 32']),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'FAILED_PRECONDITION');
      assert.doesNotMatch(e.message, /[\r\n]/);
      assert.match(e.message, /failed \(exit 32\): mount: \/x: wrong fs type\.; dmesg\(1\) may have more information\.$/);
      return true;
    },
  );
});
