import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isShaleError } from '../internal/errors.js';
import { applyInstruction, startStage } from './apply-instruction.js';
import { parseDockerfile, parseTrigger } from './dockerfile.js';
import { expandInstruction } from './expand.js';
import { planBuild } from './plan.js';
import { DockerfileSyntaxError } from './syntax-error.js';

/** The error `fn` throws, checked to be a DockerfileSyntaxError with these fields and message. */
function syntaxError(fn: () => unknown, file: string, line: number, reason: string): DockerfileSyntaxError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DockerfileSyntaxError, `not a DockerfileSyntaxError: ${String(e)}`);
    assert.ok(isShaleError(e, 'DOCKERFILE_SYNTAX'));
    assert.deepEqual({ file: e.file, line: e.line, reason: e.reason }, { file, line, reason });
    assert.equal(e.message, `${file}:${line}: ${reason}`);
    return e;
  }
  assert.fail('no error thrown');
}

describe('DockerfileSyntaxError: the location as data', () => {
  test('the parser: line-level (directives, heredocs, line length), instruction-level and file-level errors', () => {
    syntaxError(() => parseDockerfile('# escape=x\nFROM a\n', { file: 'd/Dockerfile' }), 'd/Dockerfile', 1, "invalid escape token 'x' does not match ` or \\");
    syntaxError(() => parseDockerfile('FROM a\nRUN <<EOF\nbody\n'), 'Dockerfile', 2, 'unterminated heredoc EOF');
    syntaxError(() => parseDockerfile(`FROM a\nRUN ${'x'.repeat(70_000)}\n`), 'Dockerfile', 2, 'dockerfile line greater than max allowed size of 65535');
    syntaxError(() => parseDockerfile('FROM a\n\nRUN \\\n  --bogus=1 true\n'), 'Dockerfile', 3, 'Unknown flag: bogus');
    syntaxError(() => parseDockerfile('FROM a\nNOPE x\n'), 'Dockerfile', 2, 'unknown instruction: NOPE');
    syntaxError(() => parseDockerfile('# only a comment\n\n'), 'Dockerfile', 2, 'file with no instructions');
    syntaxError(() => parseDockerfile('ARG X\nRUN true\n'), 'Dockerfile', 2, 'RUN before the first FROM: only ARG may come before FROM');
    syntaxError(() => parseTrigger('FROM x'), 'ONBUILD trigger', 1, "FROM isn't allowed as an ONBUILD trigger");
  });

  test('a flag named like an Object property is unknown, not accepted', () => {
    syntaxError(() => parseDockerfile('FROM a\nRUN --constructor=1 true\n'), 'Dockerfile', 2, 'Unknown flag: constructor');
    syntaxError(() => parseDockerfile('FROM a\nCONSTRUCTOR x\n'), 'Dockerfile', 2, 'unknown instruction: CONSTRUCTOR');
  });

  test('planning, expansion and applying an instruction raise it at the instruction\'s line', () => {
    const df = parseDockerfile('FROM a\nCOPY --from=7 /x /y\nWORKDIR ${V\nEXPOSE 80/xyz\n', { file: 'ctx/Dockerfile' });
    syntaxError(() => planBuild(df), 'ctx/Dockerfile', 2, 'invalid stage index 7');
    syntaxError(
      () => expandInstruction(df.instructions[2]!, () => undefined, { file: df.file }),
      'ctx/Dockerfile',
      3,
      `WORKDIR: failed to process "\${V": syntax error: missing '}'`,
    );
    const withHint = syntaxError(() => planBuild(parseDockerfile('FROM a\nADD --checksum=sha256:0 a /x\n')), 'Dockerfile', 2, 'ADD --checksum requires HTTP(S) or Git sources');
    assert.equal(withHint.hint, 'for a file in the build context, drop --checksum');
    syntaxError(() => applyInstruction(startStage(null).state, df.instructions[3]!, { file: df.file }), 'ctx/Dockerfile', 4, 'Invalid proto: xyz');
  });
});
