import type { History } from '../oci/schemas.js';
import { applyInstruction, currentShell, startStage, type ContainerConfig, type StageConfig } from './apply-instruction.js';
import type { EscapeChar } from './shell-lexer.js';
import { expandInstruction, type BuildArgs, type StageArgs } from './expand.js';
import { copyCreatedBy, resolveCommand, runCreatedBy } from './history.js';
import { BUILDKIT_COMMENT, buildkitCopyCreatedBy, buildkitMetadataCreatedBy, buildkitRunCreatedBy, buildkitWorkdirCreatedBy, type BuildMode } from './buildkit-output.js';
import { isMetadataInstruction } from './history.js';
import { parseHeredocDelimiter } from './dockerfile.js';
import { heredocBody, type AddInstruction, type CopyInstruction, type Instruction, type RunInstruction, type WorkdirInstruction } from './instructions.js';

/** One instruction made ready for the executor; metadata is already applied to the stage's config. */
export type PreparedStep =
  /** `history` is undefined for an instruction BuildKit records nothing for (ONBUILD). */
  | { kind: 'metadata'; instruction: Instruction; history?: History }
  | { kind: 'workdir'; instruction: WorkdirInstruction; workingDir: string; history: History }
  | {
      kind: 'run';
      instruction: RunInstruction;
      /** What to execute (shell form through the current SHELL; heredocs as BuildKit runs them). */
      argv: string[];
      /** Files to provide read-only before running (a `#!` heredoc script), path -> content. */
      inlineFiles: InlineFile[];
      /** The process environment: the config's Env plus the build args in effect. */
      env: string[];
      /** The history entry; set `empty_layer` when the run changed no file. */
      history: History;
    }
  | {
      kind: 'copy';
      /** Expanded (sources, dest, --chown, heredoc bodies). */
      instruction: CopyInstruction | AddInstruction;
      /** The history entry once the source name (`file:`/`dir:`/`multi:`) is known. */
      history: (sourceName: string) => History;
    };

/** A file a RUN needs in place before it starts. */
export interface InlineFile {
  path: string;
  data: string;
  mode: number;
}

/**
 * How BuildKit runs a RUN with heredocs: a script that is just `<<EOF` runs its body with the shell
 * (or, when the body starts with `#!`, as an executable file under /dev/pipes/ that the shell runs); any other use gets
 * the whole text, bodies and delimiters included, for the shell to interpret. Without heredocs,
 * shell form runs as `[...shell, script]` and exec form as written.
 */
export function runArgv(inst: RunInstruction, shell: readonly string[]): { argv: string[]; inlineFiles: InlineFile[] } {
  if (inst.heredocs.length === 0 || inst.command.form === 'exec') return { argv: resolveCommand(inst.command, shell), inlineFiles: [] };
  const script = inst.command.script;
  const alone = parseHeredocDelimiter(script);
  if (alone && inst.heredocs.length === 1) {
    const body = heredocBody(inst.heredocs[0]!);
    if (body.startsWith('#!')) {
      const path = `/dev/pipes/${inst.heredocs[0]!.name}`;
      return { argv: [...shell, path], inlineFiles: [{ path, data: body, mode: 0o755 }] };
    }
    return { argv: [...shell, body], inlineFiles: [] };
  }
  let full = script;
  for (const h of inst.heredocs) full += `\n${h.content}${h.name}`;
  return { argv: [...shell, full], inlineFiles: [] };
}

export interface StageStepsOptions {
  buildArgs: BuildArgs;
  /** The base image's `config` (undefined for scratch or a stage without config). */
  baseConfig?: ContainerConfig | null;
  escape?: EscapeChar;
  file?: string;
  /** Whose output to give: BuildKit's (default) or the classic builder's. */
  mode?: BuildMode;
}

/**
 * Walks one stage's instructions the way Docker dispatches them: each is expanded with the stage's Env
 * and ARGs, metadata goes into the config, and RUN/COPY/ADD/WORKDIR come back with what the executor
 * needs and the history entry Docker would record, BuildKit's or (mode `classic`) the classic
 * builder's. BuildKit's metadata entries carry no `created` (see fillBuildkitCreated). Pure: no I/O.
 */
export class StageSteps {
  private stateValue: StageConfig;
  readonly args: StageArgs;
  /** The base image's ONBUILD triggers, which Docker runs before the stage's own instructions. */
  readonly triggers: string[];
  readonly mode: BuildMode;

  constructor(private readonly options: StageStepsOptions) {
    this.mode = options.mode ?? 'buildkit';
    const started = startStage(options.baseConfig, this.mode);
    this.stateValue = started.state;
    this.triggers = started.triggers;
    this.args = options.buildArgs.newStage();
  }

  /** The stage's config state so far (MAINTAINER's author, Cmd-set flag, container config). */
  get state(): StageConfig {
    return this.stateValue;
  }

  /** A history entry with the stage's author, as Docker writes every entry after MAINTAINER. */
  private entry(createdBy: string, emptyLayer: boolean): History {
    if (this.mode === 'buildkit') return { created_by: createdBy, comment: BUILDKIT_COMMENT, ...(emptyLayer ? { empty_layer: true } : {}) };
    const h: History = {};
    if (this.stateValue.author !== undefined) h.author = this.stateValue.author;
    h.created_by = createdBy;
    if (emptyLayer) h.empty_layer = true;
    return h;
  }

  /** Prepares the next instruction of the stage (FROM is not one: it made the stage). */
  prepare(raw: Instruction): PreparedStep {
    const env = this.stateValue.config.Env ?? [];
    const inst = expandInstruction(raw, this.args.lookup(env), { escape: this.options.escape, file: this.options.file });
    if (inst.kind === 'ARG') this.args.declare(inst.args);
    const applied = applyInstruction(this.stateValue, inst, { file: this.options.file, mode: this.mode });
    this.stateValue = applied.state;
    const shell = currentShell(this.stateValue);
    const buildkit = this.mode === 'buildkit';
    switch (inst.kind) {
      case 'RUN': {
        const buildArgs = this.args.runBuildArgs(env);
        const { argv, inlineFiles } = runArgv(inst, shell);
        const createdBy = buildkit ? buildkitRunCreatedBy(argv, this.args.buildkitRecorded(env)) : runCreatedBy(argv, buildArgs.recorded);
        return { kind: 'run', instruction: inst, argv, inlineFiles, env: [...env, ...buildArgs.env], history: this.entry(createdBy, false) };
      }
      case 'COPY':
      case 'ADD': {
        const history = (sourceName: string) =>
          this.entry(buildkit ? buildkitCopyCreatedBy(inst) : copyCreatedBy(shell, { instruction: inst.kind, source: sourceName, dest: inst.dest, chown: inst.chown }), false);
        return { kind: 'copy', instruction: inst, history };
      }
      case 'WORKDIR': {
        const workingDir = this.stateValue.config.WorkingDir!;
        if (!buildkit) return { kind: 'workdir', instruction: inst, workingDir, history: this.entry(applied.createdBy!, false) };
        // BuildKit makes no layer for WORKDIR /
        const history = this.entry(buildkitWorkdirCreatedBy(workingDir), workingDir === '/');
        return workingDir === '/' ? { kind: 'metadata', instruction: inst, history } : { kind: 'workdir', instruction: inst, workingDir, history };
      }
      default: {
        if (buildkit && inst.kind === 'ONBUILD') return { kind: 'metadata', instruction: inst };
        const createdBy = buildkit && isMetadataInstruction(inst) ? buildkitMetadataCreatedBy(inst, shell) : applied.createdBy!;
        return { kind: 'metadata', instruction: inst, history: this.entry(createdBy, applied.emptyLayer) };
      }
    }
  }
}
