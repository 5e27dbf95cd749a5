/** The values lint's options take (`--failure-threshold`, `--format`), in a module of their own: the CLI lists them before it loads the linter. */
import type { Severity } from './lint-rules.js';

/**
 * `failure-threshold`: the lowest severity that fails the run. `ignore` is hadolint's lowest level
 * (every finding fails); `none` never fails (hadolint reads `none` as `ignore`, which contradicts its
 * own name: shale keeps the meaning its CLI has always had; `--no-fail` is hadolint's way to never fail).
 */
export type FailureThreshold = Severity | 'ignore' | 'none';

export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info', 'style'];
export const FAILURE_THRESHOLDS: readonly FailureThreshold[] = [...SEVERITIES, 'ignore', 'none'];

/** The report formats of `shale lint` (hadolint's names). */
export const LINT_FORMATS = ['text', 'json', 'sarif', 'checkstyle', 'gitlab_codeclimate'] as const;
