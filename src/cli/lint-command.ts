import { readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { hasErrno, ShaleError } from '../internal/errors.js';
import {
  applyLintSettings,
  emptyLintSettings,
  failsThreshold,
  lintDockerfile,
  parseFailureThreshold,
  parseLintConfig,
  renderCheckstyle,
  renderGitlabCodeclimate,
  renderLintText,
  renderSarif,
  toUriReference,
  type LintSettings,
} from '../optimize/index.js';
import type { CommandResult } from './output.js';

import { LINT_FORMATS } from '../optimize/lint-choices.js';

export { LINT_FORMATS };

export interface LintFlags {
  file?: string;
  format: (typeof LINT_FORMATS)[number];
  failureThreshold?: string;
  /** Rule IDs (SLxxxx or DLxxxx) to drop, added to the config's `ignored`. */
  ignore?: string[];
  noFail?: boolean;
  /** A hadolint config file; default `.hadolint.yaml` (or `.yml`) in the working directory when there is one. */
  config?: string;
}

/** The text of `-` (stdin), or of a file; a missing one is NOT_FOUND naming it. */
async function readInput(path: string, what: string, hint?: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (hasErrno(e, 'ENOENT') || hasErrno(e, 'EISDIR') || hasErrno(e, 'ENOTDIR')) throw new ShaleError('NOT_FOUND', `${what} not found: ${path}`, { hint });
    throw e;
  }
}

/** The Dockerfile to read: `-f FILE`; else the positional as a file (`shale lint Dockerfile`), a directory's Dockerfile, or `-` for stdin. */
async function dockerfilePath(target: string | undefined, file: string | undefined): Promise<string> {
  if (file !== undefined) return file;
  if (target === undefined) return 'Dockerfile';
  if (target === '-') return '-';
  const st = await stat(target).catch(() => undefined);
  return st?.isDirectory() ? join(target, 'Dockerfile') : target;
}

/** The settings from `--config FILE`, or from `.hadolint.yaml`/`.hadolint.yml` in the working directory. */
async function loadSettings(config: string | undefined, warn: (line: string) => void): Promise<LintSettings> {
  let path = config;
  if (path === undefined) {
    for (const name of ['.hadolint.yaml', '.hadolint.yml']) {
      if ((await stat(name).catch(() => undefined))?.isFile()) {
        path = name;
        break;
      }
    }
  }
  if (path === undefined) return emptyLintSettings();
  const { settings, warnings } = parseLintConfig(await readInput(path, 'lint config'), path);
  warnings.forEach(warn);
  return settings;
}

/**
 * `shale lint [DOCKERFILE|CONTEXT|-]`: the size rules over a Dockerfile, with hadolint's CI settings
 * (config file, pragmas, `--ignore`, `--no-fail`). Exit status 1 when a finding is at or above the
 * failure threshold (flag, then config, then `info`: any finding of shale's rules).
 */
export async function lintCommand(target: string | undefined, flags: LintFlags, warn: (line: string) => void = (l) => process.stderr.write(`warning: ${l}\n`)): Promise<CommandResult> {
  const settings = await loadSettings(flags.config, warn);
  const threshold = parseFailureThreshold(flags.failureThreshold ?? settings.failureThreshold ?? 'info');
  for (const id of flags.ignore ?? []) {
    if (!/^(DL|SL|SC)\d{4}$/.test(id)) throw new ShaleError('INVALID_ARGUMENT', `--ignore "${id}" is not a rule ID (DLxxxx or SLxxxx)`);
  }
  settings.ignored.push(...(flags.ignore ?? []));
  const path = await dockerfilePath(target, flags.file);
  const shown = path === '-' ? '-' : relative(process.cwd(), resolve(path)) || path;
  const hint = target === undefined && flags.file === undefined ? 'give a Dockerfile, a build context, or -f FILE' : undefined;
  const text = await readInput(path, 'Dockerfile', hint);
  const findings = applyLintSettings(lintDockerfile(text, { file: shown }), text, settings);
  const exitCode = !(flags.noFail || settings.noFail) && failsThreshold(findings, threshold) ? 1 : 0;
  const rendered =
    flags.format === 'sarif'
      ? JSON.stringify(renderSarif(toUriReference(shown), findings), null, 2)
      : flags.format === 'checkstyle'
        ? renderCheckstyle(shown, findings)
        : flags.format === 'gitlab_codeclimate'
          ? JSON.stringify(renderGitlabCodeclimate(shown, findings))
          : flags.format === 'text'
            ? renderLintText(shown, findings)
            : undefined;
  return { data: findings, text: rendered, exitCode };
}
