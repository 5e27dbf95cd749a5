import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDockerfile } from './dockerfile.js';
import type { InstructionOf } from './instructions.js';
import { planBuild, type PlanOptions } from './plan.js';
import { runArgv, StageSteps, type PreparedStep } from './stage-steps.js';

/** Prepares every instruction of the target stage. */
function stepsOf(text: string, options: PlanOptions & { baseConfig?: Record<string, unknown> } = {}): { steps: PreparedStep[]; driver: StageSteps } {
  const df = parseDockerfile(text);
  const plan = planBuild(df, options);
  const driver = new StageSteps({ buildArgs: plan.buildArgs, baseConfig: options.baseConfig, escape: df.escape, mode: 'classic' });
  return { steps: plan.target.instructions.map((i) => driver.prepare(i)), driver };
}
const createdBy = (s: PreparedStep) => (s.kind === 'copy' ? s.history('file:h').created_by : s.history!.created_by);

describe('StageSteps', () => {
  test('a meta ARG is visible in a stage only after re-declaring it', () => {
    const { steps } = stepsOf('ARG V=meta\nFROM a\nENV A=[$V]\nARG V\nENV B=[$V]\nRUN echo\n');
    assert.deepEqual(steps.map(createdBy), [
      '/bin/sh -c #(nop)  ENV A=[]',
      '/bin/sh -c #(nop)  ARG V',
      '/bin/sh -c #(nop)  ENV B=[meta]',
      '|1 V=meta /bin/sh -c echo',
    ]);
  });

  test('ENV shadows an ARG: it is no longer recorded in RUN', () => {
    const { steps } = stepsOf('FROM a\nARG V=1\nENV V=2\nRUN echo $V\n');
    const run = steps[2]!;
    assert.equal(createdBy(run), '/bin/sh -c echo $V');
    assert.equal(run.kind === 'run' && run.env.includes('V=2'), true);
  });

  test('proxy build args reach RUN but history shows |0', () => {
    const { steps } = stepsOf('FROM a\nRUN apt-get update\n', { buildArgs: { https_proxy: 'http://proxy:3128' } });
    const run = steps[0]!;
    assert.equal(createdBy(run), '|0 /bin/sh -c apt-get update');
    assert.ok(run.kind === 'run' && run.env.includes('https_proxy=http://proxy:3128'));
  });

  test('COPY gets expanded values; WORKDIR reports the resolved directory; the SHELL prefix follows', () => {
    const { steps } = stepsOf('FROM a\nARG U=app\nSHELL ["/bin/ash", "-c"]\nWORKDIR src\nCOPY --chown=$U:$U . ./\n');
    const [, , workdir, copy] = steps;
    assert.equal(workdir!.kind === 'workdir' && workdir.workingDir, '/src');
    assert.equal(createdBy(workdir!), '/bin/ash -c #(nop) WORKDIR /src');
    assert.equal(copy!.kind === 'copy' && copy.instruction.chown, 'app:app');
    assert.equal(createdBy(copy!), '/bin/ash -c #(nop) COPY --chown=app:appfile:h in ./ ');
  });

  test('the base config is the starting point: inherited Env expands, OnBuild triggers are handed out', () => {
    const { steps, driver } = stepsOf('FROM a\nWORKDIR $HOME\n', {
      baseConfig: { Env: ['HOME=/root', 'PATH=/bin'], OnBuild: ['RUN echo trigger'] },
    });
    assert.equal(steps[0]!.kind === 'workdir' && steps[0].workingDir, '/root');
    assert.deepEqual(driver.triggers, ['RUN echo trigger']);
    assert.deepEqual(driver.state.config.Env, ['HOME=/root', 'PATH=/bin']);
  });

  test('entries after MAINTAINER carry the author', () => {
    const { steps } = stepsOf('FROM a\nENV A=1\nMAINTAINER me\nRUN x\n');
    assert.deepEqual(steps.map((s) => (s.kind === 'copy' ? undefined : s.history!.author)), [undefined, 'me', 'me']);
  });
});

describe('runArgv: heredocs as BuildKit runs them', () => {
  const run = (text: string) => parseDockerfile(`FROM a\n${text}`).instructions[1] as InstructionOf<'RUN'>;
  const sh = ['/bin/sh', '-c'];

  test('RUN <<EOF alone runs the body with the shell (tabs stripped for <<-)', () => {
    assert.deepEqual(runArgv(run('RUN <<EOF\necho a\necho b\nEOF\n'), sh), { argv: ['/bin/sh', '-c', 'echo a\necho b\n'], inlineFiles: [] });
    assert.deepEqual(runArgv(run('RUN <<-EOF\n\techo a\n\tEOF\n'), sh).argv, ['/bin/sh', '-c', 'echo a\n']);
  });

  test('RUN << EOF (whitespace after <<) alone runs the body too; with more words it goes to the shell whole', () => {
    assert.deepEqual(runArgv(run('RUN <<  EOF\necho a\nEOF\n'), sh).argv, ['/bin/sh', '-c', 'echo a\n']);
    assert.deepEqual(runArgv(run('RUN << EOF sh -x\necho a\nEOF\n'), sh).argv, ['/bin/sh', '-c', '<< EOF sh -x\necho a\nEOF']);
  });

  test('a #! body becomes an executable file that the shell runs (BuildKit: `/bin/sh -c /dev/pipes/EOF`)', () => {
    assert.deepEqual(runArgv(run('RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n'), sh), {
      argv: ['/bin/sh', '-c', '/dev/pipes/EOF'],
      inlineFiles: [{ path: '/dev/pipes/EOF', data: '#!/usr/bin/env python3\nprint(1)\n', mode: 0o755 }],
    });
  });

  test('heredocs used inside a command go to the shell whole', () => {
    assert.deepEqual(runArgv(run('RUN cat <<A > /a <<-B\nx\nA\n\ty\n\tB\n'), sh).argv, ['/bin/sh', '-c', 'cat <<A > /a <<-B\nx\nA\n\ty\nB']);
  });

  test('no heredoc: the shell or exec form as is', () => {
    assert.deepEqual(runArgv(run('RUN echo hi\n'), sh).argv, ['/bin/sh', '-c', 'echo hi']);
    assert.deepEqual(runArgv(run('RUN ["echo", "hi"]\n'), sh).argv, ['echo', 'hi']);
  });
});
