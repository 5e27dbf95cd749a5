import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyInstruction, DEFAULT_PATH, isValidSignal, parsePortSpec, resolveWorkdir, startStage, toDockerConfigJson, type StageConfig } from './apply-instruction.js';
import { throwsShale } from './dockerfile-fixtures.js';
import { parseDockerfile } from './dockerfile.js';
import type { Instruction } from './instructions.js';

const insts = (lines: string): Instruction[] => parseDockerfile(`FROM a\n${lines}\n`).instructions.slice(1);
const run = (state: StageConfig, lines: string): StageConfig => insts(lines).reduce((s, i) => applyInstruction(s, i).state, state);
const fresh = () => startStage(null).state;

describe('startStage', () => {
  test('a base without Env gets Docker\'s default PATH; one with PATH keeps it', () => {
    assert.deepEqual(startStage(null).state.config.Env, [`PATH=${DEFAULT_PATH}`]);
    assert.deepEqual(startStage({ Env: ['HOME=/root'] }).state.config.Env, ['HOME=/root', `PATH=${DEFAULT_PATH}`]);
    assert.deepEqual(startStage({ Env: ['PATH=/bin'] }).state.config.Env, ['PATH=/bin']);
  });

  test('the base\'s OnBuild triggers are handed out and cleared; the base is not changed', () => {
    const base = { OnBuild: ['RUN echo child'], Cmd: ['sh'] };
    const { state, triggers } = startStage(base);
    assert.deepEqual(triggers, ['RUN echo child']);
    assert.equal(state.config.OnBuild, null);
    assert.deepEqual(state.config.Cmd, ['sh']);
    assert.deepEqual(base.OnBuild, ['RUN echo child']);
  });
});

describe('applyInstruction', () => {
  test('ENV replaces a variable in place and appends new ones', () => {
    const s = run(fresh(), 'ENV A=1 B=2\nENV A=3 PATH=/x');
    assert.deepEqual(s.config.Env, ['PATH=/x', 'A=3', 'B=2']);
  });

  test('the input state is never changed', () => {
    const s0 = fresh();
    const before = structuredClone(s0);
    run(s0, 'ENV A=1\nLABEL x=y\nEXPOSE 80\nVOLUME /v\nCMD x');
    assert.deepEqual(s0, before);
  });

  test('ENTRYPOINT resets an inherited CMD, but not a CMD of this stage', () => {
    const inherited = startStage({ Cmd: ['sh'] }).state;
    assert.equal(run(inherited, 'ENTRYPOINT ["/app"]').config.Cmd, null);
    const own = run(inherited, 'CMD ["--help"]\nENTRYPOINT ["/app"]');
    assert.deepEqual([own.config.Entrypoint, own.config.Cmd], [['/app'], ['--help']]);
    assert.equal(run(inherited, 'ENTRYPOINT []').config.Entrypoint, null);
  });

  test('shell forms use the current SHELL', () => {
    const s = run(fresh(), 'SHELL ["/bin/bash", "-c"]\nCMD echo hi\nENTRYPOINT exec app');
    assert.deepEqual(s.config.Cmd, ['/bin/bash', '-c', 'echo hi']);
    assert.deepEqual(s.config.Entrypoint, ['/bin/bash', '-c', 'exec app']);
    assert.deepEqual(s.config.Shell, ['/bin/bash', '-c']);
  });

  test('WORKDIR: relative paths resolve against the previous one; absolute ones are kept as written', () => {
    assert.equal(run(fresh(), 'WORKDIR /a\nWORKDIR b\nWORKDIR ../c/./d').config.WorkingDir, '/a/c/d');
    assert.equal(run(fresh(), 'WORKDIR rel').config.WorkingDir, '/rel');
    assert.equal(run(fresh(), 'WORKDIR /a/b/').config.WorkingDir, '/a/b/');
    const r = applyInstruction(fresh(), insts('WORKDIR /home/w')[0]!);
    assert.deepEqual([r.createdBy, r.emptyLayer], ['/bin/sh -c #(nop) WORKDIR /home/w', false]);
    assert.equal(resolveWorkdir('/x', 'y'), '/x/y');
  });

  test('EXPOSE: port keys with protocol, ranges; bad specs are errors with the line', () => {
    assert.deepEqual(Object.keys(run(fresh(), 'EXPOSE 80 53/UDP 8000-8002/tcp').config.ExposedPorts!).sort(), [
      '53/udp', '80/tcp', '8000/tcp', '8001/tcp', '8002/tcp',
    ]);
    assert.deepEqual(parsePortSpec('127.0.0.1:8080:80/udp'), ['80/udp']);
    assert.deepEqual(parsePortSpec('443/'), ['443/tcp']);
    throwsShale(() => run(fresh(), 'EXPOSE 80/xyz'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: Invalid proto: xyz');
    throwsShale(() => run(fresh(), 'EXPOSE abc'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: Invalid containerPort: abc');
    throwsShale(() => run(fresh(), 'EXPOSE 90-80'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: Invalid containerPort: 90-80');
  });

  test('VOLUME, USER, LABEL (merged), STOPSIGNAL, ONBUILD, MAINTAINER', () => {
    const s = run(startStage({ Labels: { base: '1' } }).state, 'VOLUME /a ["/b"]\nVOLUME /c\nUSER 1000\nLABEL a=b\nLABEL base=2\nSTOPSIGNAL SIGKILL\nONBUILD RUN x\nONBUILD COPY . /\nMAINTAINER me');
    assert.deepEqual(Object.keys(s.config.Volumes!), ['/a', '["/b"]', '/c']);
    assert.equal(s.config.User, '1000');
    assert.deepEqual(s.config.Labels, { base: '2', a: 'b' });
    assert.equal(s.config.StopSignal, 'SIGKILL');
    assert.deepEqual(s.config.OnBuild, ['RUN x', 'COPY . /']);
    assert.equal(s.author, 'me');
    throwsShale(() => run(fresh(), 'STOPSIGNAL SIGNOPE'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: Invalid signal: SIGNOPE');
  });

  test('HEALTHCHECK in Docker\'s JSON shape (nanoseconds, zeros left out)', () => {
    const s = run(fresh(), 'HEALTHCHECK --interval=30s --retries=2 CMD ["check"]');
    assert.deepEqual(s.config.Healthcheck, { Test: ['CMD', 'check'], Interval: 30_000_000_000, Retries: 2 });
    assert.deepEqual(run(s, 'HEALTHCHECK NONE').config.Healthcheck, { Test: ['NONE'] });
  });

  test('metadata instructions report their created_by and empty_layer; RUN/COPY do not', () => {
    const [env, runInst, arg] = insts('ENV A=1\nRUN x\nARG Q=1');
    assert.deepEqual(applyInstruction(fresh(), env!).createdBy, '/bin/sh -c #(nop)  ENV A=1');
    assert.equal(applyInstruction(fresh(), env!).emptyLayer, true);
    assert.equal(applyInstruction(fresh(), runInst!).createdBy, undefined);
    assert.equal(applyInstruction(fresh(), arg!).createdBy, '/bin/sh -c #(nop)  ARG Q=1');
  });
});

describe('signals and config JSON', () => {
  test('isValidSignal as Docker parses signals', () => {
    for (const ok of ['SIGTERM', 'term', 'KILL', '9', 'SIGRTMIN+3', 'RTMAX-2', 'sigusr1']) assert.equal(isValidSignal(ok), true, ok);
    for (const bad of ['0', 'SIGFOO', '', 'RTMIN+16']) assert.equal(isValidSignal(bad), false, bad);
  });

  test('toDockerConfigJson: Docker\'s field order, nulls for unset lists and maps, sorted maps', () => {
    const json = toDockerConfigJson({ Labels: { b: '1', a: '2' }, Env: ['A=1'], Custom: 1 });
    assert.deepEqual(Object.keys(json), [
      'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce',
      'Env', 'Cmd', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels', 'Custom',
    ]);
    assert.deepEqual([json.Cmd, json.Volumes, json.Entrypoint, json.OnBuild], [null, null, null, null]);
    assert.deepEqual(Object.keys(json.Labels!), ['a', 'b']);
  });
});
