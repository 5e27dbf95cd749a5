import { LINT_RULES, type Finding, type Severity } from './lint-rules.js';

/** SARIF 2.1.0 levels for shale's severities. */
const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', info: 'note', style: 'note' };

const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/** A SARIF 2.1.0 log with one run of `shale lint`: the rule table, then one result per finding. */
export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: unknown[];
}

/**
 * Renders findings as SARIF 2.1.0. `uri` is the Dockerfile's path as a relative URI reference
 * (forward slashes, percent-encoded), as code-scanning tools resolve it against the checkout.
 */
export function renderSarif(uri: string, findings: readonly Finding[], options: { version?: string } = {}): SarifLog {
  const rules = LINT_RULES.map((r) => ({
    id: r.id,
    shortDescription: { text: r.title },
    defaultConfiguration: { level: LEVEL[r.severity] },
    ...(r.hadolint && r.hadolint.length > 0
      ? { helpUri: `https://github.com/hadolint/hadolint/wiki/${r.hadolint[0]}`, properties: { hadolint: [...r.hadolint] } }
      : {}),
  }));
  const location = (line: number) => ({ physicalLocation: { artifactLocation: { uri }, region: { startLine: line } } });
  const results = findings.map((f) => {
    const ruleIndex = LINT_RULES.findIndex((r) => r.id === f.rule);
    const others = (f.lines ?? []).filter((l) => l !== f.line);
    return {
      ruleId: f.rule,
      ...(ruleIndex >= 0 ? { ruleIndex } : {}),
      level: LEVEL[f.severity],
      message: { text: `${f.message}. Fix: ${f.fix}` },
      locations: [location(f.line)],
      ...(others.length > 0 ? { relatedLocations: others.map((l, i) => ({ id: i + 1, ...location(l) })) } : {}),
      ...(f.hadolint ? { properties: { hadolint: f.hadolint } } : {}),
    };
  });
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'shale', ...(options.version ? { version: options.version } : {}), rules } },
        artifacts: [{ location: { uri } }],
        results,
      },
    ],
  };
}

/** A path relative to the working directory as a SARIF URI reference. */
export const toUriReference = (relativePath: string): string => relativePath.split(/[\\/]/).map(encodeURIComponent).join('/');
