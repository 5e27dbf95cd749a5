import { ShaleError } from '../internal/errors.js';

/**
 * A Dockerfile error tied to a line: code DOCKERFILE_SYNTAX, message `FILE:LINE: reason`, and the
 * three parts kept as fields so callers (lint, editors, the CLI) need not parse the message.
 */
export class DockerfileSyntaxError extends ShaleError {
  constructor(
    /** The file name as given to the parser (`Dockerfile` unless told). */
    readonly file: string,
    /** 1-based: the first line of the instruction at fault. */
    readonly line: number,
    /** What is wrong, without the location. */
    readonly reason: string,
    options: { hint?: string } = {},
  ) {
    super('DOCKERFILE_SYNTAX', `${file}:${line}: ${reason}`, options);
  }
}

/**
 * A reason found below the line level (a flag, a JSON form, a word) before its location is known;
 * the instruction parser turns it into a DockerfileSyntaxError at the instruction's line.
 */
export class SyntaxFailure extends Error {}
