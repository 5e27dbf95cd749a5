import { ShaleError } from '../internal/errors.js';
import type { EntrySelector } from './copy-files.js';
import { compareWalkOrder, DockerignoreMatcher } from '../dockerfile/dockerignore.js';
import { BadPatternError, cleanPath, filepathMatch } from '../dockerfile/go-path.js';

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

/**
 * A `COPY --parents` source split as BuildKit splits it: at its first `/./`, the part before names
 * the directory whose contents are copied and the part after is the pattern (kept, with its parent
 * directories, below the destination); without `/./` the directory is the source root. Both are
 * cleaned as absolute paths, the pattern then made relative (`./x/../a.txt` -> `a.txt`).
 */
export function splitParentsSource(source: string): { dir: string; pattern: string } {
  const pivot = source.indexOf('/./');
  const [dir, pattern] = pivot < 0 ? ['/', source] : [source.slice(0, pivot), source.slice(pivot + 3)];
  return { dir: cleanPath(`/${dir}`), pattern: cleanPath(`/${pattern}`).slice(1) };
}

export interface SelectorOptions {
  /** `COPY --parents`: only what this pattern (`.dockerignore` syntax) matches, with what is below it. */
  include?: string;
  /** `--exclude` patterns (`.dockerignore` syntax, `!` re-includes): what they match is left out. */
  exclude: readonly string[];
}

/**
 * Which entries below a source directory a COPY/ADD copies, as BuildKit's copy filters them: paths
 * relative to the source directory, matched with `.dockerignore` rules (a pattern matching a
 * directory matches everything below it). An excluded directory is not entered unless some `!`
 * pattern might re-include something below it; a directory that is neither selected nor excluded is
 * entered when the include pattern could match below it, and created only if something there is
 * copied. Undefined when there is nothing to filter.
 */
export function copySelector(options: SelectorOptions): EntrySelector | undefined {
  if (options.include === undefined && options.exclude.length === 0) return undefined;
  const include = options.include === undefined ? undefined : new DockerignoreMatcher([options.include], 'COPY --parents');
  const exclude = options.exclude.length === 0 ? undefined : new DockerignoreMatcher(options.exclude, 'COPY --exclude');
  const mayHoldMatches = options.include === undefined ? () => true : patternMayMatchBelow(options.include);
  return (rel, isDir) => {
    const included = include?.matches(rel) ?? true;
    const excluded = exclude?.matches(rel) ?? false;
    if (included && !excluded) return 'copy';
    if (!isDir) return 'skip';
    if (excluded && !exclude!.hasExclusions) return 'skip';
    if (!included && !mayHoldMatches(rel)) return 'skip';
    return 'descend';
  };
}

/** Whether a pattern could match something below `dir`, compared component by component (`**` could match anything). */
function patternMayMatchBelow(pattern: string): (dir: string) => boolean {
  const parts = cleanPath(pattern).split('/');
  return (dir) => {
    const names = dir.split('/');
    for (let i = 0; i < names.length && i < parts.length; i++) {
      if (parts[i]!.includes('**')) return true;
      try {
        if (!filepathMatch(parts[i]!, names[i]!)) return false;
      } catch {
        return true;
      }
    }
    return true;
  };
}
