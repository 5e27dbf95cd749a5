import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDockerfile, parseTrigger } from './dockerfile.js';
import { heredocBody, type Instruction, type InstructionOf } from './instructions.js';
import { throwsShale } from './dockerfile-fixtures.js';

const parse = (text: string) => parseDockerfile(text);
const only = <K extends Instruction['kind']>(text: string, kind: K, index = 1): InstructionOf<K> => {
  const inst = parse(text).instructions[index]!;
  assert.equal(inst.kind, kind);
  return inst as InstructionOf<K>;
};
const syntax = (text: string, line: number, message: string | RegExp) =>
  throwsShale(() => parse(text), 'DOCKERFILE_SYNTAX', typeof message === 'string' ? `Dockerfile:${line}: ${message}` : message);

describe('parseDockerfile: structure', () => {
  test('every instruction keeps its line range and original text', () => {
    const df = parse('FROM alpine\n\n# comment\nRUN echo a \\\n  b\nCMD ["x"]\n');
    assert.deepEqual(
      df.instructions.map((i) => [i.kind, i.line, i.endLine, i.original]),
      [
        ['FROM', 1, 1, 'FROM alpine'],
        ['RUN', 4, 5, 'RUN echo a \\\n  b'],
        ['CMD', 6, 6, 'CMD ["x"]'],
      ],
    );
  });

  test('instruction names are case-insensitive; AS too; stage names are lowercased', () => {
    const df = parse('from Alpine as Build\nrun echo hi\n');
    const from = df.instructions[0] as InstructionOf<'FROM'>;
    assert.equal(from.image, 'Alpine');
    assert.equal(from.stageName, 'build');
    assert.equal(df.instructions[1]!.kind, 'RUN');
  });

  test('CRLF line endings and a BOM are accepted', () => {
    const df = parse('\uFEFFFROM a\r\nRUN echo \\\r\n  hi\r\n');
    assert.equal(df.instructions.length, 2);
    assert.deepEqual((df.instructions[1] as InstructionOf<'RUN'>).command, { form: 'shell', script: 'echo   hi' });
  });

  test('ARG before FROM is allowed; anything else before FROM is an error with its line', () => {
    const df = parse('ARG BASE=alpine\nARG X\nFROM ${BASE}\n');
    assert.deepEqual(df.instructions.map((i) => i.kind), ['ARG', 'ARG', 'FROM']);
    syntax('ARG A\n\nRUN echo\nFROM a\n', 3, 'RUN before the first FROM');
    syntax('# hi\nENV A=1\n', 2, 'ENV before the first FROM');
  });

  test('a Dockerfile without FROM, or without instructions, is refused', () => {
    syntax('ARG A=1\n', 1, 'no FROM instruction');
    syntax('', 1, 'file with no instructions');
    syntax('# only a comment\n\n', 2, 'file with no instructions');
  });

  test('unknown instruction -> error naming it and its line', () => {
    syntax('FROM a\nRUN x\nFOO bar\n', 3, 'unknown instruction: FOO');
    syntax('FROM a\nRUN x \\\n  y\nCOPPY a b\n', 4, 'unknown instruction: COPPY');
  });
});

describe('parseDockerfile: directives', () => {
  test('# escape=` makes backtick the escape and continuation character', () => {
    const text = '# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo done\n';
    assert.equal(parse(text).escape, '`');
    assert.deepEqual(only(text, 'RUN').command, { form: 'shell', script: 'dir c:\\   && echo done' });
    // with backtick escape, a trailing backslash is an ordinary character
    assert.deepEqual(only('# escape=`\nFROM a\nRUN echo c:\\\nCMD x\n', 'RUN').command, { form: 'shell', script: 'echo c:\\' });
  });

  test('# escape=\\ is the default; # syntax= is recorded and ignored; directives are case-insensitive', () => {
    const df = parse('# Syntax=docker/dockerfile:1.4\n#escape=\\\nFROM a\n');
    assert.equal(df.escape, '\\');
    assert.equal(df.syntax, 'docker/dockerfile:1.4');
  });

  test('a directive after a comment, a blank line or an instruction is just a comment', () => {
    assert.equal(parse('# hello\n# escape=`\nFROM a\n').escape, '\\');
    assert.equal(parse('\n# escape=`\nFROM a\n').escape, '\\');
    assert.equal(parse('FROM a\n# escape=`\n').escape, '\\');
    assert.equal(parse('# unknown=1\n# escape=`\nFROM a\n').escape, '\\');
  });

  test('bad or repeated directives are errors', () => {
    syntax('# escape=x\nFROM a\n', 1, "invalid escape token 'x'");
    syntax('# escape=`\n# escape=`\nFROM a\n', 2, 'only one escape parser directive can be used');
  });
});

describe('parseDockerfile: continuations and comments', () => {
  test('comments and blank lines inside a continuation are dropped (blank ones warn)', () => {
    const df = parse('FROM a\nRUN apt-get update && \\\n  # install things\n\n    apt-get install -y x\n');
    assert.deepEqual((df.instructions[1] as InstructionOf<'RUN'>).command, {
      form: 'shell',
      script: 'apt-get update &&     apt-get install -y x',
    });
    assert.equal(df.warnings.length, 1);
    assert.match(df.warnings[0]!, /Empty continuation line/);
  });

  test('a # inside an instruction is not a comment', () => {
    assert.deepEqual(only('FROM a\nRUN echo # not a comment\n', 'RUN').command, { form: 'shell', script: 'echo # not a comment' });
  });

  test('a continuation char followed by spaces still continues; an escaped one at the end too', () => {
    assert.deepEqual(only('FROM a\nRUN a \\   \n b\n', 'RUN').command, { form: 'shell', script: 'a  b' });
    assert.deepEqual(only('FROM a\nRUN a\\\nb\n', 'RUN').command, { form: 'shell', script: 'ab' });
  });

  test('a continuation at the end of the file ends the instruction', () => {
    assert.deepEqual(only('FROM a\nRUN echo hi \\', 'RUN').command, { form: 'shell', script: 'echo hi' });
  });

  test('indented instructions and comments', () => {
    const df = parse('  FROM a\n\t# c\n   RUN x\n');
    assert.deepEqual(df.instructions.map((i) => [i.kind, i.line]), [['FROM', 1], ['RUN', 3]]);
  });
});

describe('parseDockerfile: exec and shell forms', () => {
  test('JSON arrays are exec form; anything else is shell form', () => {
    assert.deepEqual(only('FROM a\nCMD ["a", "b c"]\n', 'CMD').command, { form: 'exec', args: ['a', 'b c'] });
    assert.deepEqual(only('FROM a\nCMD [ "a" ]\n', 'CMD').command, { form: 'exec', args: ['a'] });
    assert.deepEqual(only('FROM a\nCMD echo [x]\n', 'CMD').command, { form: 'shell', script: 'echo [x]' });
    assert.deepEqual(only("FROM a\nCMD ['a']\n", 'CMD').command, { form: 'shell', script: "['a']" });
    assert.deepEqual(only('FROM a\nENTRYPOINT ["a", \n', 'ENTRYPOINT').command, { form: 'shell', script: '["a",' });
    assert.deepEqual(only('FROM a\nCMD []\n', 'CMD').command, { form: 'exec', args: [] });
  });

  test('text after the JSON array is ignored, as Go decoding does', () => {
    assert.deepEqual(only('FROM a\nCMD ["a"] trailing\n', 'CMD').command, { form: 'exec', args: ['a'] });
  });

  test('JSON escapes are decoded', () => {
    assert.deepEqual(only('FROM a\nRUN ["echo", "a\\"b", "\\u00e9"]\n', 'RUN').command, { form: 'exec', args: ['echo', 'a"b', 'é'] });
  });

  test('a JSON array with a non-string is an error', () => {
    syntax('FROM a\nCMD ["a", 1]\n', 2, 'when using JSON array syntax, arrays must be comprised of strings only');
  });

  test('missing arguments', () => {
    syntax('FROM a\nRUN\n', 2, 'RUN requires at least one argument');
    syntax('FROM a\nRUN []\n', 2, 'RUN requires at least one argument');
    syntax('FROM a\nCMD\n', 2, 'CMD requires at least one argument');
    syntax('FROM\n', 1, 'FROM requires either one or three arguments');
    syntax('FROM a b\n', 1, 'FROM requires either one or three arguments');
    syntax('FROM a\nWORKDIR\n', 2, 'WORKDIR requires exactly one argument');
    syntax('FROM a\nUSER\n', 2, 'USER requires exactly one argument');
    syntax('FROM a\nEXPOSE\n', 2, 'EXPOSE requires at least one argument');
    syntax('FROM a\nCOPY onlyone\n', 2, 'COPY requires at least two arguments');
    syntax('FROM a\nVOLUME\n', 2, 'VOLUME requires at least one argument');
    syntax('FROM a\nARG\n', 2, 'ARG requires at least one argument');
    syntax('FROM a\nENV\n', 2, 'ENV requires at least one argument');
    syntax('FROM a\nLABEL\n', 2, 'LABEL requires at least one argument');
    syntax('FROM a\nONBUILD\n', 2, 'ONBUILD requires at least one argument');
    syntax('FROM a\nSTOPSIGNAL\n', 2, 'STOPSIGNAL requires exactly one argument');
    syntax('FROM a\nMAINTAINER\n', 2, 'MAINTAINER requires exactly one argument');
  });
});

describe('parseDockerfile: instructions', () => {
  test('FROM with --platform and AS', () => {
    const from = only('FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n', 'FROM', 0);
    assert.deepEqual([from.image, from.platform, from.stageName], ['golang:1.22', '$BUILDPLATFORM', 'build']);
    syntax('FROM a AS 1x\n', 1, 'invalid name for build stage: "1x"');
    syntax('FROM a AS b c\n', 1, 'FROM requires either one or three arguments');
  });

  test('RUN flags: --network, --security, --mount (kept raw); unknown flags are errors', () => {
    const run = only('FROM a\nRUN --network=none --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/t make\n', 'RUN');
    assert.equal(run.network, 'none');
    assert.deepEqual(run.mounts, ['type=cache,target=/root/.cache', 'type=tmpfs,target=/t']);
    assert.deepEqual(run.command, { form: 'shell', script: 'make' });
    assert.equal(only('FROM a\nRUN --security=insecure x\n', 'RUN').security, 'insecure');
    syntax('FROM a\nRUN --network=bridge x\n', 2, 'unsupported network mode "bridge"');
    syntax('FROM a\nRUN --foo=bar x\n', 2, 'Unknown flag: foo');
    syntax('FROM a\nRUN --network x\n', 2, 'Missing a value on flag: network');
    syntax('FROM a\nRUN --network=none --network=host x\n', 2, 'Duplicate flag specified: network');
  });

  test('flags are only leading --words; a quoted flag value may hold spaces', () => {
    const run = only('FROM a\nRUN --mount="type=secret,id=a b" echo --not-a-flag\n', 'RUN');
    assert.deepEqual(run.mounts, ['type=secret,id=a b']);
    assert.deepEqual(run.command, { form: 'shell', script: 'echo --not-a-flag' });
  });

  test('LABEL: k=v pairs with quotes kept for expansion, and the old `LABEL k v` form', () => {
    assert.deepEqual(only('FROM a\nLABEL a=b "c d"="e f" g=\'h i\' j=k\\ l\n', 'LABEL').pairs, [
      { key: 'a', value: 'b' },
      { key: '"c d"', value: '"e f"' },
      { key: 'g', value: "'h i'" },
      { key: 'j', value: 'k\\ l' },
    ]);
    assert.deepEqual(only('FROM a\nLABEL version 1.0 beta\n', 'LABEL').pairs, [{ key: 'version', value: '1.0 beta' }]);
    syntax('FROM a\nLABEL a=b c\n', 2, 'Syntax error - can\'t find = in "c"');
    syntax('FROM a\nLABEL =b\n', 2, 'LABEL names can not be blank');
  });

  test('ENV: both `ENV k v` and `ENV k=v ...`; continuation inside a value', () => {
    assert.deepEqual(only('FROM a\nENV PATH /usr/bin:$PATH\n', 'ENV').pairs, [{ key: 'PATH', value: '/usr/bin:$PATH' }]);
    assert.deepEqual(only('FROM a\nENV A=1 B="two words" \\\n    C=${A}\n', 'ENV').pairs, [
      { key: 'A', value: '1' },
      { key: 'B', value: '"two words"' },
      { key: 'C', value: '${A}' },
    ]);
    assert.deepEqual(only('FROM a\nENV E=\n', 'ENV').pairs, [{ key: 'E', value: '' }]);
    syntax('FROM a\nENV ONLYKEY\n', 2, 'ENV must have two arguments');
  });

  test('MAINTAINER, USER, WORKDIR, STOPSIGNAL take the rest of the line', () => {
    assert.equal(only('FROM a\nMAINTAINER Jo Doe <jo@example.com>\n', 'MAINTAINER').maintainer, 'Jo Doe <jo@example.com>');
    assert.equal(only('FROM a\nUSER app:app\n', 'USER').user, 'app:app');
    assert.equal(only('FROM a\nWORKDIR /home/w\n', 'WORKDIR').path, '/home/w');
    assert.equal(only('FROM a\nSTOPSIGNAL SIGTERM\n', 'STOPSIGNAL').signal, 'SIGTERM');
  });

  test('EXPOSE ports are sorted as Docker sorts them', () => {
    assert.deepEqual(only('FROM a\nEXPOSE 80/tcp 443 53/udp\n', 'EXPOSE').ports, ['443', '53/udp', '80/tcp']);
  });

  test('VOLUME as JSON or as a list', () => {
    assert.deepEqual(only('FROM a\nVOLUME ["/data", "/var/log"]\n', 'VOLUME').paths, ['/data', '/var/log']);
    assert.deepEqual(only('FROM a\nVOLUME /data /logs\n', 'VOLUME').paths, ['/data', '/logs']);
    syntax('FROM a\nVOLUME [""]\n', 2, 'VOLUME specified can not be an empty string');
  });

  test('COPY and ADD: flags, sources, destination, JSON form', () => {
    const copy = only('FROM a\nCOPY --chown=1000:1000 --chmod=755 --from=build --link a b /dst/\n', 'COPY');
    assert.deepEqual(
      [copy.sources, copy.dest, copy.chown, copy.chmod, copy.from, copy.link, copy.json],
      [['a', 'b'], '/dst/', '1000:1000', '755', 'build', true, false],
    );
    const json = only('FROM a\nCOPY ["a b", "/x y/"]\n', 'COPY');
    assert.deepEqual([json.sources, json.dest, json.json, json.link], [['a b'], '/x y/', true, false]);
    const add = only('FROM a\nADD --link=false --checksum=sha256:abc https://x/y.tgz /y/\n', 'ADD');
    assert.deepEqual([add.sources, add.link, add.checksum], [['https://x/y.tgz'], false, 'sha256:abc']);
    syntax('FROM a\nADD --from=x a b\n', 2, 'Unknown flag: from');
    syntax('FROM a\nCOPY --link=maybe a b\n', 2, 'Expecting boolean value for flag link, not: maybe');
  });

  test('ARG with and without default, several per line, quotes kept', () => {
    assert.deepEqual(only('FROM a\nARG A B=2 C="x y"\n', 'ARG').args, [
      { key: 'A' },
      { key: 'B', value: '2' },
      { key: 'C', value: '"x y"' },
    ]);
    syntax('FROM a\nARG =1\n', 2, 'ARG names can not be blank');
  });

  test('ONBUILD wraps a parsed instruction and keeps its text', () => {
    const ob = only('FROM a\nONBUILD RUN echo child\n', 'ONBUILD');
    assert.equal(ob.expression, 'RUN echo child');
    assert.equal(ob.trigger.kind, 'RUN');
    assert.deepEqual((ob.trigger as InstructionOf<'RUN'>).command, { form: 'shell', script: 'echo child' });
    assert.equal(ob.trigger.line, 2);
    const copy = only('FROM a\nonbuild COPY --chown=1:1 . /app\n', 'ONBUILD');
    assert.equal((copy.trigger as InstructionOf<'COPY'>).chown, '1:1');
    syntax('FROM a\nONBUILD ONBUILD RUN x\n', 2, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    syntax('FROM a\nONBUILD FROM b\n', 2, "FROM isn't allowed as an ONBUILD trigger");
    syntax('FROM a\nONBUILD MAINTAINER me\n', 2, "MAINTAINER isn't allowed as an ONBUILD trigger");
  });

  test('HEALTHCHECK: NONE, CMD shell and exec forms, options in nanoseconds', () => {
    assert.deepEqual(only('FROM a\nHEALTHCHECK NONE\n', 'HEALTHCHECK').health.test, ['NONE']);
    const h = only('FROM a\nHEALTHCHECK --interval=5s --timeout=1m30s --start-period=100ms --retries=3 CMD curl -f http://x/ || exit 1\n', 'HEALTHCHECK').health;
    assert.deepEqual(h, {
      test: ['CMD-SHELL', 'curl -f http://x/ || exit 1'],
      interval: 5_000_000_000,
      timeout: 90_000_000_000,
      startPeriod: 100_000_000,
      startInterval: 0,
      retries: 3,
    });
    assert.deepEqual(only('FROM a\nHEALTHCHECK CMD ["/bin/check", "-q"]\n', 'HEALTHCHECK').health.test, ['CMD', '/bin/check', '-q']);
    syntax('FROM a\nHEALTHCHECK NONE x\n', 2, 'HEALTHCHECK NONE takes no arguments');
    syntax('FROM a\nHEALTHCHECK RUN x\n', 2, 'Unknown type "RUN" in HEALTHCHECK (try CMD)');
    syntax('FROM a\nHEALTHCHECK CMD\n', 2, 'Missing command after HEALTHCHECK CMD');
    syntax('FROM a\nHEALTHCHECK --interval=5 CMD x\n', 2, 'time: invalid duration "5"');
    syntax('FROM a\nHEALTHCHECK --bogus=1 CMD x\n', 2, 'Unknown flag: bogus');
  });

  test('HEALTHCHECK: 0 for a duration or --retries means "use the default" (BuildKit since 2022)', () => {
    const h = only('FROM a\nHEALTHCHECK --interval=0s --timeout=0s --start-period=0s --start-interval=0s --retries=0 CMD x\n', 'HEALTHCHECK').health;
    assert.deepEqual(h, { test: ['CMD-SHELL', 'x'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 });
    assert.deepEqual(only('FROM a\nHEALTHCHECK --interval=0 --timeout=-0s --retries=-0 CMD x\n', 'HEALTHCHECK').health.retries, 0);
    // below 1ms but not 0, negative durations, negative retries: refused as BuildKit refuses them
    syntax('FROM a\nHEALTHCHECK --interval=999us CMD x\n', 2, 'Interval "interval" cannot be less than 1ms');
    syntax('FROM a\nHEALTHCHECK --timeout=-5s CMD x\n', 2, 'Interval "timeout" cannot be less than 1ms');
    syntax('FROM a\nHEALTHCHECK --start-interval=-1ms CMD x\n', 2, 'Interval "start-interval" cannot be less than 1ms');
    syntax('FROM a\nHEALTHCHECK --retries=-1 CMD x\n', 2, '--retries cannot be negative (-1)');
    syntax('FROM a\nHEALTHCHECK --retries=1.5 CMD x\n', 2, 'strconv.ParseInt: parsing "1.5": invalid syntax');
    syntax('FROM a\nHEALTHCHECK --retries=2147483648 CMD x\n', 2, 'strconv.ParseInt: parsing "2147483648": value out of range');
    assert.equal(only('FROM a\nHEALTHCHECK --retries=2147483647 CMD x\n', 'HEALTHCHECK').health.retries, 2147483647);
  });

  test('SHELL must be a non-empty JSON array', () => {
    assert.deepEqual(only('FROM a\nSHELL ["/bin/bash", "-eo", "pipefail", "-c"]\n', 'SHELL').shell, ['/bin/bash', '-eo', 'pipefail', '-c']);
    syntax('FROM a\nSHELL /bin/bash -c\n', 2, 'SHELL requires the arguments to be in JSON form');
    syntax('FROM a\nSHELL []\n', 2, 'SHELL requires at least one argument');
    syntax('FROM a\nSHELL ["/bin/sh", 1]\n', 2, 'when using JSON array syntax');
  });

  test('CMD --flag is a flag error, as in Docker', () => {
    syntax('FROM a\nCMD --help\n', 2, 'Unknown flag: help');
  });
});

describe('parseDockerfile: heredocs', () => {
  test('RUN <<EOF: the body is kept and the line range covers it', () => {
    const df = parse('FROM a\nRUN <<EOF\necho hello\necho $HOME\nEOF\nCMD x\n');
    const run = df.instructions[1] as InstructionOf<'RUN'>;
    assert.deepEqual(run.command, { form: 'shell', script: '<<EOF' });
    assert.deepEqual(run.heredocs, [{ name: 'EOF', content: 'echo hello\necho $HOME\n', expand: true, chomp: false, fd: 0 }]);
    assert.deepEqual([run.line, run.endLine], [2, 5]);
    assert.deepEqual([df.instructions[2]!.kind, df.instructions[2]!.line], ['CMD', 6]);
  });

  test('<<-EOF strips leading tabs from the body and allows an indented terminator', () => {
    const run = only('FROM a\nRUN <<-EOF\n\techo a\n\t\techo b\n\tEOF\n', 'RUN');
    assert.equal(run.heredocs[0]!.chomp, true);
    assert.equal(run.heredocs[0]!.content, '\techo a\n\t\techo b\n');
    assert.equal(heredocBody(run.heredocs[0]!), 'echo a\necho b\n');
  });

  test('quoted delimiters turn expansion off', () => {
    for (const w of ['"EOF"', "'EOF'", 'E"O"F']) {
      const run = only(`FROM a\nRUN <<${w}\nx\nEOF\n`, 'RUN');
      assert.deepEqual([run.heredocs[0]!.name, run.heredocs[0]!.expand], ['EOF', false], w);
    }
  });

  test('several heredocs on one line, read in order; a file descriptor prefix', () => {
    const run = only('FROM a\nRUN <<A cat - 3<<-"B" > /out\nfirst\nA\n\tsecond\n\tB\n', 'RUN');
    assert.deepEqual(
      run.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp, h.fd]),
      [
        ['A', 'first\n', true, false, 0],
        ['B', '\tsecond\n', false, true, 3],
      ],
    );
    assert.deepEqual(run.command, { form: 'shell', script: '<<A cat - 3<<-"B" > /out' });
  });

  test('COPY <<EOF /dest: heredoc sources become files, other sources stay paths', () => {
    const copy = only('FROM a\nCOPY <<EOF a.txt <<"OTHER" /dest/\nhello $USER\nEOF\nraw $X\nOTHER\n', 'COPY');
    assert.deepEqual(copy.sources, ['a.txt']);
    assert.deepEqual(copy.heredocs.map((h) => [h.name, h.content, h.expand]), [
      ['EOF', 'hello $USER\n', true],
      ['OTHER', 'raw $X\n', false],
    ]);
    assert.equal(copy.dest, '/dest/');
    syntax('FROM a\nCOPY a <<EOF\nx\nEOF\n', 2, 'COPY cannot accept a heredoc as a destination');
  });

  test('whitespace between `<<` and the delimiter (BuildKit 1.16+): `<< EOF`, `<<\t"EOF"`, `3<< EOF`', () => {
    // BuildKit's own vectors (parser_heredoc_test.go): `RUN <<  EOF` and `RUN <<  EOF  > foo`
    const df = parse('FROM a\nRUN <<  EOF\nEOF\nRUN <<  EOF  > foo\nEOF\nRUN cat << EOF\nhi $X\nEOF\n');
    const runs = df.instructions.slice(1) as InstructionOf<'RUN'>[];
    assert.deepEqual(runs.map((r) => r.heredocs), [
      [{ name: 'EOF', content: '', expand: true, chomp: false, fd: 0 }],
      [{ name: 'EOF', content: '', expand: true, chomp: false, fd: 0 }],
      [{ name: 'EOF', content: 'hi $X\n', expand: true, chomp: false, fd: 0 }],
    ]);
    assert.deepEqual(runs.map((r) => [r.line, r.endLine]), [[2, 3], [4, 5], [6, 8]]);
    const quoted = only('FROM a\nRUN <<\t"EOF" 4<< X\nbody\nEOF\nx\nX\n', 'RUN').heredocs;
    assert.deepEqual(quoted.map((h) => [h.name, h.expand, h.fd, h.content]), [['EOF', false, 0, 'body\n'], ['X', true, 4, 'x\n']]);
    // `<< -EOF` names "-EOF"; `<<- EOF` is no heredoc: the lexer keeps `<<-` a word of its own
    assert.deepEqual(only('FROM a\nRUN << -EOF\n-EOF\n', 'RUN').heredocs.map((h) => [h.name, h.chomp]), [['-EOF', false]]);
    assert.deepEqual(only('FROM a\nRUN <<- EOF\n', 'RUN').heredocs, []);
    // a lone `<<`, or one inside quotes, is none either
    assert.deepEqual(only('FROM a\nRUN echo <<\n', 'RUN').heredocs, []);
    assert.deepEqual(only('FROM a\nRUN echo "<< EOF"\n', 'RUN').heredocs, []);
    syntax('FROM a\nRUN cat << EOF\necho\n', 2, 'unterminated heredoc EOF');
  });

  test('COPY << EOF reads the body but, as in BuildKit, the sources stay the paths "<<" and "EOF"', () => {
    const df = parse('FROM a\nCOPY << EOF /x\nbody\nEOF\nCMD y\n');
    const copy = df.instructions[1] as InstructionOf<'COPY'>;
    assert.deepEqual([copy.sources, copy.heredocs, copy.endLine], [['<<', 'EOF'], [], 4]);
    assert.equal(df.instructions[2]!.kind, 'CMD');
  });

  test('a JSON form and other instructions have no heredoc', () => {
    assert.deepEqual(only('FROM a\nRUN ["cat", "<<EOF"]\n', 'RUN').heredocs, []);
    const df = parse('FROM a\nLABEL x=<<EOF\nCMD y\n');
    assert.deepEqual(df.instructions.map((i) => i.kind), ['FROM', 'LABEL', 'CMD']);
  });

  test('a body may hold comment-like lines and the delimiter word inside other text', () => {
    const run = only('FROM a\nRUN <<EOF\n# not a comment\n  EOF\nEOFX\nEOF\n', 'RUN');
    assert.equal(run.heredocs[0]!.content, '# not a comment\n  EOF\nEOFX\n');
  });

  test('ONBUILD RUN <<EOF keeps the body in its expression', () => {
    const ob = only('FROM a\nONBUILD RUN <<EOF\necho x\nEOF\n', 'ONBUILD');
    assert.equal(ob.expression, 'RUN <<EOF\necho x\nEOF');
    assert.equal((ob.trigger as InstructionOf<'RUN'>).heredocs.length, 1);
  });

  test('an unterminated heredoc names the instruction line', () => {
    syntax('FROM a\nRUN <<EOF\necho\n', 2, 'unterminated heredoc EOF');
  });

  test('heredoc after a continuation line', () => {
    const run = only('FROM a\nRUN --network=none \\\n  cat <<EOF\nbody\nEOF\n', 'RUN');
    assert.deepEqual([run.network, run.heredocs[0]!.content, run.endLine], ['none', 'body\n', 5]);
  });
});

describe('parseDockerfile: error messages name the file and line', () => {
  test('custom file name', () => {
    throwsShale(() => parseDockerfile('FROM a\nBAD x\n', { file: 'sub/Dockerfile.dev' }), 'DOCKERFILE_SYNTAX', 'sub/Dockerfile.dev:2: unknown instruction: BAD');
  });

  test('errors in continued instructions name the first line', () => {
    syntax('FROM a\nSHELL \\\n  /bin/sh\n', 2, 'SHELL requires the arguments to be in JSON form');
  });
});

describe('parseDockerfile: line length', () => {
  // BuildKit's bufio.Scanner holds 65536 bytes, the line ending included (TestParseReturnsScannerErrors)
  const MAX = 65_535;
  test('a line of 65535 bytes is read; 65536 bytes fail the parse, naming the line', () => {
    const ok = parse(`FROM a\nLABEL test=${'a'.repeat(MAX - 'LABEL test='.length)}\n`);
    assert.equal((ok.instructions[1] as InstructionOf<'LABEL'>).pairs[0]!.value.length, MAX - 11);
    syntax(`FROM a\nLABEL test=${'a'.repeat(MAX + 1 - 'LABEL test='.length)}\n`, 2, `dockerfile line greater than max allowed size of ${MAX}`);
    syntax(`\n\t\tFROM image\n\t\tLABEL test=${'a'.repeat(65_536)}\n`, 3, 'dockerfile line greater than max allowed size of 65535');
  });

  test('bytes count, not characters: UTF-8, a CR before the newline, a BOM; comments and heredoc bodies too', () => {
    const e = '\u00e9'; // two bytes in UTF-8
    parse(`FROM a\nLABEL t=${e.repeat(32_763)}x\n`); // 8 + 65526 + 1 bytes
    syntax(`FROM a\nLABEL t=${e.repeat(32_764)}\n`, 2, /max allowed size of 65535/); // 8 + 65528 bytes
    syntax(`FROM a\nLABEL t=${'a'.repeat(MAX - 8)}\r\n`, 2, /max allowed size/);
    parse(`FROM a\nLABEL t=${'a'.repeat(MAX - 9)}\r\n`);
    syntax(`\uFEFFFROM a${' '.repeat(MAX - 8)}\n`, 1, /max allowed size/);
    syntax(`FROM a\n# ${'c'.repeat(MAX)}\n`, 2, /max allowed size/);
    syntax(`FROM a\nRUN <<EOF\n${'b'.repeat(MAX + 1)}\nEOF\n`, 3, /max allowed size/);
    throwsShale(() => parseTrigger(`RUN ${'x'.repeat(MAX)}`), 'DOCKERFILE_SYNTAX', /ONBUILD trigger:1: dockerfile line greater/);
  });
});

describe('parseTrigger (a base image\'s ONBUILD entry)', () => {
  test('parses one instruction without FROM, heredoc bodies included', () => {
    const run = parseTrigger('RUN echo child');
    assert.deepEqual(run.kind === 'RUN' && run.command, { form: 'shell', script: 'echo child' });
    const ob = parseDockerfile('FROM a\nONBUILD COPY <<EOF /x\nhi\nEOF\n').instructions[1] as InstructionOf<'ONBUILD'>;
    const again = parseTrigger(ob.expression);
    assert.deepEqual(again.kind === 'COPY' && again.heredocs.map((h) => h.content), ['hi\n']);
  });

  test('refuses several instructions, FROM and ONBUILD', () => {
    throwsShale(() => parseTrigger('RUN a\nRUN b'), 'DOCKERFILE_SYNTAX', /single expression/);
    throwsShale(() => parseTrigger('FROM x'), 'DOCKERFILE_SYNTAX', "ONBUILD trigger:1: FROM isn't allowed as an ONBUILD trigger");
    throwsShale(() => parseTrigger('BOGUS x'), 'DOCKERFILE_SYNTAX', 'ONBUILD trigger:1: unknown instruction: BOGUS');
  });
});
