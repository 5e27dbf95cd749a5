import { ShaleError } from '../internal/errors.js';

/** The Dockerfile escape character: set by the `# escape=` directive. */
export type EscapeChar = '\\' | '`';

/** Looks a variable up: its value, or undefined when it is not set (set-but-empty is `''`). */
export type EnvLookup = (name: string) => string | undefined;

/** Options of the word lexer; the defaults are what Docker uses to expand instruction arguments. */
export interface LexOptions {
  /** The escape character (default `\`). */
  escape?: EscapeChar;
  /** Keep quote characters in the output (quotes still group words and stop expansion in `'...'`). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Quotes are ordinary characters (used for heredoc bodies). */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to ''. */
  skipUnsetEnv?: boolean;
}

/** What the lexer made of a string: the processed text, and that text split into shell words. */
export interface LexResult {
  /** Quote removal and expansion done, whitespace kept (Docker's ProcessWord). */
  word: string;
  /** Split on unquoted whitespace after expansion (Docker's ProcessWords). */
  words: string[];
}

const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const isSpace = (ch: string): boolean => SPACE.test(ch);
const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);
const isLetter = (ch: string): boolean => /^\p{L}$/u.test(ch);
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/**
 * Docker's shell-word lexer (BuildKit's `shell.Lex`): `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`,
 * `${V+w}`, `${V:?w}`, `${V?w}`, `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}`, `${V//p/r}`;
 * single quotes take everything literally, double quotes allow `$` and escape only `"`, `$` and the
 * escape character; outside quotes the escape character makes the next character literal.
 * A malformed string throws INVALID_ARGUMENT (`failed to process "...": ...`).
 */
export function lexWord(input: string, lookup: EnvLookup, options: LexOptions = {}): LexResult {
  const lexer = new Lexer(input, lookup, options);
  try {
    const { text, words } = lexer.processStopOn(null, options.rawEscapes ?? false);
    return { word: text, words };
  } catch (e) {
    if (e instanceof LexFailure) {
      throw new ShaleError('INVALID_ARGUMENT', `failed to process "${input}": ${e.message}`);
    }
    throw e;
  }
}

/** Expands one word (whitespace kept) with Docker's rules; unset variables become ''. */
export const expandWord = (input: string, lookup: EnvLookup, escape: EscapeChar = '\\'): string =>
  lexWord(input, lookup, { escape }).word;

/** Expands and splits into words (EXPOSE's multi-word expansion). */
export const expandWords = (input: string, lookup: EnvLookup, escape: EscapeChar = '\\'): string[] =>
  lexWord(input, lookup, { escape }).words;

/** A lookup over a list of `K=V` strings; the first occurrence of a key wins. */
export function lookupFromList(env: readonly string[]): EnvLookup {
  const map = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    const key = i < 0 ? e : e.slice(0, i);
    if (!map.has(key)) map.set(key, i < 0 ? '' : e.slice(i + 1));
  }
  return (name) => map.get(name);
}

class LexFailure extends Error {}

class Words {
  private buf = '';
  private inWord = false;
  readonly words: string[] = [];
  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Lexer {
  private readonly chars: string[];
  private pos = 0;
  private readonly escape: string;
  private rawEscapes: boolean;

  constructor(input: string, private readonly lookup: EnvLookup, private readonly opts: LexOptions) {
    this.chars = Array.from(input);
    this.escape = opts.escape ?? '\\';
    this.rawEscapes = opts.rawEscapes ?? false;
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  processStopOn(stop: string | null, rawEscapes: boolean): { text: string; words: string[] } {
    let text = '';
    const words = new Words();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== undefined) {
        const ch = this.peek()!;
        if (stop !== null && ch === stop) {
          this.next();
          return { text, words: words.finish() };
        }
        if (ch === '$') {
          const v = this.processDollar();
          text += v;
          words.addString(v);
        } else if (ch === '<') {
          const v = this.processPossibleHeredoc();
          text += v;
          words.addRawString(v);
        } else if (!this.opts.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const v = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          text += v;
          words.addRawString(v);
        } else {
          let c = this.next()!;
          if (c === this.escape) {
            if (this.rawEscapes) {
              words.addRawChar(c);
              text += c;
            }
            const n = this.next();
            if (n === undefined) break;
            c = n;
            words.addRawChar(c);
          } else {
            words.addChar(c);
          }
          text += c;
        }
      }
      if (stop !== null) throw new LexFailure(`unexpected end of statement while looking for matching ${stop}`);
      return { text, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  /**
   * `<<` followed by tabs, CRs or spaces stays one word with what follows (`<<  EOF`), as BuildKit
   * 1.16+ lexes it, so a heredoc may put whitespace before its delimiter.
   */
  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let out = '<<';
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') out += this.next();
    return out;
  }

  private processSingleQuote(): string {
    let out = '';
    const open = this.next()!;
    if (this.opts.rawQuotes) out += open;
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new LexFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.opts.rawQuotes) out += ch;
        return out;
      }
      out += ch;
    }
  }

  private processDoubleQuote(): string {
    let out = '';
    const open = this.next()!;
    if (this.opts.rawQuotes) out += open;
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new LexFailure('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        if (this.opts.rawQuotes) out += ch;
        return out;
      }
      if (ch === '$') {
        out += this.processDollar();
        continue;
      }
      let c = this.next()!;
      if (c === this.escape) {
        if (this.rawEscapes) out += c;
        const n = this.peek();
        if (n === undefined) continue; // an escape at the very end is dropped
        if (n === '"' || n === '$' || n === this.escape) c = this.next()!;
      }
      out += c;
    }
  }

  private processDollar(): string {
    this.next(); // '$'
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return `$${name}`;
      return value ?? '';
    }
    this.next(); // '{'
    const first = this.peek();
    if (first === undefined) throw new LexFailure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexFailure('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === undefined) throw new LexFailure("syntax error: missing '}'");
    let chs = ch;
    switch (ch) {
      case '}': {
        const value = this.lookup(name);
        if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
        return value ?? '';
      }
      case ':':
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        const nullIsUnset = ch === ':';
        if (nullIsUnset) {
          ch = this.next();
          chs += ch ?? '';
        }
        const rawEscapes = ch === '#' || ch === '%';
        if (nullIsUnset && rawEscapes) throw new LexFailure(`unsupported modifier (${chs}) in substitution`);
        let word: string;
        try {
          word = this.processStopOn('}', rawEscapes).text;
        } catch (e) {
          if (e instanceof LexFailure && this.peek() === undefined) throw new LexFailure("syntax error: missing '}'");
          throw e;
        }
        const value = this.lookup(name);
        const set = value !== undefined;
        if (!set && this.opts.skipUnsetEnv) return `\${${name}${chs}${word}}`;
        const empty = !set || (nullIsUnset && value === '');
        switch (ch) {
          case '-':
            return empty ? word : value!;
          case '+':
            return empty ? '' : word;
          case '?':
            if (!set) throw new LexFailure(`${name}: ${word || 'is not allowed to be unset'}`);
            if (nullIsUnset && value === '') throw new LexFailure(`${name}: ${word || 'is not allowed to be empty'}`);
            return value;
          case '#':
          case '%': {
            let pattern = word;
            let greedy = false;
            if (pattern.startsWith(ch)) {
              greedy = true;
              pattern = pattern.slice(1);
            }
            return ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
          }
          default:
            throw new LexFailure(`unsupported modifier (${chs}) in substitution`);
        }
      }
      case '/': {
        const all = this.peek() === '/';
        if (all) this.next();
        let pattern: string;
        let replacement: string;
        try {
          pattern = this.processStopOn('/', true).text;
        } catch (e) {
          if (e instanceof LexFailure && this.peek() === undefined) throw new LexFailure("syntax error: missing '/' in ${}");
          throw e;
        }
        try {
          replacement = this.processStopOn('}', true).text;
        } catch (e) {
          if (e instanceof LexFailure && this.peek() === undefined) throw new LexFailure("syntax error: missing '}'");
          throw e;
        }
        const value = this.lookup(name);
        if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
        const re = shellPatternToRegex(pattern, true, false, all);
        return (value ?? '').replace(re, () => replacement);
      }
      default:
        throw new LexFailure(`unsupported modifier (${chs}) in substitution`);
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== undefined) {
      const ch = this.peek()!;
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== undefined && isDigit(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next()!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }
}

/** A shell wildcard pattern (`*`, `?`, `\` escapes; no brackets) as a regular expression. */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  let out = anchored ? '^' : '';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i]!;
    if (tok === '*') out += greedy ? '[^]*' : '[^]*?';
    else if (tok === '?') out += '[^]';
    else if (tok === '\\') {
      const n = chars[i + 1];
      if (n === '}' || n === '/') continue; // escapes of } and / belong to ${...}, not to the pattern
      if (n !== '*' && n !== '?' && n !== '\\') throw new LexFailure(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      out += `\\${n}`;
      i++;
    } else out += tok.replace(/[[\]{}.+()|^$]/g, '\\$&');
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Shortest/longest suffix removal: reverse pattern and value so it becomes a prefix removal. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const reversed = reversePattern(pattern);
  const rev = (s: string) => Array.from(s).reverse().join('');
  return rev(trimPrefix(reversed, rev(value), greedy));
}

/** Reverses a pattern keeping each `\x` escape pair in order. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < chars.length; ) {
    if (chars[i] === '\\' && i !== chars.length - 1) {
      out.unshift(chars[i]!, chars[i + 1]!);
      i += 2;
    } else {
      out.unshift(chars[i]!);
      i++;
    }
  }
  return out.join('');
}
