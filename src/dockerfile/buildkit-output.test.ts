import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDockerfile } from './dockerfile.js';
import { planBuild } from './plan.js';
import { StageSteps, type PreparedStep } from './stage-steps.js';
import { fillBuildkitCreated, toBuildkitConfigJson } from './buildkit-output.js';

/** The BuildKit history entries of the target stage (created_by, empty_layer), as Docker 26 writes them. */
function entries(text: string, buildArgs: Record<string, string> = {}): string[] {
  const df = parseDockerfile(text);
  const plan = planBuild(df, { buildArgs });
  const steps = new StageSteps({ buildArgs: plan.buildArgs, baseConfig: {}, escape: df.escape });
  const history = (s: PreparedStep) => (s.kind === 'copy' ? s.history('file:unused') : s.history);
  return plan.target.instructions
    .map((i) => history(steps.prepare(i)))
    .filter((h) => h !== undefined)
    .map((h) => {
      assert.equal(h.comment, 'buildkit.dockerfile.v0');
      return `${h.empty_layer ? '(empty) ' : ''}${h.created_by}`;
    });
}

describe('BuildKit output (measured on Docker 26)', () => {
  test('history texts: no #(nop), RUN with every ARG declaration, COPY with its sources as written', () => {
    assert.deepEqual(
      entries('ARG G=global\nFROM a\nARG G\nARG A=1 B\nARG A=2\nENV E=1 F="two words"\nRUN echo hi\nCOPY --chown=1:1 --chmod=640 a.txt d /x/\nCOPY <<EOT /h\nx\nEOT\nWORKDIR /w/\nWORKDIR /\nEXPOSE 80 53/udp\nONBUILD RUN x\nHEALTHCHECK --interval=5s CMD true\nCMD echo c\nRUN ["echo", "exec"]\n'),
      [
        '(empty) ARG G',
        '(empty) ARG A=1 B',
        '(empty) ARG A=2',
        '(empty) ENV E=1 F=two words',
        'RUN |4 G=global A=2 B= A=2 /bin/sh -c echo hi # buildkit',
        'COPY --chown=1:1 --chmod=640 a.txt d /x/ # buildkit',
        'COPY <<EOT /h # buildkit',
        'WORKDIR /w/',
        '(empty) WORKDIR /',
        '(empty) EXPOSE map[53/udp:{} 80/tcp:{}]',
        `(empty) HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" "0s" '\\x00'}`,
        '(empty) CMD ["/bin/sh" "-c" "echo c"]',
        'RUN |4 G=global A=2 B= A=2 echo exec # buildkit',
      ],
    );
  });

  test('a RUN without ARGs has no |0; a --build-arg shows in RUN, not in ARG', () => {
    assert.deepEqual(entries('FROM a\nRUN true\nARG V=1\nRUN true\n', { V: '7' }), ['RUN /bin/sh -c true # buildkit', '(empty) ARG V=1', 'RUN |1 V=7 /bin/sh -c true # buildkit']);
  });

  test('config: BuildKit\'s keys in its order, empty ones left out; CMD sets ArgsEscaped; scratch starts with PATH and /', () => {
    const df = parseDockerfile('FROM scratch\nLABEL b=2 a=1\nCMD ["x"]\nUSER u\n');
    const plan = planBuild(df, {});
    const steps = new StageSteps({ buildArgs: plan.buildArgs });
    for (const i of plan.target.instructions) steps.prepare(i);
    const json = toBuildkitConfigJson(steps.state.config);
    assert.deepEqual(Object.keys(json), ['User', 'Env', 'Cmd', 'WorkingDir', 'Labels', 'ArgsEscaped']);
    assert.deepEqual(json.Labels, { a: '1', b: '2' });
    assert.equal(JSON.stringify(Object.keys(json.Labels!)), '["a","b"]');
    assert.equal(json.WorkingDir, '/');
  });

  test('created: an entry without a layer takes the time before it; leading ones the first new layer\'s', () => {
    const h = (created?: string, empty = false) => ({ ...(created ? { created } : {}), created_by: 'x', ...(empty ? { empty_layer: true } : {}) });
    const times = (list: ReturnType<typeof h>[]) => fillBuildkitCreated(list).map((e) => e.created);
    assert.deepEqual(times([h('base'), h(undefined, true), h('l1'), h(undefined, true), h('l2'), h(undefined, true)]), ['base', 'l1', 'l1', 'l1', 'l2', 'l2']);
    assert.deepEqual(times([h('base'), h('l0'), h(undefined, true), h('l1')]), ['base', 'l0', 'l1', 'l1']);
    assert.deepEqual(times([h('base'), h(undefined, true), h(undefined, true)]), ['base', 'base', 'base']);
  });
});
