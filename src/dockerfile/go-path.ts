/**
 * Go's path semantics that Docker's builder relies on, for slash-separated paths:
 * `cleanPath` is `path.Clean`, `joinPath` is `path.Join`, `filepathMatch` is `filepath.Match` on Linux.
 */

/** `path.Clean`: the shortest equivalent path; `''` becomes `.`; a rooted path stays rooted. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const body = out.join('/');
  if (rooted) return `/${body}`;
  return body === '' ? '.' : body;
}

/** `path.Join`: joins the non-empty elements with `/` and cleans the result (`''` when all are empty). */
export function joinPath(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  return nonEmpty.length === 0 ? '' : cleanPath(nonEmpty.join('/'));
}

/** Thrown by `filepathMatch` for a malformed pattern (Go's `filepath.ErrBadPattern`). */
export class BadPatternError extends Error {
  constructor(pattern: string) {
    super(`syntax error in pattern "${pattern}"`);
    this.name = 'BadPatternError';
  }
}

/**
 * Go's `filepath.Match(pattern, name)` on Linux: `*` matches any run of non-`/` characters, `?` one
 * non-`/` character, `[...]` / `[^...]` a class with ranges, `\` escapes. The whole name must match.
 * A malformed pattern throws `BadPatternError` (as Go reports ErrBadPattern), also when it would not match.
 */
export function filepathMatch(pattern: string, name: string): boolean {
  const pat = Array.from(pattern);
  let nm = Array.from(name);
  let p = 0;
  pattern: while (p < pat.length) {
    // scanChunk: leading stars, then a chunk up to the next unescaped, unbracketed star.
    let star = false;
    while (p < pat.length && pat[p] === '*') {
      p++;
      star = true;
    }
    const chunkStart = p;
    p = chunkEnd(pat, p);
    const chunk = pat.slice(chunkStart, Math.min(p, pat.length));
    if (star && chunk.length === 0) {
      // Trailing star matches the rest only when it holds no separator.
      if (nm.includes('/')) return false;
      checkRestOfPattern(pattern, pat, p);
      return true;
    }
    const t = matchChunk(chunk, nm, pattern);
    if (t !== null && (t.length === 0 || p < pat.length)) {
      nm = t;
      continue;
    }
    if (star) {
      // Look for a match skipping i characters; a star never crosses a separator.
      for (let i = 0; i < nm.length && nm[i] !== '/'; i++) {
        const r = matchChunk(chunk, nm.slice(i + 1), pattern);
        if (r !== null) {
          if (p >= pat.length && r.length > 0) continue;
          nm = r;
          continue pattern;
        }
      }
    }
    // No match here; Go still reports a bad pattern in the rest.
    checkRestOfPattern(pattern, pat, p);
    return false;
  }
  return nm.length === 0;
}

/** Where the chunk starting at `p` ends: the next unescaped star outside brackets (may pass the end after a trailing `\`). */
function chunkEnd(pat: string[], p: number): number {
  let inRange = false;
  while (p < pat.length) {
    const c = pat[p]!;
    if (c === '\\') {
      p += 2;
      continue;
    }
    if (c === '[') inRange = true;
    else if (c === ']') inRange = false;
    else if (c === '*' && !inRange) break;
    p++;
  }
  return p;
}

/** Validates the remaining chunks as Go does before answering false. */
function checkRestOfPattern(pattern: string, pat: string[], from: number): void {
  let p = from;
  while (p < pat.length) {
    while (p < pat.length && pat[p] === '*') p++;
    const start = p;
    p = chunkEnd(pat, p);
    matchChunk(pat.slice(start, Math.min(p, pat.length)), [], pattern);
  }
}

/** Go's matchChunk: the rest of `s` after matching `chunk` at its start, or null; throws on a bad chunk. */
function matchChunk(chunk: string[], s: string[], pattern: string): string[] | null {
  let failed = false;
  let i = 0;
  let c = 0;
  while (c < chunk.length) {
    if (!failed && i >= s.length) failed = true;
    const ch = chunk[c]!;
    if (ch === '[') {
      let r = '';
      if (!failed) r = s[i++]!;
      c++;
      let negated = false;
      if (c < chunk.length && chunk[c] === '^') {
        negated = true;
        c++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (c < chunk.length && chunk[c] === ']' && nrange > 0) {
          c++;
          break;
        }
        const lo = getEsc(chunk, c, pattern);
        c = lo.next;
        let hi = lo.ch;
        if (c < chunk.length && chunk[c] === '-') {
          const h = getEsc(chunk, c + 1, pattern);
          c = h.next;
          hi = h.ch;
        }
        if (lo.ch <= r && r <= hi) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (ch === '?') {
      if (!failed) {
        if (s[i] === '/') failed = true;
        i++;
      }
      c++;
    } else if (ch === '\\') {
      c++;
      if (c >= chunk.length) throw new BadPatternError(pattern);
      if (!failed) {
        if (chunk[c] !== s[i]) failed = true;
        i++;
      }
      c++;
    } else {
      if (!failed) {
        if (ch !== s[i]) failed = true;
        i++;
      }
      c++;
    }
  }
  return failed ? null : s.slice(i);
}

function getEsc(chunk: string[], at: number, pattern: string): { ch: string; next: number } {
  let c = at;
  if (c >= chunk.length || chunk[c] === '-' || chunk[c] === ']') throw new BadPatternError(pattern);
  if (chunk[c] === '\\') {
    c++;
    if (c >= chunk.length) throw new BadPatternError(pattern);
  }
  const ch = chunk[c]!;
  c++;
  if (c >= chunk.length) throw new BadPatternError(pattern);
  return { ch, next: c };
}
