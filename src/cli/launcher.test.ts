/** The launcher's reading of a command line, before the CLI is loaded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerVersion, commandOf } from './launcher.js';

test('commandOf: the first word that is not a global option or the value of --root', () => {
  assert.equal(commandOf(['images']), 'images');
  assert.equal(commandOf(['--root', 'store', 'lint', 'Dockerfile']), 'lint');
  assert.equal(commandOf(['--root=store', 'push', 'r/x:1']), 'push');
  assert.equal(commandOf(['--root', 'store']), undefined);
  assert.equal(commandOf(['./Dockerfile']), undefined);
  assert.equal(commandOf([]), undefined);
});

test('answerVersion answers only --version or -v alone', () => {
  for (const args of [[], ['--version', 'images'], ['-v', '--root', 'x'], ['images', '--version']]) assert.equal(answerVersion(args), false);
});
