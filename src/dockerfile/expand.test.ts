import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { throwsShale } from './dockerfile-fixtures.js';
import { parseDockerfile } from './dockerfile.js';
import { BuildArgs, expandInstruction, parseBuildArgList } from './expand.js';
import { heredocBody, type Instruction, type InstructionOf } from './instructions.js';
import { lookupFromList } from './shell-lexer.js';

const second = <K extends Instruction['kind']>(line: string, escape = ''): InstructionOf<K> =>
  parseDockerfile(`${escape}FROM a\n${line}\n`).instructions[1] as InstructionOf<K>;

describe('BuildArgs: meta args (before the first FROM)', () => {
  test('defaults expand with earlier meta args; --build-arg overrides win', () => {
    const args = new BuildArgs();
    assert.deepEqual(args.declareMeta([{ key: 'A', value: '1' }, { key: 'B', value: '${A}2' }, { key: 'C' }]), [
      { key: 'A', value: '1' },
      { key: 'B', value: '12' },
      { key: 'C', value: undefined },
    ]);
    assert.deepEqual([...args.metaValues()], [['A', '1'], ['B', '12']]);
    const over = new BuildArgs({ A: '9', C: 'c' });
    over.declareMeta([{ key: 'A', value: '1' }, { key: 'B', value: '${A}2' }, { key: 'C' }]);
    assert.deepEqual([...over.metaValues()], [['A', '9'], ['B', '92'], ['C', 'c']]);
  });

  test('builtin proxy args given with --build-arg are visible to FROM lines without an ARG', () => {
    const args = new BuildArgs({ HTTP_PROXY: 'http://p', OTHER: 'x' });
    assert.equal(args.metaLookup()('HTTP_PROXY'), 'http://p');
    assert.equal(args.metaLookup()('OTHER'), undefined);
  });

  test('unused --build-arg names are reported (builtins never)', () => {
    const args = new BuildArgs({ USED: '1', UNUSED: '2', http_proxy: 'p' });
    args.declareMeta([{ key: 'USED' }]);
    assert.deepEqual(args.unusedOverrides(), ['UNUSED']);
    const stage = args.newStage();
    stage.declare([{ key: 'UNUSED' }]);
    assert.deepEqual(args.unusedOverrides(), []);
  });

  test('parseBuildArgList: K=V as given; K alone takes K from the environment, and has no value when it is unset there', () => {
    const env = { C: 'from env', E: '' };
    assert.deepEqual(parseBuildArgList(['A=1', 'B=x=y', 'C', 'D', 'E', 'F='], env), { A: '1', B: 'x=y', C: 'from env', D: undefined, E: '', F: '' });
    throwsShale(() => parseBuildArgList(['=x'], env), 'INVALID_ARGUMENT', /invalid --build-arg "=x": the name is empty/);
  });

  test('a --build-arg without a value leaves the ARG default in place, but still counts as given for the unused warning', () => {
    const args = new BuildArgs(parseBuildArgList(['M', 'S', 'UNUSED'], {}));
    args.declareMeta([{ key: 'M', value: 'meta default' }]);
    const stage = args.newStage();
    stage.declare([{ key: 'S', value: 'stage default' }, { key: 'M' }]);
    assert.deepEqual([...stage.values()], [['S', 'stage default'], ['M', 'meta default']]);
    assert.deepEqual(args.unusedOverrides(), ['UNUSED']);
  });
});

describe('StageArgs: ARG scope per stage', () => {
  const meta = () => {
    const args = new BuildArgs({ O: 'override' });
    args.declareMeta([{ key: 'M', value: 'meta' }, { key: 'O', value: 'default' }]);
    return args;
  };

  test('meta args are not visible in a stage until re-declared; then they keep their value', () => {
    const stage = meta().newStage();
    assert.equal(stage.lookup([])('M'), undefined);
    stage.declare([{ key: 'M' }]);
    assert.equal(stage.lookup([])('M'), 'meta');
  });

  test('a stage default beats the meta default; an override beats both', () => {
    const stage = meta().newStage();
    stage.declare([{ key: 'M', value: 'stage' }, { key: 'O', value: 'stage' }]);
    assert.equal(stage.lookup([])('M'), 'stage');
    assert.equal(stage.lookup([])('O'), 'override');
  });

  test('an ARG without default and no value is declared but unset', () => {
    const stage = new BuildArgs().newStage();
    stage.declare([{ key: 'X' }]);
    assert.equal(stage.isDeclared('X'), true);
    assert.equal(stage.lookup([])('X'), undefined);
    assert.deepEqual(stage.runBuildArgs([]), { env: [] });
  });

  test('ENV overrides ARG for expansion and for RUN', () => {
    const stage = new BuildArgs().newStage();
    stage.declare([{ key: 'V', value: 'arg' }, { key: 'W', value: 'w' }]);
    const env = ['PATH=/bin', 'V=env'];
    assert.equal(stage.lookup(env)('V'), 'env');
    assert.deepEqual(stage.runBuildArgs(env), { env: ['W=w'], recorded: ['W=w'] });
  });

  test('each stage starts empty', () => {
    const args = new BuildArgs();
    const one = args.newStage();
    one.declare([{ key: 'A', value: '1' }]);
    assert.equal(args.newStage().lookup([])('A'), undefined);
  });

  test('RUN: builtins go to the environment but are recorded only when declared; recorded is sorted', () => {
    const args = new BuildArgs({ HTTP_PROXY: 'http://p', no_proxy: 'x' });
    const stage = args.newStage();
    assert.deepEqual(stage.runBuildArgs([]), { env: ['HTTP_PROXY=http://p', 'no_proxy=x'], recorded: [] });
    stage.declare([{ key: 'Z', value: 'z' }, { key: 'no_proxy' }, { key: 'A', value: 'a' }]);
    assert.deepEqual(stage.runBuildArgs([]).recorded, ['A=a', 'Z=z', 'no_proxy=x']);
  });
});

describe('expandInstruction', () => {
  const lookup = lookupFromList(['V=1', 'NAME=world', 'PORTS=80 443', 'DIR=/srv', 'EMPTY=']);
  const x = <T extends Instruction>(inst: T) => expandInstruction(inst, lookup);

  test('ENV and LABEL: keys and values expanded, quotes removed', () => {
    assert.deepEqual(x(second<'ENV'>('ENV E=${V} F="two words" G=\'$V\' H=a\\ b')).pairs, [
      { key: 'E', value: '1' },
      { key: 'F', value: 'two words' },
      { key: 'G', value: '$V' },
      { key: 'H', value: 'a b' },
    ]);
    assert.deepEqual(x(second<'ENV'>('ENV OLD hello $NAME "quoted"')).pairs, [{ key: 'OLD', value: 'hello world quoted' }]);
    assert.deepEqual(x(second<'LABEL'>('LABEL "my key"="v $V" k${V}=x')).pairs, [
      { key: 'my key', value: 'v 1' },
      { key: 'k1', value: 'x' },
    ]);
  });

  test('COPY/ADD: sources, destination and --chown; not --from', () => {
    const c = x(second<'COPY'>('COPY --chown=${V}:${V} --from=$NAME src/$NAME.txt $DIR/'));
    assert.deepEqual([c.sources, c.dest, c.chown, c.from], [['src/world.txt'], '/srv/', '1:1', '$NAME']);
    const json = x(second<'COPY'>('COPY ["$NAME file", "$DIR/"]'));
    assert.deepEqual([json.sources, json.dest], [['world file'], '/srv/']);
  });

  test('COPY heredoc bodies: expanded unless the delimiter was quoted; quotes stay', () => {
    const df = parseDockerfile('FROM a\nCOPY <<A <<"B" /d/\nhi "$NAME" \\$V\nA\nraw $NAME\nB\n');
    const c = x(df.instructions[1] as InstructionOf<'COPY'>);
    assert.deepEqual(c.heredocs.map(heredocBody), ['hi "world" $V\n', 'raw $NAME\n']);
  });

  test('EXPOSE splits a variable into several ports', () => {
    assert.deepEqual(x(second<'EXPOSE'>('EXPOSE $PORTS 8080')).ports, ['80', '443', '8080']);
  });

  test('WORKDIR, USER, VOLUME, STOPSIGNAL, ARG, FROM', () => {
    assert.equal(x(second<'WORKDIR'>('WORKDIR $DIR/app')).path, '/srv/app');
    assert.equal(x(second<'USER'>('USER ${NAME}:${V}')).user, 'world:1');
    assert.deepEqual(x(second<'VOLUME'>('VOLUME $DIR /x')).paths, ['/srv', '/x']);
    assert.equal(x(second<'STOPSIGNAL'>('STOPSIGNAL SIG${EMPTY:-TERM}')).signal, 'SIGTERM');
    assert.deepEqual(x(second<'ARG'>('ARG A=$V B')).args, [{ key: 'A', value: '1' }, { key: 'B', value: undefined }]);
    const from = x(parseDockerfile('FROM --platform=linux/$NAME img:${V} AS s\n').instructions[0]!);
    assert.deepEqual([from.kind === 'FROM' && from.image, from.kind === 'FROM' && from.platform], ['img:1', 'linux/world']);
  });

  test('RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER, ONBUILD are not expanded', () => {
    for (const line of ['RUN echo $V', 'CMD echo $V', 'ENTRYPOINT ["$V"]', 'SHELL ["$V"]', 'HEALTHCHECK CMD $V', 'MAINTAINER $V', 'ONBUILD ENV A=$V']) {
      const inst = second(line);
      assert.deepEqual(x(inst), inst, line);
    }
  });

  test('the backtick escape is honoured', () => {
    const df = parseDockerfile('# escape=`\nFROM a\nENV P="c:\\dir `$V"\n');
    const env = expandInstruction(df.instructions[1]!, lookup, { escape: '`' });
    assert.deepEqual(env.kind === 'ENV' && env.pairs, [{ key: 'P', value: 'c:\\dir $V' }]);
  });

  test('a malformed substitution names the line', () => {
    const df = parseDockerfile('FROM a\n\nWORKDIR ${V\n');
    throwsShale(() => expandInstruction(df.instructions[1]!, lookup), 'DOCKERFILE_SYNTAX', /^Dockerfile:3: WORKDIR: failed to process "\$\{V": syntax error: missing '\}'/);
  });
});
