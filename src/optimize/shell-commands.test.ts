import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildLintModel } from './lint-model.js';
import { lintDockerfile } from './lint.js';
import { readShellScript } from './shell-commands.js';
import { changesShellState, splitShellScript } from './shell-script.js';
import { rewriteDockerfile } from './slim-rewrite.js';
import { parseDockerfile } from '../dockerfile/index.js';

describe('readShellScript', () => {
  test('top-level items keep their text and operator; fd duplications and &> are redirections, not operators', () => {
    const read = readShellScript('make 2>&1 | tee /tmp/log && { cd /src; } ; (cd /x && ls) &>/dev/null || echo "a && b"');
    assert.equal(read.certain, true);
    assert.deepEqual(
      read.items.map((i) => [i.text, i.next, i.group ?? '']),
      [
        ['make 2>&1', '|', ''],
        ['tee /tmp/log', '&&', ''],
        ['{ cd /src; }', ';', '{'],
        ['(cd /x && ls) &>/dev/null', '||', '('],
        ['echo "a && b"', '', ''],
      ],
    );
    assert.deepEqual(
      read.commands.map((c) => [c.argv.join(' '), c.subshell ?? 0]),
      [
        ['make', 0],
        ['tee /tmp/log', 0],
        ['cd /src', 0],
        ['cd /x', 1],
        ['ls', 1],
        ['', 0], // the group's own redirection, a command without words
        ['echo a && b', 0],
      ],
    );
  });
  test('uncertain: unbalanced quotes or groups, here-documents, control flow, function definitions', () => {
    for (const script of ["echo 'a", 'echo "a', 'echo $(a', '( a', '{ a; ', 'cat <<EOF', 'if true; then a; fi', 'for x in 1; do a; done', 'f() { a; }', 'case x in a) b;; esac']) {
      assert.equal(readShellScript(script).certain, false, script);
    }
    for (const script of ['a && b', 'echo "$(a; b)" | c', '{ a; } && (b)', 'x=1 y=2', 'echo "}" ")"']) {
      assert.equal(readShellScript(script).certain, true, script);
    }
  });
  test('a case branch ends its commands at ;;', () => {
    const read = readShellScript('case "$ID" in debian) apt-get install -y x;; *) apk add x;; esac');
    assert.equal(read.certain, false);
    assert.deepEqual(read.commands.map((c) => c.argv), [['apt-get', 'install', '-y', 'x'], ['apk', 'add', 'x']]);
  });
  test('a brace group runs in the same shell: its cd changes state; a subshell does not', () => {
    assert.equal(changesShellState(splitShellScript('{ cd /src; }')!), true);
    assert.equal(changesShellState(splitShellScript('(cd /src && make)')!), false);
    assert.equal(changesShellState(splitShellScript('FOO=1')!), true);
    assert.equal(changesShellState(splitShellScript('FOO=1 make')!), false);
  });
});

describe('lint and slim read a RUN script the same way', () => {
  // echo's words name a package manager; a redirection has an `&`; a brace group changes directory
  const TRICKY = [
    'FROM debian:12',
    'RUN echo yum install is not run here 2>&1 | tee /tmp/log && { cd /usr/src; } && sudo apt-get -o Dpkg::Use-Pty=0 install -y curl',
    'RUN touch made-here',
    '',
  ].join('\n');

  test('the same simple commands', () => {
    const model = buildLintModel(parseDockerfile(TRICKY));
    for (const step of model.stages[0]!.steps) {
      if (step.inst.kind !== 'RUN' || step.inst.command.form !== 'shell') continue;
      const slim = splitShellScript(step.inst.command.script)!.flatMap((item) => item.commands);
      assert.deepEqual(
        slim.map((c) => c.argv),
        step.commands.map((c) => c.argv),
      );
    }
  });

  test('what each does with the script agrees: no yum, an apt-get install, a cd that holds', () => {
    const findings = lintDockerfile(TRICKY);
    assert.deepEqual(findings.filter((f) => f.rule === 'SL1009'), []);
    assert.equal(findings.filter((f) => f.rule === 'SL1003').length, 1);
    const model = buildLintModel(parseDockerfile(TRICKY));
    assert.equal(model.stages[0]!.steps[0]!.commands.at(-1)!.cwd, '/usr/src');

    const slim = rewriteDockerfile(TRICKY);
    assert.doesNotMatch(slim.text, /yum clean/);
    assert.match(slim.text, /apt-get clean/);
    // the brace group's cd would move the chained `touch`: the first RUN is kept in a subshell
    assert.match(slim.text, /^RUN \( echo yum install .* \) \\\n && touch made-here/m);
  });
});

test('slim reads the script the shell runs: a comment line inside a continued RUN is not an operator', () => {
  const text = ['FROM debian:12', 'RUN echo one', 'RUN apt-get update \\', ' # refresh the lists', ' && apt-get install -y --no-install-recommends x', ''].join('\n');
  const model = buildLintModel(parseDockerfile(text));
  assert.deepEqual(model.stages[0]!.steps[1]!.commands.map((c) => c.argv[1]), ['update', 'install']);
  // one && chain, as lint reads it: chained without a subshell, the comment line kept
  assert.match(rewriteDockerfile(text).text, /^RUN echo one \\\n && apt-get update \\\n # refresh the lists\n && apt-get install/m);
});
