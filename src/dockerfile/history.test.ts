import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { toDockerConfigJson } from './apply-instruction.js';
import { contextEntryHasher, dirSourceName } from '../build/context-hash.js';
import { parseDockerfile } from './dockerfile.js';
import {
  combinedSourceName,
  copyCreatedBy,
  copySourceName,
  DEFAULT_SHELL,
  formatHealthcheck,
  metadataCreatedBy,
  runCreatedBy,
  workdirCreatedBy,
  type MetadataInstruction,
} from './history.js';
import type { InstructionOf } from './instructions.js';
import { planBuild } from './plan.js';
import { StageSteps } from './stage-steps.js';
import { referenceDockerfile } from './dockerfile-fixtures.js';

const REFERENCE = referenceDockerfile('busybox:bars');

/** config.history as measured (oldest first, `created` left out), after the base's entry. */
const REFERENCE_HISTORY = [
  { created_by: '/bin/sh -c #(nop)  ARG V=1', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  MAINTAINER ailala', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  LABEL a=b', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  ENV E=1 F=two words', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop) WORKDIR /home/w' },
  { author: 'ailala', created_by: '/bin/sh -c #(nop) COPY file:00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda in /x/ ' },
  { author: 'ailala', created_by: '/bin/sh -c #(nop) COPY dir:649c5e2d66cc69f4dedf115b0e9a088e65df0feaaa8b7780719ea57dabf2c9ca in /d ' },
  { author: 'ailala', created_by: '/bin/sh -c #(nop) ADD file:00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda in /y ' },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  USER 65534', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  EXPOSE 80/tcp', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  VOLUME [/data]', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  SHELL [/bin/sh -c]', empty_layer: true },
  { author: 'ailala', created_by: '|1 V=1 /bin/sh -c echo $E > /tmp/e' },
  { author: 'ailala', created_by: '|1 V=1 /bin/sh -c echo exec', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" \'\\x00\'}', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  STOPSIGNAL SIGTERM', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  ONBUILD RUN echo child', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh"]', empty_layer: true },
  { author: 'ailala', created_by: '/bin/sh -c #(nop)  CMD ["-c" "echo hi"]', empty_layer: true },
];

/** The measured config's fields (Image left out: it is the parent's ID, known to the executor). */
const REFERENCE_CONFIG = {
  Hostname: '',
  Domainname: '',
  User: '65534',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  ExposedPorts: { '80/tcp': {} },
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'E=1', 'F=two words'],
  Cmd: ['-c', 'echo hi'],
  Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5000000000 },
  Image: '',
  Volumes: { '/data': {} },
  WorkingDir: '/home/w',
  Entrypoint: ['/bin/sh'],
  OnBuild: ['RUN echo child'],
  Labels: { a: 'b' },
  StopSignal: 'SIGTERM',
  Shell: ['/bin/sh', '-c'],
};

/** The measured source hashes, computed from the context: a.txt = "hello\n", d/x = "x\n". */
function referenceSourceName(source: string): string {
  const file = (path: string, content: string) => contextEntryHasher({ path, type: 'file', mode: 0o644, size: content.length }).update(content).digest('hex');
  if (source === 'a.txt') return copySourceName('file', file('a.txt', 'hello\n'));
  if (source === 'd') return dirSourceName([contextEntryHasher({ path: 'd', type: 'dir', mode: 0o755, size: 0 }).digest('hex'), file('d/x', 'x\n')]);
  throw new Error(`unexpected source ${source}`);
}

describe('the reference Dockerfile (Docker 20.10 classic builder, measured)', () => {
  const df = parseDockerfile(REFERENCE);
  const plan = planBuild(df);

  test('parses into one stage from busybox:bars with 19 instructions', () => {
    assert.equal(plan.stages.length, 1);
    assert.deepEqual(plan.target.base, { kind: 'image', ref: 'busybox:bars' });
    assert.equal(plan.target.instructions.length, 19);
  });

  test('every history entry comes out exactly as Docker recorded it, and the config too', () => {
    const steps = new StageSteps({ buildArgs: plan.buildArgs, baseConfig: null, escape: df.escape, mode: 'classic' });
    const history = [];
    const layerMakers: string[] = [];
    for (const inst of plan.target.instructions) {
      const step = steps.prepare(inst);
      switch (step.kind) {
        case 'metadata':
          history.push(step.history);
          break;
        case 'workdir':
          history.push(step.history);
          layerMakers.push('WORKDIR');
          break;
        case 'copy':
          history.push(step.history(combinedSourceName(step.instruction.sources.map(referenceSourceName))));
          layerMakers.push(step.instruction.kind);
          break;
        case 'run': {
          // The exec-form RUN changed no file: Docker marks it empty_layer.
          const changedNothing = step.instruction.command.form === 'exec';
          history.push(changedNothing ? { ...step.history, empty_layer: true } : step.history);
          if (!changedNothing) layerMakers.push('RUN');
          break;
        }
      }
    }
    assert.deepEqual(history, REFERENCE_HISTORY);
    assert.deepEqual(layerMakers, ['WORKDIR', 'COPY', 'COPY', 'ADD', 'RUN']); // + base = 6 diff_ids
    assert.deepEqual(toDockerConfigJson(steps.state.config), REFERENCE_CONFIG);
    assert.deepEqual(Object.keys(toDockerConfigJson(steps.state.config)), Object.keys(REFERENCE_CONFIG));
    assert.equal(steps.state.author, 'ailala');
  });

  test('the RUN steps get the command, and an environment with ENV and the build args', () => {
    const steps = new StageSteps({ buildArgs: plan.buildArgs, escape: df.escape, mode: 'classic' });
    const runs = plan.target.instructions.map((i) => steps.prepare(i)).filter((s) => s.kind === 'run');
    assert.deepEqual(runs.map((r) => r.argv), [
      ['/bin/sh', '-c', 'echo $E > /tmp/e'],
      ['/bin/sh', '-c', 'echo exec'],
    ]);
    assert.deepEqual(runs[0]!.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'E=1', 'F=two words', 'V=1']);
  });

  test('a --build-arg override shows in RUN entries but not in the ARG entry', () => {
    const p = planBuild(df, { buildArgs: { V: '7' } });
    const steps = new StageSteps({ buildArgs: p.buildArgs, escape: df.escape, mode: 'classic' });
    const entries = p.target.instructions.map((i) => steps.prepare(i)).filter((s) => s.kind !== 'copy').map((s) => s.history!.created_by);
    assert.ok(entries.includes('/bin/sh -c #(nop)  ARG V=1'));
    assert.ok(entries.includes('/bin/sh -c #(nop)  ENV E=7 F=two words'));
    assert.ok(entries.includes('|1 V=7 /bin/sh -c echo $E > /tmp/e'));
  });
});

describe('created_by strings', () => {
  const inst = <K extends MetadataInstruction['kind']>(line: string): InstructionOf<K> =>
    parseDockerfile(`FROM a\n${line}\n`).instructions[1] as InstructionOf<K>;

  test('two spaces after #(nop) for metadata, one for WORKDIR and COPY/ADD', () => {
    assert.equal(metadataCreatedBy(inst('USER app')), '/bin/sh -c #(nop)  USER app');
    assert.equal(workdirCreatedBy(DEFAULT_SHELL, '/app'), '/bin/sh -c #(nop) WORKDIR /app');
    assert.equal(copyCreatedBy(DEFAULT_SHELL, { instruction: 'COPY', source: 'file:abc', dest: '.' }), '/bin/sh -c #(nop) COPY file:abc in . ');
  });

  test('a SHELL changes the prefix of later entries', () => {
    const bash = ['/bin/bash', '-o', 'pipefail', '-c'];
    assert.equal(metadataCreatedBy(inst('ENV A=1'), bash), '/bin/bash -o pipefail -c #(nop)  ENV A=1');
    assert.equal(metadataCreatedBy(inst('SHELL ["/bin/bash", "-o", "pipefail", "-c"]'), bash), '/bin/bash -o pipefail -c #(nop)  SHELL [/bin/bash -o pipefail -c]');
    assert.equal(workdirCreatedBy(bash, '/w'), '/bin/bash -o pipefail -c #(nop) WORKDIR /w');
  });

  test('COPY --chown is glued to the source name, as Docker writes it', () => {
    assert.equal(
      copyCreatedBy(DEFAULT_SHELL, { instruction: 'COPY', source: 'dir:00ff', dest: '/app/', chown: '1000:1000' }),
      '/bin/sh -c #(nop) COPY --chown=1000:1000dir:00ff in /app/ ',
    );
  });

  test('several sources are one multi: name (sha256 of the names joined with commas)', () => {
    assert.equal(combinedSourceName(['file:aa']), 'file:aa');
    const expected = `multi:${createHash('sha256').update('file:aa,dir:bb').digest('hex')}`;
    assert.equal(combinedSourceName(['file:aa', 'dir:bb']), expected);
    assert.notEqual(combinedSourceName(['file:aa', 'dir:bb']), combinedSourceName(['dir:bb', 'file:aa']));
  });

  test('RUN: |N K=V prefix only when build args are in effect, even |0', () => {
    assert.equal(runCreatedBy(['/bin/sh', '-c', 'make']), '/bin/sh -c make');
    assert.equal(runCreatedBy(['/bin/sh', '-c', 'make'], ['A=1', 'B=x y']), '|2 A=1 B=x y /bin/sh -c make');
    assert.equal(runCreatedBy(['/bin/sh', '-c', 'make'], []), '|0 /bin/sh -c make');
    assert.equal(runCreatedBy(['echo', 'exec form']), 'echo exec form');
  });

  test('CMD and ENTRYPOINT: Go %q of the resolved command', () => {
    assert.equal(metadataCreatedBy(inst('CMD echo "hi"')), '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo \\"hi\\""]');
    assert.equal(metadataCreatedBy(inst('ENTRYPOINT ["a\\tb", "é", "\\u0001"]')), '/bin/sh -c #(nop)  ENTRYPOINT ["a\\tb" "é" "\\x01"]');
    assert.equal(metadataCreatedBy(inst('CMD []')), '/bin/sh -c #(nop)  CMD []');
    assert.equal(metadataCreatedBy(inst('ENTRYPOINT exec app'), ['pwsh', '-c']), 'pwsh -c #(nop)  ENTRYPOINT ["pwsh" "-c" "exec app"]');
  });

  test('VOLUME, EXPOSE, LABEL, ARG, MAINTAINER, STOPSIGNAL, ONBUILD', () => {
    assert.equal(metadataCreatedBy(inst('VOLUME ["/a", "/b"]')), '/bin/sh -c #(nop)  VOLUME [/a /b]');
    assert.equal(metadataCreatedBy(inst('EXPOSE 80 443/tcp')), '/bin/sh -c #(nop)  EXPOSE 443/tcp 80');
    assert.equal(metadataCreatedBy(inst('LABEL x=1 y=2')), '/bin/sh -c #(nop)  LABEL x=1 y=2');
    assert.equal(metadataCreatedBy(inst('ARG A B=2')), '/bin/sh -c #(nop)  ARG A B=2');
    assert.equal(metadataCreatedBy(inst('MAINTAINER Jo <j@x>')), '/bin/sh -c #(nop)  MAINTAINER Jo <j@x>');
    assert.equal(metadataCreatedBy(inst('STOPSIGNAL 9')), '/bin/sh -c #(nop)  STOPSIGNAL 9');
    assert.equal(metadataCreatedBy(inst('ONBUILD COPY . /src')), '/bin/sh -c #(nop)  ONBUILD COPY . /src');
  });

  test('HEALTHCHECK: Go struct formatting with durations and retries', () => {
    assert.equal(
      metadataCreatedBy(inst('HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2h --retries=3 CMD ["curl", "-f", "x"]')),
      '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD" "curl" "-f" "x"] "1m30s" "500ms" "2h0m0s" \'\\x03\'}',
    );
    assert.equal(metadataCreatedBy(inst('HEALTHCHECK NONE')), '/bin/sh -c #(nop)  HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}');
    const h = inst<'HEALTHCHECK'>('HEALTHCHECK --start-interval=1s --retries=65 CMD true').health;
    assert.equal(formatHealthcheck(h), '&{["CMD-SHELL" "true"] "0s" "0s" "0s" \'A\'}');
    assert.equal(formatHealthcheck(h, { withStartInterval: true }), '&{["CMD-SHELL" "true"] "0s" "0s" "0s" "1s" \'A\'}');
  });
});
