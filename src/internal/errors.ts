/** Stable error codes: scripts and tests match on these, never on message text. */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'INVALID_ARGUMENT'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'UNSAFE_PATH'
  | 'CORRUPT_INPUT'
  | 'LIMIT_EXCEEDED'
  | 'LOCKED'
  | 'UNSUPPORTED'
  | 'DOCKERFILE_SYNTAX'
  | 'COMMAND_FAILED'
  | 'UNAUTHORIZED'
  | 'UNAVAILABLE';

/** The one error class of shale: a message naming the thing, a stable code and an optional hint. */
export class ShaleError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  /** The exit status the CLI ends with (2 unless a command's own status is meant, as 126/127 for run). */
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ShaleError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 2;
  }
}

export const isShaleError = (e: unknown, code?: ErrorCode): e is ShaleError =>
  e instanceof ShaleError && (code === undefined || e.code === code);

export const isNotFound = (e: unknown): boolean => isShaleError(e, 'NOT_FOUND');

/** True for a Node system error with the given errno code (ENOENT, EEXIST, ...). */
export const hasErrno = (e: unknown, code: string): boolean =>
  typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;

/**
 * Multi-line output of another program (mount's, runc's) as one readable line for an error message:
 * each line trimmed, blank lines dropped, the rest joined with "; ".
 */
export const foldLines = (text: string): string =>
  text
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('; ');
