import { ShaleError } from '../internal/errors.js';
import { compareWalkOrder } from './dockerignore.js';
import { BadPatternError, cleanPath, filepathMatch } from './go-path.js';

/** Docker's containsWildcards: an unescaped `*`, `?` or `[`. */
export function hasWildcards(source: string): boolean {
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

/** A COPY/ADD source as Docker looks it up in the context: a leading `/` and `./` removed. */
export function trimSourcePath(source: string): string {
  let p = source;
  if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
  if (p.startsWith('./')) p = p.slice(2);
  return p;
}

/**
 * The context paths a COPY/ADD source names. Without wildcards: the source itself, trimmed and
 * cleaned (whether it exists is for the caller to find out). With wildcards: every path of
 * `contextPaths` (clean, relative) that Go's `filepath.Match` accepts, in Docker's walk order;
 * `*` does not cross `/` and `**` is not special. A malformed pattern is INVALID_ARGUMENT.
 */
export function expandCopySources(source: string, contextPaths: readonly string[]): string[] {
  const trimmed = trimSourcePath(source);
  if (!hasWildcards(trimmed)) return [cleanPath(trimmed)];
  try {
    filepathMatch(trimmed, '');
    return contextPaths
      .map(cleanPath)
      .filter((p) => p !== '.' && filepathMatch(trimmed, p))
      .sort(compareWalkOrder);
  } catch (e) {
    if (e instanceof BadPatternError) throw new ShaleError('INVALID_ARGUMENT', `COPY source: ${e.message}`);
    throw e;
  }
}
