import { ShaleError } from '../internal/errors.js';
import { BadPatternError, cleanPath, filepathMatch } from './go-path.js';

/**
 * The patterns of a `.dockerignore` file as Docker reads them: a leading BOM dropped, lines starting
 * with `#` skipped, whitespace trimmed, blank lines skipped, each pattern cleaned (`path.Clean`) with
 * a leading `/` removed; `!` marks an exception and is kept in front.
 */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? `!${pattern}` : pattern);
  }
  return out;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface Pattern {
  /** The cleaned pattern without its `!`. */
  text: string;
  exclusion: boolean;
  type: MatchType;
  regexp?: RegExp;
}

const REGEXP_SPECIALS = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/**
 * Docker's `.dockerignore` matcher (moby/patternmatcher): patterns are tried in order and the last
 * one that matches decides; `*` and `?` stay within one path component, `**` spans any number of
 * them, `[...]` is a class; a pattern also matches everything under a directory it matches; `!`
 * patterns re-include. Matching is case-sensitive, on clean slash-separated context-relative paths.
 * A malformed pattern is an INVALID_ARGUMENT error.
 */
export class DockerignoreMatcher {
  private readonly patterns: Pattern[] = [];
  /** True when some pattern is an exception (`!`). */
  readonly hasExclusions: boolean;

  /** `what` names the patterns' origin in errors (`.dockerignore`, `COPY --exclude`). */
  constructor(patterns: readonly string[], what = '.dockerignore') {
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new ShaleError('INVALID_ARGUMENT', `illegal exclusion pattern: "!" in ${what}`);
        exclusion = true;
        p = p.slice(1);
      }
      try {
        filepathMatch(p, '.');
      } catch (e) {
        if (e instanceof BadPatternError) throw new ShaleError('INVALID_ARGUMENT', `${what}: ${e.message}`);
        throw e;
      }
      this.patterns.push(compile(p, exclusion));
    }
    this.hasExclusions = this.patterns.some((p) => p.exclusion);
  }

  /** The exception patterns (without `!`), as Docker uses them to decide whether to walk into a directory. */
  exclusionPatterns(): string[] {
    return this.patterns.filter((p) => p.exclusion).map((p) => p.text);
  }

  /**
   * True when `path` is excluded from the context: the last pattern matching it or one of its
   * parent directories is not an exception (Docker's MatchesOrParentMatches).
   */
  matches(path: string): boolean {
    const file = cleanPath(path);
    if (file === '.') return false;
    const slash = file.lastIndexOf('/');
    const parent = slash < 0 ? '.' : file.slice(0, slash);
    const parentDirs = parent.split('/');
    let matched = false;
    for (const pattern of this.patterns) {
      if (pattern.exclusion !== matched) continue;
      let match = matchOne(pattern, file);
      if (!match && parent !== '.') {
        for (let i = 0; i < parentDirs.length && !match; i++) match = matchOne(pattern, parentDirs.slice(0, i + 1).join('/'));
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * Whether Docker walks into an excluded directory: only when some exception pattern starts with
   * `dir/` (so `!dir/keep` re-includes `dir/keep`, but `!**\/keep` cannot reach inside an excluded dir).
   */
  walksInto(dir: string): boolean {
    const prefix = `${cleanPath(dir)}/`;
    return this.patterns.some((p) => p.exclusion && `${p.text}/`.startsWith(prefix));
  }
}

/** One entry of the build context, relative to its root. */
export interface ContextEntry {
  path: string;
  isDir: boolean;
}

/**
 * The context entries Docker sends, given a `.dockerignore` matcher: excluded entries are left out,
 * and so is everything under an excluded directory Docker does not walk into (see `walksInto`).
 * Order is kept.
 */
export function filterContext<T extends ContextEntry>(entries: readonly T[], matcher: DockerignoreMatcher): T[] {
  const skipped: string[] = [];
  const underSkipped = (p: string) => skipped.some((d) => p.startsWith(`${d}/`));
  const sorted = [...entries].map((e, i) => ({ e, i, path: cleanPath(e.path) })).sort((a, b) => compareWalkOrder(a.path, b.path));
  const keep = new Set<number>();
  for (const { e, i, path } of sorted) {
    if (path === '.' || underSkipped(path)) continue;
    if (matcher.matches(path)) {
      if (e.isDir && (!matcher.hasExclusions || !matcher.walksInto(path))) skipped.push(path);
      continue;
    }
    keep.add(i);
  }
  return entries.filter((_, i) => keep.has(i));
}

/** Go's filepath.Walk order: depth-first, the names of each directory in byte order. */
export function compareWalkOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!));
  }
  return pa.length - pb.length;
}

/** What `**` followed by `/` matches: nothing, or any run of path components. */
const ANY_DIRS = '(?:[^]*/)?';

function compile(text: string, exclusion: boolean): Pattern {
  let re = '^';
  let type: MatchType = 'exact';
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        if (i + 1 >= chars.length) {
          if (type === 'exact') type = 'prefix';
          else {
            if (re.endsWith(ANY_DIRS)) re = re.slice(0, -ANY_DIRS.length);
            re += '[^]*';
            type = 'regexp';
          }
        } else {
          // `**/**/` matches what `**/` matches: one group, as repeated groups backtrack exponentially
          if (!re.endsWith(ANY_DIRS)) re += ANY_DIRS;
          type = 'regexp';
        }
        if (i <= 2 && text.startsWith('**')) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (REGEXP_SPECIALS.has(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      const n = chars[i + 1];
      if (n !== undefined) {
        re += /[\^$\\.*+?()[\]{}|/]/.test(n) ? `\\${n}` : n;
        i++;
        type = 'regexp';
      } else re += '\\\\';
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else if (ch === '^') {
      re += i > 0 && chars[i - 1] === '[' ? '^' : '\\^';
    } else {
      re += ch;
    }
  }
  const pattern: Pattern = { text, exclusion, type };
  if (type === 'regexp') {
    try {
      pattern.regexp = new RegExp(`${re}$`, 'u');
    } catch {
      throw new ShaleError('INVALID_ARGUMENT', `.dockerignore: syntax error in pattern "${text}"`);
    }
  }
  return pattern;
}

function matchOne(p: Pattern, path: string): boolean {
  switch (p.type) {
    case 'exact':
      return path === p.text;
    case 'prefix':
      return path.startsWith(p.text.slice(0, -2));
    case 'suffix': {
      const suffix = p.text.slice(2);
      if (path.endsWith(suffix)) return true;
      return suffix.startsWith('/') && path === suffix.slice(1);
    }
    case 'regexp':
      return p.regexp!.test(path);
  }
}
