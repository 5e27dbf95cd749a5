import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { hasErrno, ShaleError } from '../internal/errors.js';
import { failsThreshold, lintDockerfile, parseFailureThreshold, renderLintText, renderSarif, toUriReference } from '../optimize/index.js';
import type { CommandResult } from './output.js';

export interface LintFlags {
  file?: string;
  format: 'text' | 'json' | 'sarif';
  failureThreshold: string;
}

/**
 * `shale lint [CONTEXT]`: the size rules over CONTEXT/Dockerfile (or `-f FILE`). Exit status 1 when a
 * finding is at or above `--failure-threshold` (default info: any finding).
 */
export async function lintCommand(context: string | undefined, flags: LintFlags): Promise<CommandResult> {
  const threshold = parseFailureThreshold(flags.failureThreshold);
  const path = flags.file ?? join(context ?? '.', 'Dockerfile');
  const shown = relative(process.cwd(), resolve(path)) || path;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (hasErrno(e, 'ENOENT') || hasErrno(e, 'EISDIR')) {
      throw new ShaleError('NOT_FOUND', `Dockerfile not found: ${path}`, { hint: context === undefined && flags.file === undefined ? 'give the build context or -f FILE' : undefined });
    }
    throw e;
  }
  const findings = lintDockerfile(text, { file: shown });
  const exitCode = failsThreshold(findings, threshold) ? 1 : 0;
  const rendered =
    flags.format === 'sarif' ? JSON.stringify(renderSarif(toUriReference(shown), findings), null, 2) : flags.format === 'text' ? renderLintText(shown, findings) : undefined;
  return { data: findings, text: rendered, exitCode };
}
