import { parseInstruction } from './instruction-parsers.js';
import type { Instruction } from './instructions.js';
import { LineReader } from './line-parser.js';
import type { EscapeChar } from './shell-lexer.js';
import { DockerfileSyntaxError } from './syntax-error.js';

export { parseHeredocDelimiter } from './line-parser.js';

/** A parsed Dockerfile: its parser directives and its instructions in source order. */
export interface Dockerfile {
  /** The file name used in error messages (`Dockerfile` unless given). */
  file: string;
  /** From `# escape=`; `\` by default. */
  escape: EscapeChar;
  /** From `# syntax=`; recorded and otherwise ignored. */
  syntax?: string;
  /** The ARG instructions before the first FROM, then every stage's FROM and instructions. */
  instructions: Instruction[];
  /** Non-fatal findings (empty continuation lines), as Docker prints them. */
  warnings: string[];
}

export interface ParseOptions {
  /** Name used in error messages: `FILE:LINE: message`. */
  file?: string;
}

/**
 * Parses a Dockerfile the way Docker (BuildKit's parser) does: logical lines (line-parser.ts), each
 * turned into its instruction (instruction-parsers.ts), then the file's stage rules checked. Any error
 * is a DockerfileSyntaxError (code DOCKERFILE_SYNTAX, message `FILE:LINE: reason`, the instruction's
 * first line).
 */
export function parseDockerfile(text: string, options: ParseOptions = {}): Dockerfile {
  return parse(text, options.file ?? 'Dockerfile', true);
}

/**
 * Parses one ONBUILD trigger as stored in a base image's `OnBuild` (e.g. `RUN echo child`, heredoc
 * bodies included): exactly one instruction, no FROM needed. Errors are DockerfileSyntaxError.
 */
export function parseTrigger(expression: string, options: ParseOptions = {}): Instruction {
  const file = options.file ?? 'ONBUILD trigger';
  const { instructions } = parse(expression, file, false);
  if (instructions.length !== 1) {
    throw new DockerfileSyntaxError(file, 1, `onbuild trigger should be a single expression: ${JSON.stringify(expression)}`);
  }
  const inst = instructions[0]!;
  if (inst.kind === 'FROM' || inst.kind === 'ONBUILD' || inst.kind === 'MAINTAINER') {
    throw new DockerfileSyntaxError(file, 1, `${inst.kind} isn't allowed as an ONBUILD trigger`);
  }
  return inst;
}

function parse(text: string, file: string, wholeFile: boolean): Dockerfile {
  const reader = new LineReader(text, file);
  const instructions: Instruction[] = [];
  for (const logical of reader.lines()) instructions.push(parseInstruction(logical, { file, escape: reader.escape }));
  if (wholeFile) checkStages(instructions, reader.lineCount, file);
  return { file, escape: reader.escape, syntax: reader.syntax, instructions, warnings: reader.warnings };
}

/** A Dockerfile has instructions, at least one FROM, and only ARG before the first FROM. */
function checkStages(instructions: Instruction[], lineCount: number, file: string): void {
  if (instructions.length === 0) throw new DockerfileSyntaxError(file, Math.max(1, lineCount), 'file with no instructions');
  let sawFrom = false;
  for (const inst of instructions) {
    if (inst.kind === 'FROM') sawFrom = true;
    else if (!sawFrom && inst.kind !== 'ARG') {
      throw new DockerfileSyntaxError(file, inst.line, `${inst.kind} before the first FROM: only ARG may come before FROM`);
    }
  }
  if (!sawFrom) throw new DockerfileSyntaxError(file, instructions[0]!.line, 'no FROM instruction: a Dockerfile needs at least one stage');
}
