import { compareStrings } from '../internal/compare.js';
import { parseDockerfile } from '../dockerfile/index.js';
import { buildLintModel } from './lint-model.js';
import { LINT_RULES, type Finding, type Severity } from './lint-rules.js';

import type { FailureThreshold } from './lint-config.js';

const RANK: Record<Severity | 'ignore', number> = { ignore: -1, style: 0, info: 1, warning: 2, error: 3 };

/**
 * Lints Dockerfile text with every size rule. Findings come sorted by line, then rule ID. A
 * Dockerfile that does not parse throws DOCKERFILE_SYNTAX (`FILE:LINE: message`).
 */
export function lintDockerfile(text: string, options: { file?: string } = {}): Finding[] {
  const model = buildLintModel(parseDockerfile(text, { file: options.file ?? 'Dockerfile' }));
  return LINT_RULES.flatMap((r) => r.check(model)).sort((a, b) => a.line - b.line || compareStrings(a.rule, b.rule));
}

/** True when a finding is at or above the threshold (never for `none`). */
export function failsThreshold(findings: readonly Finding[], threshold: FailureThreshold): boolean {
  if (threshold === 'none') return false;
  return findings.some((f) => RANK[f.severity] >= RANK[threshold]);
}

/** One finding per two lines: `FILE:LINE RULE (DLxxxx) severity: message`, then `  fix: ...`. */
export function renderLintText(file: string, findings: readonly Finding[]): string {
  return findings
    .map((f) => `${file}:${f.line} ${f.rule}${f.hadolint ? ` (${f.hadolint})` : ''} ${f.severity}: ${f.message}\n  fix: ${f.fix}`)
    .join('\n');
}
