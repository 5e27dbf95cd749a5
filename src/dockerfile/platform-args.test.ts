import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDockerfile } from './dockerfile.js';
import { BuildArgs } from './expand.js';
import { planBuild } from './plan.js';
import { PLATFORM_ARG_NAMES, platformArgs } from './platform-args.js';

const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64' };

describe('platformArgs: the values BuildKit defines', () => {
  test('a build on amd64 for arm64/v8: the variant normalizes away, absent parts are empty', () => {
    const args = platformArgs({ build: amd64, target: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    assert.deepEqual([...args.keys()], PLATFORM_ARG_NAMES);
    assert.deepEqual(Object.fromEntries(args), {
      BUILDPLATFORM: 'linux/amd64', BUILDOS: 'linux', BUILDARCH: 'amd64', BUILDVARIANT: '',
      TARGETPLATFORM: 'linux/arm64', TARGETOS: 'linux', TARGETARCH: 'arm64', TARGETVARIANT: '',
    });
  });

  test('arm keeps its variant (v7 when none is given)', () => {
    const args = platformArgs({ build: amd64, target: { os: 'linux', architecture: 'arm' } });
    assert.equal(args.get('TARGETPLATFORM'), 'linux/arm/v7');
    assert.equal(args.get('TARGETVARIANT'), 'v7');
  });
});

describe('platform args in the ARG scopes (as measured on Docker 26)', () => {
  const automatic = platformArgs({ build: amd64, target: arm64 });

  test('the global scope sees them without a declaration (FROM can use them)', () => {
    const args = new BuildArgs({}, automatic);
    assert.equal(args.metaLookup()('TARGETARCH'), 'arm64');
    assert.equal(args.metaLookup()('BUILDPLATFORM'), 'linux/amd64');
  });

  test('a stage sees one only after ARG NAME, which takes the automatic value', () => {
    const args = new BuildArgs({}, automatic);
    const stage = args.newStage();
    assert.equal(stage.values().has('TARGETARCH'), false);
    stage.declare([{ key: 'TARGETARCH' }, { key: 'TARGETVARIANT' }]);
    assert.deepEqual([...stage.values()], [['TARGETARCH', 'arm64'], ['TARGETVARIANT', '']]);
  });

  test('a global ARG NAME without a value empties it; with a value replaces it; --build-arg wins over both', () => {
    const args = new BuildArgs({ BUILDARCH: 'b2' }, automatic);
    args.declareMeta([{ key: 'TARGETARCH' }, { key: 'TARGETOS', value: 'custom' }, { key: 'BUILDARCH', value: 'mine' }]);
    const stage = args.newStage();
    stage.declare([{ key: 'TARGETARCH' }, { key: 'TARGETOS' }, { key: 'BUILDARCH' }, { key: 'BUILDOS' }]);
    assert.deepEqual(Object.fromEntries(stage.values()), { TARGETARCH: '', TARGETOS: 'custom', BUILDARCH: 'b2', BUILDOS: 'linux' });
  });

  test('without platforms (the classic builder) they are not defined', () => {
    const stage = new BuildArgs().newStage();
    stage.declare([{ key: 'TARGETARCH' }]);
    assert.equal(stage.values().has('TARGETARCH'), false);
  });

  test('planBuild expands FROM --platform and the image with them', () => {
    const df = parseDockerfile('FROM --platform=$BUILDPLATFORM base:$TARGETARCH AS build\nFROM scratch\n');
    const plan = planBuild(df, { platforms: { build: amd64, target: arm64 } });
    assert.equal(plan.stages[0]!.platform, 'linux/amd64');
    assert.equal(plan.stages[0]!.image, 'base:arm64');
  });
});
