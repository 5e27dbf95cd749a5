import { posix } from 'node:path';
import type { AddInstruction, CopyInstruction, Dockerfile, FromInstruction, Instruction, RunInstruction } from '../dockerfile/index.js';
import { expandWord, lexWord } from '../dockerfile/index.js';
import { commandName, parseShellCommands, type SimpleCommand } from './shell-commands.js';

/** A simple command of a RUN with the directory it runs in (WORKDIR, then any `cd` before it) and its environment. */
export interface CommandAt extends SimpleCommand {
  cwd: string;
  /** ENV and ARG values, then what the script `export`ed before it, then its own `NAME=value` prefixes. */
  env: Map<string, string>;
}

/** One instruction of a stage with the state the build has when it reaches it. */
export interface Step {
  /** The instruction; for an ONBUILD trigger, the trigger (its line is the ONBUILD's). ADD/COPY sources and destination unquoted. */
  inst: Instruction;
  /** True for an ONBUILD trigger: it runs, as its own layer, in every image built FROM this one. */
  onbuild?: boolean;
  /** The stage's index (order of FROM in the file). */
  stage: number;
  /** WORKDIR in force (absolute; `/` by default), before the instruction applies. */
  workdir: string;
  /** ENV values and the stage's ARG values known from the file (defaults), expanded. */
  env: Map<string, string>;
  /** For RUN: its simple commands, heredoc scripts included. */
  commands: CommandAt[];
}

export interface StageModel {
  index: number;
  name?: string;
  from: FromInstruction;
  /** FROM's image with the global ARG defaults expanded. */
  image: string;
  /** The index of the stage this one is built FROM, when it is one. */
  parent?: number;
  steps: Step[];
  /** True for the last stage and the stages it is built FROM: their layers are the image's. */
  shipping: boolean;
}

/** A Dockerfile read for linting: stages with per-instruction state, and the chain that ships. */
export interface LintModel {
  file: string;
  stages: StageModel[];
  /** The steps of the shipping stages in build order (root ancestor first). */
  shippingSteps: Step[];
  /** The shipping stage that starts from an image (the root of the chain). */
  shippingRoot?: StageModel;
}

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh']);

/** Replaces `$NAME`/`${NAME}` by known values and a leading `~` by $HOME; unknown references stay. */
export function expandKnown(word: string, env: Map<string, string>): string {
  const home = env.get('HOME') ?? '/root';
  const w = word === '~' ? home : word.startsWith('~/') ? home + word.slice(1) : word;
  return w.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a?: string, b?: string) => env.get((a ?? b)!) ?? m);
}

/** Resolves a path against a directory, normalized, without a trailing slash (`/` stays). */
export function resolveIn(cwd: string, p: string): string {
  const abs = p.startsWith('/') ? posix.normalize(p) : posix.join(cwd, p);
  return abs.length > 1 ? abs.replace(/\/+$/, '') : abs;
}

/** True when `p` is `dir` or lies below it. */
export const isUnder = (p: string, dir: string): boolean => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

/** The shell script(s) a RUN runs: shell form, `sh -c` in exec form, and heredoc bodies fed to a shell. */
function runCommands(run: RunInstruction, workdir: string, env: Map<string, string>): CommandAt[] {
  let commands: SimpleCommand[];
  if (run.command.form === 'exec') {
    const args = run.command.args;
    const name = (args[0] ?? '').replace(/^.*\//, '');
    commands = SHELLS.has(name) && args[1] === '-c' && args[2] !== undefined ? parseShellCommands(args[2]) : [{ assignments: [], argv: args, redirects: [] }];
  } else {
    commands = [];
    for (const c of parseShellCommands(run.command.script)) {
      const heredoc = c.redirects.find((r) => r.op === '<<' || r.op === '<<-');
      const doc = heredoc && run.heredocs.find((h) => h.name === heredoc.target);
      const isScript = doc !== undefined && (c.argv.length === 0 || SHELLS.has(commandName(c)));
      if (isScript) {
        const body = doc.chomp ? doc.content.replace(/^\t+/gm, '') : doc.content;
        commands.push(...parseShellCommands(body));
      } else commands.push(c);
    }
  }
  // what a subshell changes (`(cd x && make)`) ends with it: the state outside is kept apart
  const outer = { cwd: workdir, env: new Map(env) };
  const inner = { cwd: workdir, env: new Map(env) };
  let subshell: number | undefined;
  const out: CommandAt[] = [];
  for (const c of commands) {
    if (c.subshell !== undefined && c.subshell !== subshell) Object.assign(inner, { cwd: outer.cwd, env: new Map(outer.env) });
    subshell = c.subshell;
    const state = subshell !== undefined ? inner : outer;
    const own = new Map(state.env);
    for (const a of c.assignments) own.set(a.slice(0, a.indexOf('=')), expandKnown(a.slice(a.indexOf('=') + 1), state.env));
    out.push({ ...c, argv: c.argv.map((a) => expandKnown(a, own)), cwd: state.cwd, env: own });
    const name = commandName(c);
    if (name === 'cd') {
      const target = c.argv.slice(1).find((a) => !a.startsWith('-'));
      state.cwd = resolveIn(state.cwd, expandKnown(target ?? '~', state.env));
    } else if (name === 'export' || (c.argv.length === 0 && c.assignments.length > 0)) {
      // `export K=V`, and `K=V` alone for a variable already in the environment
      const pairs = name === 'export' ? c.argv.slice(1).filter((a) => a.includes('=')) : c.assignments.filter((a) => state.env.has(a.slice(0, a.indexOf('='))));
      for (const a of pairs) state.env.set(a.slice(0, a.indexOf('=')), expandKnown(a.slice(a.indexOf('=') + 1), state.env));
    }
  }
  return out;
}

/** ADD/COPY with sources and destination read as Docker reads them: quotes removed, known variables expanded. */
function unquoteCopy<T extends AddInstruction | CopyInstruction>(inst: T, env: Map<string, string>, escape: Dockerfile['escape']): T {
  if (inst.json) return inst;
  const word = (w: string) => {
    try {
      return lexWord(w, (n) => env.get(n), { escape, skipUnsetEnv: true }).word;
    } catch {
      return w;
    }
  };
  return { ...inst, sources: inst.sources.map(word), dest: word(inst.dest) };
}

function expandValue(value: string, env: Map<string, string>, escape: Dockerfile['escape']): string {
  try {
    return expandWord(value, (n) => env.get(n), escape);
  } catch {
    return value;
  }
}

/** Splits the file into stages and walks each, recording WORKDIR, ENV/ARG values and RUN commands. */
export function buildLintModel(df: Dockerfile): LintModel {
  const globalArgs = new Map<string, string>();
  const stages: StageModel[] = [];
  const finalState = new Map<number, { workdir: string; env: Map<string, string> }>();
  let state = { workdir: '/', env: new Map<string, string>() };
  for (const inst of df.instructions) {
    if (inst.kind === 'FROM') {
      if (stages.length > 0) finalState.set(stages.length - 1, state);
      const image = expandValue(inst.image, globalArgs, df.escape);
      const parent = stages.find((s) => s.name !== undefined && s.name === image.toLowerCase());
      const inherited = parent ? finalState.get(parent.index) : undefined;
      state = inherited ? { workdir: inherited.workdir, env: new Map(inherited.env) } : { workdir: '/', env: new Map() };
      stages.push({ index: stages.length, name: inst.stageName, from: inst, image, parent: parent?.index, steps: [], shipping: false });
      continue;
    }
    if (stages.length === 0) {
      if (inst.kind === 'ARG') for (const a of inst.args) if (a.value !== undefined) globalArgs.set(a.key, expandValue(a.value, globalArgs, df.escape));
      continue;
    }
    const stage = stages[stages.length - 1]!;
    const onbuild = inst.kind === 'ONBUILD';
    const own = onbuild ? inst.trigger : inst;
    stage.steps.push({
      inst: own.kind === 'ADD' || own.kind === 'COPY' ? unquoteCopy(own, state.env, df.escape) : own,
      ...(onbuild ? { onbuild } : {}),
      stage: stage.index,
      workdir: state.workdir,
      env: new Map(state.env),
      commands: own.kind === 'RUN' ? runCommands(own, state.workdir, state.env) : [],
    });
    if (inst.kind === 'WORKDIR') state.workdir = resolveIn(state.workdir, expandValue(inst.path, state.env, df.escape));
    else if (inst.kind === 'ENV') for (const p of inst.pairs) state.env.set(p.key, expandValue(p.value, state.env, df.escape));
    else if (inst.kind === 'ARG') {
      for (const a of inst.args) {
        const value = a.value !== undefined ? expandValue(a.value, state.env, df.escape) : globalArgs.get(a.key);
        if (value !== undefined && !state.env.has(a.key)) state.env.set(a.key, value);
      }
    }
  }
  const chain: StageModel[] = [];
  let s: StageModel | undefined = stages[stages.length - 1];
  while (s) {
    s.shipping = true;
    chain.unshift(s);
    s = s.parent === undefined ? undefined : stages[s.parent];
  }
  return { file: df.file, stages, shippingSteps: chain.flatMap((s) => s.steps), shippingRoot: chain[0] };
}
