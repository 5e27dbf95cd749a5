import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { throwsShale } from './dockerfile-fixtures.js';
import { parseDockerfile } from './dockerfile.js';
import type { InstructionOf } from './instructions.js';
import { planBuild, stageLabel, type PlanOptions } from './plan.js';

const plan = (text: string, options?: PlanOptions) => planBuild(parseDockerfile(text), options);
const orderOf = (text: string, options?: PlanOptions) => plan(text, options).order.map(stageLabel);

const MULTI = `ARG GO=1.22
FROM golang:\${GO} AS build
RUN go build -o /app

FROM alpine AS test
RUN echo test

FROM build AS lint
RUN go vet

FROM scratch
COPY --from=build /app /app
COPY --from=1 /etc/os-release /x
COPY --from=nginx:latest /etc/nginx /etc/nginx
`;

describe('planBuild: stages', () => {
  test('stages with names, bases and instructions; meta args expanded in FROM', () => {
    const p = plan(MULTI);
    assert.deepEqual(
      p.stages.map((s) => [s.index, s.name, s.image, s.base, s.instructions.length]),
      [
        [0, 'build', 'golang:1.22', { kind: 'image', ref: 'golang:1.22' }, 1],
        [1, 'test', 'alpine', { kind: 'image', ref: 'alpine' }, 1],
        [2, 'lint', 'build', { kind: 'stage', index: 0 }, 1],
        [3, undefined, 'scratch', { kind: 'scratch' }, 3],
      ],
    );
    assert.deepEqual(p.metaArgs, [{ key: 'GO', value: '1.22' }]);
  });

  test('COPY --from resolves a name, an index or an image', () => {
    const p = plan(MULTI);
    const last = p.stages[3]!;
    assert.deepEqual([...last.copyFrom.values()], [
      { kind: 'stage', index: 0 },
      { kind: 'stage', index: 1 },
      { kind: 'image', ref: 'nginx:latest' },
    ]);
    assert.deepEqual(last.dependencies, [0, 1]);
    assert.equal(last.copyFrom.get(last.instructions[0] as InstructionOf<'COPY'>)?.kind, 'stage');
  });

  test('the last stage is the target by default; only what it needs is built, dependencies first', () => {
    assert.deepEqual(orderOf(MULTI), ['build', 'test', 'stage-3']);
    assert.deepEqual(orderOf(MULTI, { target: 'lint' }), ['build', 'lint']);
    assert.deepEqual(orderOf(MULTI, { target: 'TEST' }), ['test']);
  });

  test('--build-arg overrides meta args in FROM', () => {
    assert.equal(plan(MULTI, { buildArgs: { GO: '1.21' } }).stages[0]!.image, 'golang:1.21');
  });

  test('FROM only names stages defined before it; a later name is an image', () => {
    const p = plan('FROM later AS first\nRUN x\nFROM alpine AS later\n');
    assert.deepEqual(p.stages[0]!.base, { kind: 'image', ref: 'later' });
  });

  test('COPY --from may name a later stage; the order puts it first', () => {
    const p = plan('FROM alpine AS main\nCOPY --from=helper /x /x\nFROM busybox AS helper\nRUN y\n', { target: 'main' });
    assert.deepEqual(p.order.map(stageLabel), ['helper', 'main']);
  });

  test('COPY --from and FROM see meta args only', () => {
    const p = plan('ARG SRC=build\nFROM alpine AS build\nFROM alpine\nARG SRC=other\nCOPY --from=${SRC} /a /a\n');
    assert.deepEqual([...p.stages[1]!.copyFrom.values()], [{ kind: 'stage', index: 0 }]);
  });

  test('FROM --platform is expanded with meta args', () => {
    assert.equal(plan('ARG P=linux/arm64\nFROM --platform=$P alpine\n').stages[0]!.platform, 'linux/arm64');
  });

  test('stage names match case-insensitively', () => {
    const p = plan('FROM alpine AS Base\nFROM BASE\nCOPY --from=bAsE /a /a\n');
    assert.deepEqual(p.stages[1]!.base, { kind: 'stage', index: 0 });
    assert.deepEqual(p.stages[1]!.dependencies, [0]);
  });
});

describe('planBuild: errors', () => {
  test('unknown target lists the stage names', () => {
    throwsShale(() => plan(MULTI, { target: 'nope' }), 'INVALID_ARGUMENT', 'target stage "nope" could not be found');
    try {
      plan(MULTI, { target: 'nope' });
    } catch (e) {
      assert.match((e as { hint?: string }).hint ?? '', /build, test, lint/);
    }
  });

  test('a cycle through COPY --from is refused with its line', () => {
    throwsShale(
      () => plan('FROM busybox AS stage0\nCOPY --from=stage2 f1 /sub/\nFROM busybox AS stage1\nCOPY --from=stage0 f2 /sub/\nFROM busybox AS stage2\nCOPY --from=stage1 f2 /sub/\n'),
      'DOCKERFILE_SYNTAX',
      /^Dockerfile:\d+: circular dependency detected on stage: stage0$/,
    );
    throwsShale(() => plan('FROM busybox AS a\nCOPY --from=a /x /y\n'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: circular dependency detected on stage: a');
    throwsShale(() => plan('FROM busybox\nCOPY --from=0 /x /y\n'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: circular dependency detected on stage: stage-0');
  });

  test('a stage index out of range', () => {
    throwsShale(() => plan('FROM a\nFROM b\nCOPY --from=5 /x /y\n'), 'DOCKERFILE_SYNTAX', 'Dockerfile:3: invalid stage index 5');
  });

  test('a FROM that expands to nothing', () => {
    throwsShale(() => plan('ARG BASE\nFROM $BASE\n'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: base name ($BASE) should not be blank');
  });

  test('RUN --mount from= makes a dependency like COPY --from; a bad spec names its line', () => {
    const text = 'ARG S=deps\nFROM a AS deps\nFROM b AS other\nFROM c\nRUN --mount=type=bind,from=$S,target=/d --mount=type=cache,from=other,target=/c --mount=from=img:1,target=/i make\n';
    assert.deepEqual(orderOf(text), ['deps', 'other', 'stage-2']);
    const last = plan(text).target;
    assert.deepEqual([...last.mountFrom], [['deps', { kind: 'stage', index: 0 }], ['other', { kind: 'stage', index: 1 }], ['img:1', { kind: 'image', ref: 'img:1' }]]);
    throwsShale(() => plan('FROM a\nRUN --mount=type=cache make\n'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: RUN --mount=type=cache: mount destination not set');
    // a spec with a variable the stage may set is left to the step
    assert.equal(plan('FROM a\nARG DIR=/c\nRUN --mount=type=cache,target=$DIR make\n').order.length, 1);
    // BuildKit parses every stage's instructions, so an unneeded stage's bad spec fails too
    throwsShale(() => plan('FROM a AS x\nRUN --mount=type=nfs,target=/x make\nFROM b\n'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: RUN --mount=type=nfs,target=/x: unsupported mount type "nfs"');
  });
});

describe('planBuild: ADD --checksum', () => {
  test('refused with the line: BuildKit\'s reasons for local or several sources; shale fetches no URL or Git source', () => {
    throwsShale(() => plan('FROM a\nADD --checksum=sha256:abc a.txt /x\n'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: ADD --checksum requires HTTP(S) or Git sources');
    throwsShale(() => plan('FROM a\nADD --checksum=sha256:abc https://x/a https://x/b /x/\n'), 'DOCKERFILE_SYNTAX', "Dockerfile:2: ADD --checksum can't be specified for multiple sources");
    throwsShale(() => plan('FROM a\nRUN true\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://x/a.tgz /x\n'), 'UNSUPPORTED', /^Dockerfile:3: ADD --checksum is not supported: shale does not fetch URLs/);
    throwsShale(() => plan('FROM a\nADD --checksum=sha256:abc git@github.com:o/r.git /src\n'), 'UNSUPPORTED', /Dockerfile:2: ADD --checksum is not supported/);
    // COPY has no --checksum; an unneeded stage is not checked
    throwsShale(() => plan('FROM a\nCOPY --checksum=sha256:abc a /x\n'), 'DOCKERFILE_SYNTAX', 'Dockerfile:2: Unknown flag: checksum');
    assert.equal(plan('FROM a AS x\nADD --checksum=sha256:abc a /x\nFROM b\n').order.length, 1);
  });
});
