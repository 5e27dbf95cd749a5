import type { Heredoc, SourceSpan } from './instructions.js';
import { lexWord, type EscapeChar } from './shell-lexer.js';
import { DockerfileSyntaxError } from './syntax-error.js';
import { extractBuilderFlags } from './words.js';

/**
 * The first layer of the parser: a Dockerfile's text as BuildKit's parser reads it, one logical line
 * at a time. Parser directives (escape, syntax, check) at the top, continuations with the escape
 * character, whole-line comments (also inside continuations), heredoc bodies of RUN/COPY/ADD, the
 * 65535-byte line limit, and each line split into its instruction word, builder flags and the rest.
 * What the rest means is the instruction parsers' business.
 */

/** An instruction line split as Docker's splitCommand does; ONBUILD also splits its wrapped line. */
export interface RawNode {
  /** The instruction word, lowercased. */
  cmd: string;
  /** Builder flags as written (`--name=value`), quotes removed. */
  flags: string[];
  /** The arguments after the flags, trimmed. */
  rest: string;
  /** The whole logical line (continuations joined, comments dropped). */
  line: string;
  /** ONBUILD's wrapped instruction. */
  child?: RawNode;
}

/** One instruction's text: its split line, the heredocs it opened (bodies read) and where it sits. */
export interface LogicalLine {
  node: RawNode;
  heredocs: Heredoc[];
  span: SourceSpan;
}

const WHITESPACE = /[\t\v\f\r ]+/;
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
// BuildKit's reHeredoc: whitespace may follow `<<` (Go's `\s`: tab, newline, form feed, CR, space)
const HEREDOC_WORD = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const HEREDOC_KINDS = new Set(['run', 'copy', 'add']);
const MAX_LINE_BYTES = 65_535; // bufio.MaxScanTokenSize - 1

export const trimLeft = (s: string): string => s.replace(/^\s+/u, '');
const trimNewline = (s: string): string => s.replace(/[\r\n]+$/, '');
const isCommentLine = (s: string): boolean => trimLeft(trimNewline(s)).startsWith('#');

/**
 * Reads a Dockerfile's logical lines. `lines()` yields them one by one, so an error in an earlier
 * instruction is reported before one in a later line; the directives (`escape`, `syntax`) are known
 * once the first line is yielded, the warnings once all are. Errors are DockerfileSyntaxError.
 */
export class LineReader {
  escape: EscapeChar = '\\';
  syntax?: string;
  /** Non-fatal findings (empty continuation lines), as Docker prints them. */
  readonly warnings: string[] = [];
  private continuation = continuationRegex('\\');
  private directivesDone = false;
  private readonly seenDirectives = new Set<string>();
  /** The lines without a BOM, a final empty line dropped. */
  private readonly source: string[];
  /** The lines as read, a BOM still in the first. */
  private readonly rawLines: string[];

  constructor(text: string, private readonly file: string) {
    this.rawLines = text.split('\n');
    this.source = text.replace(/^\uFEFF/, '').split('\n');
    if (this.source.length > 0 && this.source[this.source.length - 1] === '') this.source.pop();
  }

  /** How many lines the file has (a final line ending does not start another). */
  get lineCount(): number {
    return this.source.length;
  }

  private fail(line: number, reason: string): never {
    throw new DockerfileSyntaxError(this.file, line, reason);
  }

  *lines(): Generator<LogicalLine> {
    this.checkLineLengths();
    const lines = this.source;
    let i = 0;
    while (i < lines.length) {
      const startLine = i + 1;
      const first = trimLeft(trimNewline(lines[i]!));
      i++;
      this.directive(first, startLine);
      let [line, done] = this.trimContinuation(first.startsWith('#') ? '' : first);
      if (done && line === '') continue;
      let emptyContinuation = false;
      while (!done && i < lines.length) {
        const raw = trimNewline(lines[i]!);
        i++;
        this.directive(raw, i);
        if (isCommentLine(raw)) continue;
        if (trimLeft(raw) === '') {
          emptyContinuation = true;
          continue;
        }
        let more: string;
        [more, done] = this.trimContinuation(raw);
        line += more;
      }
      if (emptyContinuation) this.warnings.push(`[WARNING]: Empty continuation line found in:\n    ${line}`);
      const node = splitNode(line);
      const heredocs: Heredoc[] = [];
      const target = node.cmd === 'onbuild' && node.child ? node.child : node;
      if (HEREDOC_KINDS.has(target.cmd) && jsonArrayOrNull(target.rest) === null) {
        for (const doc of this.heredocsOf(line, startLine)) {
          let terminated = false;
          while (i < lines.length) {
            const raw = lines[i]!;
            i++;
            let candidate = trimNewline(raw);
            if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
            if (candidate === doc.name) {
              terminated = true;
              break;
            }
            doc.content += `${raw}\n`;
          }
          if (!terminated) this.fail(startLine, `unterminated heredoc ${doc.name}`);
          heredocs.push(doc);
        }
      }
      const original = lines.slice(startLine - 1, i).map(trimNewline).join('\n');
      yield { node, heredocs, span: { line: startLine, endLine: i, original } };
    }
  }

  /**
   * BuildKit reads the file with a bufio.Scanner of the default 64 KiB buffer, its line ending
   * included: a line of more than 65535 bytes (a BOM or a CR counted) fails the whole parse. BuildKit
   * locates the error at the line before; this names the long line itself.
   */
  private checkLineLengths(): void {
    for (const [i, line] of this.rawLines.entries()) {
      if (line.length > MAX_LINE_BYTES / 3 && Buffer.byteLength(line, 'utf8') > MAX_LINE_BYTES) {
        this.fail(i + 1, `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`);
      }
    }
  }

  /** Docker reads parser directives only until the first line that is not one. */
  private directive(line: string, lineNo: number): void {
    if (this.directivesDone) return;
    const m = DIRECTIVE.exec(line);
    const name = m?.[1]!.toLowerCase();
    if (!m || !KNOWN_DIRECTIVES.has(name!)) {
      this.directivesDone = true;
      return;
    }
    if (this.seenDirectives.has(name!)) this.fail(lineNo, `only one ${name} parser directive can be used`);
    this.seenDirectives.add(name!);
    const value = m[2]!;
    if (name === 'escape') {
      if (value !== '`' && value !== '\\') this.fail(lineNo, `invalid escape token '${value}' does not match \` or \\`);
      this.escape = value;
      this.continuation = continuationRegex(value);
    } else if (name === 'syntax') {
      this.syntax = value;
    }
  }

  private trimContinuation(line: string): [string, boolean] {
    if (this.continuation.test(line)) return [line.replace(this.continuation, '$1'), false];
    return [line, true];
  }

  /** The heredocs a logical line opens, in order (bodies still empty). */
  private heredocsOf(line: string, lineNo: number): Heredoc[] {
    let words: string[];
    try {
      words = lexWord(line, () => undefined, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
    } catch {
      return [];
    }
    const docs: Heredoc[] = [];
    for (const w of words) {
      const doc = parseHeredocWord(w, () => this.fail(lineNo, `invalid heredoc "${w}"`));
      if (doc) docs.push(doc);
    }
    return docs;
  }
}

function continuationRegex(escape: EscapeChar): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

/** Splits `CMD --flags rest` (Docker's splitCommand); ONBUILD also splits its wrapped line. */
function splitNode(line: string): RawNode {
  const trimmed = line.trim();
  const m = WHITESPACE.exec(trimmed);
  const word = m ? trimmed.slice(0, m.index) : trimmed;
  const after = m ? trimmed.slice(m.index + m[0].length) : '';
  const { rest, flags } = after === '' ? { rest: '', flags: [] } : extractBuilderFlags(after);
  const node: RawNode = { cmd: word.toLowerCase(), flags, rest: rest.trim(), line };
  if (node.cmd === 'onbuild' && node.rest !== '') node.child = splitNode(node.rest);
  return node;
}

/**
 * Docker's JSON form test: the text (after leading whitespace) starts with `[` and its first JSON
 * value is an array; trailing text after that value is ignored as Go's decoder does. null when it is
 * not JSON (then it is shell form).
 */
export function jsonArrayOrNull(rest: string): unknown[] | null {
  const text = trimLeft(rest);
  if (!text.startsWith('[')) return null;
  const end = endOfFirstJsonValue(text);
  if (end < 0) return null;
  try {
    const value: unknown = JSON.parse(text.slice(0, end));
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** Index just past the bracketed value that starts `text`, or -1 when it never closes. */
function endOfFirstJsonValue(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * A word like `<<EOF`, `<<-"EOF"`, `2<<'E'OF` as a heredoc (body empty), or null when it is not one.
 * Any quoted part of the delimiter turns expansion of the body off.
 */
export const parseHeredocDelimiter = (word: string): Heredoc | null => parseHeredocWord(word, () => undefined);

function parseHeredocWord(word: string, onError: () => void): Heredoc | null {
  const m = HEREDOC_WORD.exec(word);
  if (!m || m[3] === '') return null;
  const rest = m[3]!;
  try {
    const plain = lexWord(rest, () => undefined, { skipUnsetEnv: true }).words;
    if (plain.length !== 1) return null;
    const raw = lexWord(rest, () => undefined, { skipUnsetEnv: true, rawQuotes: true }).words;
    if (raw.length !== 1) return null;
    const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
    return {
      name: plain[0]!,
      content: '',
      expand: quotes(plain[0]!) === quotes(raw[0]!),
      chomp: m[2] === '-',
      fd: m[1] === '' ? 0 : Number(m[1]),
    };
  } catch {
    onError();
    return null;
  }
}
