import { ShaleError } from '../internal/errors.js';

/**
 * A shell pattern with the syntax and meaning of Go's `path.Match`: `*` is any run of characters but `/`,
 * `?` one character but `/`, `[...]` a class (`^` negates, `a-z` ranges), `\` quotes the next character.
 * A malformed pattern is refused, as Go reports ErrBadPattern.
 */
export function compilePathPattern(pattern: string): RegExp {
  const bad = (why: string) => new ShaleError('INVALID_ARGUMENT', `syntax error in pattern "${pattern}": ${why}`);
  const literal = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;
  const chars = [...pattern];
  let out = '';
  let i = 0;
  /** One class character: `\` quotes; `-` and `]` must be quoted. */
  const classChar = (): string => {
    let c = chars[i];
    if (c === undefined) throw bad('unclosed [');
    if (c === '-' || c === ']') throw bad(`"${c}" must be quoted with \\ in a class`);
    if (c === '\\') {
      c = chars[++i];
      if (c === undefined) throw bad('\\ at the end');
    }
    i++;
    return c;
  };
  while (i < chars.length) {
    const c = chars[i++]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\') {
      const next = chars[i++];
      if (next === undefined) throw bad('\\ at the end');
      out += literal(next);
    } else if (c === '[') {
      let negated = false;
      if (chars[i] === '^') {
        negated = true;
        i++;
      }
      let ranges = '';
      let n = 0;
      for (;;) {
        if (chars[i] === ']' && n > 0) {
          i++;
          break;
        }
        const lo = classChar();
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          hi = classChar();
          if (hi.codePointAt(0)! < lo.codePointAt(0)!) throw bad(`range ${lo}-${hi} is reversed`);
        }
        ranges += `${literal(lo)}-${literal(hi)}`;
        n++;
      }
      out += `[${negated ? '^' : ''}${ranges}]`;
    } else out += literal(c);
  }
  return new RegExp(`^${out}$`, 'u');
}

/**
 * Whether an image named `repository:tag` matches a `docker images REPOSITORY[:TAG]` filter: the pattern
 * is matched against the whole `repository:tag` and, failing that, against the repository alone (so
 * `busybox` lists every busybox tag and `busybox:1` only that one). Untagged images never match.
 */
export function matchesReferencePattern(pattern: RegExp, row: { repository: string; tag: string }): boolean {
  if (row.repository === '<none>') return false;
  return (row.tag !== '<none>' && pattern.test(`${row.repository}:${row.tag}`)) || pattern.test(row.repository);
}
