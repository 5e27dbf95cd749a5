/**
 * Findings in the CI formats hadolint writes, same shape: Checkstyle XML (`--format checkstyle`) and
 * GitLab Code Quality JSON (`--format gitlab_codeclimate`). A finding's check name is its hadolint ID
 * where it has one (dashboards keyed on hadolint's IDs keep working), else its shale ID.
 */
import { createHash } from 'node:crypto';
import type { Finding, Severity } from './lint-rules.js';

const checkName = (f: Finding): string => f.hadolint ?? f.rule;
const describe = (f: Finding): string => `${f.rule}: ${f.message}. Fix: ${f.fix}`;

const xmlAttribute = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;');

/** `<checkstyle version="4.3"><file name=...><error column line message severity source/>...</file></checkstyle>`. */
export function renderCheckstyle(file: string, findings: readonly Finding[]): string {
  const errors = findings.map(
    (f) => `<error column="1" line="${f.line}" message="${xmlAttribute(describe(f))}" severity="${f.severity}" source="${xmlAttribute(checkName(f))}"/>`,
  );
  const body = errors.length === 0 ? `<file name="${xmlAttribute(file)}"/>` : `<file name="${xmlAttribute(file)}">${errors.join('')}</file>`;
  return `<?xml version="1.0" encoding="UTF-8"?><checkstyle version="4.3">${body}</checkstyle>`;
}

/** GitLab's Code Quality severities, as hadolint maps its own. */
const GITLAB_SEVERITY: Record<Severity, string> = { error: 'blocker', warning: 'major', info: 'info', style: 'minor' };

export interface CodeQualityIssue {
  type: 'issue';
  fingerprint: string;
  check_name: string;
  description: string;
  categories: string[];
  location: { path: string; lines: { begin: number; end: number } };
  severity: string;
}

/** A GitLab Code Quality report: one issue per finding, each with a SHA-1 fingerprint of its content. */
export function renderGitlabCodeclimate(file: string, findings: readonly Finding[]): CodeQualityIssue[] {
  return findings.map((f) => {
    const issue = {
      type: 'issue' as const,
      check_name: checkName(f),
      description: describe(f),
      categories: ['Bug Risk'],
      location: { path: file, lines: { begin: f.line, end: f.line } },
      severity: GITLAB_SEVERITY[f.severity],
    };
    return { ...issue, fingerprint: createHash('sha1').update(JSON.stringify(issue)).digest('hex') };
  });
}
