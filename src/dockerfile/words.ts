import type { EscapeChar } from './shell-lexer.js';

/**
 * The Dockerfile parser's one word lexer: splits text on unquoted whitespace, quotes grouping words.
 * No variable expansion happens here (that is `shell-lexer.ts`, applied later to the words).
 */

/** How quotes and the escape character are treated. */
export interface WordOptions {
  /** The escape character (default `\`). */
  escape?: EscapeChar;
  /**
   * Remove quotes and escape characters from the words, the escape character then also working
   * inside single quotes (BuildKit's builder flags). By default both stay in the words and the
   * escape character is literal inside single quotes (BuildKit's parseWords, for ENV/LABEL/ARG).
   */
  unquote?: boolean;
}

/** A word and where it sits in the input (UTF-16 offsets, `end` exclusive). */
export interface LexedWord {
  text: string;
  start: number;
  end: number;
}

const SPACE = /^\s$/u;

/**
 * The words of `input`, lazily, in order. A quoted empty string is a word (`""`); an escape
 * character at the very end is dropped; an unterminated quote runs to the end.
 */
export function* lexWords(input: string, options: WordOptions = {}): Generator<LexedWord> {
  const escape = options.escape ?? '\\';
  const keep = !options.unquote;
  let word = '';
  let start = -1; // -1: between words
  let quote = ''; // the open quote, '' outside quotes
  let blankOK = false;
  let pos = 0;
  const next = (): string => {
    const ch = String.fromCodePoint(input.codePointAt(pos)!);
    pos += ch.length;
    return ch;
  };
  const escaped = (ch: string): string => {
    const n = next();
    return keep ? ch + n : n;
  };
  while (pos < input.length) {
    const at = pos;
    const ch = next();
    if (start < 0) {
      if (SPACE.test(ch)) continue;
      start = at;
    }
    if (quote === '') {
      if (SPACE.test(ch)) {
        if (blankOK || word !== '') yield { text: word, start, end: at };
        word = '';
        start = -1;
        blankOK = false;
      } else if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        if (keep) word += ch;
      } else if (ch === escape) {
        if (pos < input.length) word += escaped(ch);
      } else {
        word += ch;
      }
    } else if (ch === quote) {
      quote = '';
      if (keep) word += ch;
    } else if (ch === escape && (quote !== "'" || !keep)) {
      if (pos < input.length) word += escaped(ch);
      else quote = '';
    } else {
      word += ch;
    }
  }
  if (start >= 0 && (blankOK || word !== '')) yield { text: word, start, end: input.length };
}

/**
 * BuildKit's parseWords: the words with quotes and escapes kept, for the expansion step to remove
 * (ENV, LABEL and ARG arguments).
 */
export const parseWords = (rest: string, escape: EscapeChar): string[] => Array.from(lexWords(rest, { escape }), (w) => w.text);

/**
 * BuildKit's extractBuilderFlags: the leading `--name=value` words, unquoted, with `\` as escape
 * whatever the escape directive says; a word `--` ends them. `rest` is the text after the flags.
 */
export function extractBuilderFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  const words = lexWords(line, { unquote: true });
  const blanks = /\s*/uy;
  for (;;) {
    // decided on the raw text: a word that is not a flag may lex to nothing (a lone `\`)
    blanks.exec(line);
    const start = blanks.lastIndex;
    if (start === line.length) return { flags, rest: '' };
    if (!line.startsWith('--', start)) return { flags, rest: line.slice(start) };
    const w = words.next().value!; // the word at `start`: it holds `--`, so it is never empty
    if (w.text === '--') return { flags, rest: line.slice(w.end) };
    flags.push(w.text);
    blanks.lastIndex = w.end;
  }
}

/** Whitespace-separated fields, no quoting (BuildKit's parseStringsWhitespaceDelimited). */
export const splitFields = (rest: string): string[] => (rest === '' ? [] : rest.split(/[\t\v\f\r ]+/));
