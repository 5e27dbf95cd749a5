/**
 * The typed instruction model of a Dockerfile: a discriminated union on `kind`. Values are as written
 * (not expanded): `expandInstruction` (expand.ts) returns a copy with Docker's expansion applied.
 */

/** Where an instruction sits: 1-based first and last line (heredoc bodies included) and its source text. */
export interface SourceSpan {
  line: number;
  endLine: number;
  /** The source lines `line..endLine` as written, joined with `\n`. */
  original: string;
}

/** A command in exec form (`["a","b"]`) or shell form (the text the shell will get). */
export type Command = { form: 'exec'; args: string[] } | { form: 'shell'; script: string };

/** A here-document attached to RUN, COPY or ADD (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`). */
export interface Heredoc {
  /** The delimiter word, quotes removed: for COPY/ADD also the file name it creates. */
  name: string;
  /** The body as written: each line with its line ending, the delimiter line left out. */
  content: string;
  /** False when any part of the delimiter was quoted: the body is then never expanded. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body (see `heredocBody`). */
  chomp: boolean;
  /** The file descriptor before `<<` (0 when none). */
  fd: number;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface ArgDeclaration {
  key: string;
  /** The default, or undefined for `ARG NAME` without one. */
  value?: string;
}

/** A health check as Docker's HealthConfig; durations in nanoseconds, 0 meaning "inherit/default". */
export interface HealthConfig {
  /** `["NONE"]`, `["CMD", ...args]` or `["CMD-SHELL", script]`. */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

export interface FromInstruction extends SourceSpan {
  kind: 'FROM';
  /** The image reference or stage name, as written. */
  image: string;
  /** The `AS` name, lowercased as Docker does. */
  stageName?: string;
  platform?: string;
}

export interface RunInstruction extends SourceSpan {
  kind: 'RUN';
  command: Command;
  heredocs: Heredoc[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
  /** Raw `--mount=` specs (BuildKit syntax), parsed by run-mount.ts. */
  mounts: string[];
}

export interface CmdInstruction extends SourceSpan {
  kind: 'CMD';
  command: Command;
}

export interface EntrypointInstruction extends SourceSpan {
  kind: 'ENTRYPOINT';
  command: Command;
}

export interface LabelInstruction extends SourceSpan {
  kind: 'LABEL';
  pairs: KeyValue[];
}

export interface MaintainerInstruction extends SourceSpan {
  kind: 'MAINTAINER';
  maintainer: string;
}

export interface ExposeInstruction extends SourceSpan {
  kind: 'EXPOSE';
  /** Sorted as Docker sorts them at parse time. */
  ports: string[];
}

export interface EnvInstruction extends SourceSpan {
  kind: 'ENV';
  pairs: KeyValue[];
}

interface CopyLike extends SourceSpan {
  /** Source paths (context-relative, URLs for ADD), heredoc sources left out. */
  sources: string[];
  /** Heredoc sources: each becomes a file named `heredoc.name`. */
  heredocs: Heredoc[];
  dest: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
  /** The JSON form was used (`COPY ["a b", "/x/"]`). */
  json: boolean;
}

export interface AddInstruction extends CopyLike {
  kind: 'ADD';
  checksum?: string;
  keepGitDir?: boolean;
}

export interface CopyInstruction extends CopyLike {
  kind: 'COPY';
  /** A stage name, a stage index or an image reference. */
  from?: string;
  parents: boolean;
}

export interface VolumeInstruction extends SourceSpan {
  kind: 'VOLUME';
  paths: string[];
}

export interface UserInstruction extends SourceSpan {
  kind: 'USER';
  user: string;
}

export interface WorkdirInstruction extends SourceSpan {
  kind: 'WORKDIR';
  path: string;
}

export interface ArgInstruction extends SourceSpan {
  kind: 'ARG';
  args: ArgDeclaration[];
}

export interface OnbuildInstruction extends SourceSpan {
  kind: 'ONBUILD';
  /** The wrapped instruction, parsed (same span as the ONBUILD). */
  trigger: Instruction;
  /** The trigger's text as Docker stores it in `OnBuild` (heredoc bodies appended). */
  expression: string;
}

export interface StopsignalInstruction extends SourceSpan {
  kind: 'STOPSIGNAL';
  signal: string;
}

export interface HealthcheckInstruction extends SourceSpan {
  kind: 'HEALTHCHECK';
  health: HealthConfig;
}

export interface ShellInstruction extends SourceSpan {
  kind: 'SHELL';
  shell: string[];
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | LabelInstruction
  | MaintainerInstruction
  | ExposeInstruction
  | EnvInstruction
  | AddInstruction
  | CopyInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | ArgInstruction
  | OnbuildInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | ShellInstruction;

export type InstructionKind = Instruction['kind'];

/** The instruction of a given kind. */
export type InstructionOf<K extends InstructionKind> = Extract<Instruction, { kind: K }>;

/** A heredoc's body as the file or script gets it: leading tabs removed for `<<-`. */
export const heredocBody = (h: Heredoc): string => (h.chomp ? h.content.replace(/^\t+/gm, '') : h.content);
