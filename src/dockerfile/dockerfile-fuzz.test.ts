/**
 * Property tests of the Dockerfile parser and of `.dockerignore` patterns: any text parses or is refused
 * with a coded error, quickly; a matcher never throws on a path and answers quickly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectParsedOrRefused, fuzzParameters } from '../internal/fuzz-fixtures.js';
import { parseDockerfile, parseTrigger } from './dockerfile.js';
import { DockerignoreMatcher, filterContext, parseDockerignore } from './dockerignore.js';

/** Pieces Dockerfiles are made of, so generated text reaches deep into the parser rather than its first check. */
const DOCKERFILE_TOKENS = [
  'FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'USER', 'WORKDIR', 'VOLUME', 'CMD', 'ENTRYPOINT',
  'SHELL', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER', 'AS', 'NONE',
  ' ', ' ', '\t', '\n', '\n', '\r\n', '\\', '\\\n', '`', '`\n', '#', '# escape=`\n', '# escape=\\\n', '# syntax=x\n', '# check=skip=all\n',
  '"', "'", '[', ']', ',', '=', '$', '${', '}', ':-', ':+', '$$', '<<', '<<-', '<<EOF', '<<"EOF"', 'EOF', 'EOF\n', '<<-X', 'X\n',
  '--from=', '--chown=', '--chmod=', '--link', '--mount=type=cache,target=/x', '--network=none', '--platform=', '--interval=', '--retries=',
  '--start-period=', '--timeout=', '--parents', '--exclude=', '--checksum=', '--keep-git-dir', '0s', '1ms', '-1', '3', '1e400',
  'a', 'b', 'x:y', '/', '.', '..', 'img', 'stage', 'echo hi', '&&', '\u00e9', '\u0000', '\ufeff',
];

const dockerfileArb = fc.oneof(
  fc.array(fc.constantFrom(...DOCKERFILE_TOKENS), { maxLength: 80 }).map((t) => t.join('')),
  fc.array(fc.constantFrom(...DOCKERFILE_TOKENS), { maxLength: 40 }).map((t) => `FROM img\n${t.join(' ')}\n`),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

test('parseDockerfile and parseTrigger: any text parses or is a DOCKERFILE_SYNTAX error, in bounded time', () => {
  fc.assert(
    fc.property(dockerfileArb, (text) => {
      const parsed = expectParsedOrRefused(() => parseDockerfile(text, { file: 'Dockerfile' }), ['DOCKERFILE_SYNTAX']);
      if (parsed) for (const i of parsed.instructions) assert.ok(i.kind.length > 0);
      expectParsedOrRefused(() => parseTrigger(text), ['DOCKERFILE_SYNTAX']);
    }),
    fuzzParameters(3000),
  );
});

const PATTERN_TOKENS = ['a', 'b', 'ab', '.', '..', '/', '*', '**', '**/', '?', '[', ']', '[a-b]', '[^a]', '[!a]', '\\', '\\*', '!', '#', ' ', '{', '}', '(', ')', '|', '$', '^', '+', '-', '\u00e9'];
const patternArb = fc.array(fc.constantFrom(...PATTERN_TOKENS), { maxLength: 12 }).map((t) => t.join(''));
const pathArb = fc.array(fc.constantFrom('a', 'b', 'ab', 'a.b', '.x', '\u00e9', '*', '['), { minLength: 1, maxLength: 12 }).map((p) => p.join('/'));

test('.dockerignore: any file gives patterns or an INVALID_ARGUMENT error; a matcher answers every path quickly, never throwing', () => {
  fc.assert(
    fc.property(fc.array(patternArb, { maxLength: 8 }), fc.array(pathArb, { maxLength: 10 }), (lines, paths) => {
      const patterns = expectParsedOrRefused(() => parseDockerignore(lines.join('\n')), ['INVALID_ARGUMENT'])!;
      const matcher = expectParsedOrRefused(() => new DockerignoreMatcher(patterns), ['INVALID_ARGUMENT']);
      if (!matcher) return;
      const start = performance.now();
      for (const p of paths) {
        assert.equal(typeof matcher.matches(p), 'boolean');
        matcher.walksInto(p);
      }
      filterContext(paths.map((path, i) => ({ path, isDir: i % 2 === 0 })), matcher);
      assert.ok(performance.now() - start < 1000);
    }),
    fuzzParameters(2000),
  );
});

test('.dockerignore: repeated `**/` segments answer at once (they once backtracked for seconds on a deep path)', () => {
  const deep = `${Array(25).fill('a').join('/')}/y`;
  for (const pattern of [`${Array(10).fill('**').join('/')}/x`, `a/${Array(12).fill('**').join('/')}`, `${Array(10).fill('**/').join('')}**x`]) {
    const matcher = new DockerignoreMatcher(parseDockerignore(pattern));
    const start = performance.now();
    assert.equal(matcher.matches(deep), pattern.startsWith('a/'), pattern);
    assert.equal(matcher.matches(`${deep}/x`), true, pattern);
    assert.ok(performance.now() - start < 100, `${pattern}: ${(performance.now() - start).toFixed(0)} ms`);
  }
  // the same answers as one `**/`
  const one = new DockerignoreMatcher(['**/x']);
  const many = new DockerignoreMatcher(['**/**/**/x']);
  for (const p of ['x', 'a/x', 'a/b/x', 'xa', 'a/xb', 'a/x/c']) assert.equal(many.matches(p), one.matches(p), p);
});
