import { ShaleError } from '../internal/errors.js';
import { parseGoDuration } from './go-format.js';
import type {
  ArgDeclaration,
  Command,
  CopyInstruction,
  AddInstruction,
  HealthConfig,
  Heredoc,
  Instruction,
  KeyValue,
  SourceSpan,
} from './instructions.js';
import { lexWord, type EscapeChar } from './shell-lexer.js';

/** A parsed Dockerfile: its parser directives and its instructions in source order. */
export interface Dockerfile {
  /** The file name used in error messages (`Dockerfile` unless given). */
  file: string;
  /** From `# escape=`; `\` by default. */
  escape: EscapeChar;
  /** From `# syntax=`; recorded and otherwise ignored. */
  syntax?: string;
  /** The ARG instructions before the first FROM, then every stage's FROM and instructions. */
  instructions: Instruction[];
  /** Non-fatal findings (empty continuation lines), as Docker prints them. */
  warnings: string[];
}

export interface ParseOptions {
  /** Name used in error messages: `FILE:LINE: message`. */
  file?: string;
}

/**
 * Parses a Dockerfile the way Docker (BuildKit's parser) does: directives at the top, line
 * continuations with the escape character, whole-line comments (also inside continuations),
 * heredocs for RUN/COPY/ADD, JSON and shell forms, builder flags. Any error is a DOCKERFILE_SYNTAX
 * ShaleError whose message starts with `FILE:LINE:` (the instruction's first line).
 */
export function parseDockerfile(text: string, options: ParseOptions = {}): Dockerfile {
  return new Parser(text, options.file ?? 'Dockerfile').parse();
}

/**
 * Parses one ONBUILD trigger as stored in a base image's `OnBuild` (e.g. `RUN echo child`, heredoc
 * bodies included): exactly one instruction, no FROM needed. Errors are DOCKERFILE_SYNTAX.
 */
export function parseTrigger(expression: string, options: ParseOptions = {}): Instruction {
  const file = options.file ?? 'ONBUILD trigger';
  const { instructions } = new Parser(expression, file, false).parse();
  if (instructions.length !== 1) {
    throw new ShaleError('DOCKERFILE_SYNTAX', `${file}:1: onbuild trigger should be a single expression: ${JSON.stringify(expression)}`);
  }
  const inst = instructions[0]!;
  if (inst.kind === 'FROM' || inst.kind === 'ONBUILD' || inst.kind === 'MAINTAINER') {
    throw new ShaleError('DOCKERFILE_SYNTAX', `${file}:1: ${inst.kind} isn't allowed as an ONBUILD trigger`);
  }
  return inst;
}

const WHITESPACE = /[\t\v\f\r ]+/;
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
// BuildKit's reHeredoc: whitespace may follow `<<` (Go's `\s`: tab, newline, form feed, CR, space)
const HEREDOC_WORD = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const HEREDOC_KINDS = new Set(['run', 'copy', 'add']);
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const MINIMUM_DURATION = 1_000_000; // 1ms, Docker's container.MinimumDuration
const MAX_LINE_BYTES = 65_535; // bufio.MaxScanTokenSize - 1

const trimLeft = (s: string): string => s.replace(/^\s+/u, '');
const trimNewline = (s: string): string => s.replace(/[\r\n]+$/, '');
const isCommentLine = (s: string): boolean => trimLeft(trimNewline(s)).startsWith('#');

/** A logical line: continuation joined, comments dropped, before its heredoc bodies. */
interface RawNode {
  cmd: string; // lowercased
  flags: string[];
  rest: string;
  line: string;
  child?: RawNode; // ONBUILD's wrapped instruction
}

class SyntaxFailure extends Error {}

class Parser {
  private readonly lines: string[];
  private escape: EscapeChar = '\\';
  private continuation = continuationRegex('\\');
  private directivesDone = false;
  private readonly seenDirectives = new Set<string>();
  private syntax?: string;
  private readonly warnings: string[] = [];

  /** The lines as read, a BOM still in the first. */
  private readonly rawLines: string[];

  constructor(text: string, private readonly file: string, private readonly wholeFile = true) {
    this.rawLines = text.split('\n');
    this.lines = text.replace(/^\uFEFF/, '').split('\n');
    if (this.lines.length > 0 && this.lines[this.lines.length - 1] === '') this.lines.pop();
  }

  private fail(line: number, message: string): never {
    throw new ShaleError('DOCKERFILE_SYNTAX', `${this.file}:${line}: ${message}`);
  }

  parse(): Dockerfile {
    this.checkLineLengths();
    const instructions: Instruction[] = [];
    let i = 0;
    while (i < this.lines.length) {
      const startLine = i + 1;
      const first = trimLeft(trimNewline(this.lines[i]!));
      i++;
      this.directive(first, startLine);
      let [line, done] = this.trimContinuation(first.startsWith('#') ? '' : first);
      if (done && line === '') continue;
      let emptyContinuation = false;
      while (!done && i < this.lines.length) {
        const raw = trimNewline(this.lines[i]!);
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
      let node: RawNode;
      try {
        node = splitNode(line);
      } catch (e) {
        if (e instanceof SyntaxFailure) this.fail(startLine, e.message);
        throw e;
      }
      const heredocs: Heredoc[] = [];
      const target = node.cmd === 'onbuild' && node.child ? node.child : node;
      if (HEREDOC_KINDS.has(target.cmd) && !looksLikeJson(target.rest)) {
        for (const doc of this.heredocsOf(line, startLine)) {
          let terminated = false;
          while (i < this.lines.length) {
            const raw = this.lines[i]!;
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
      const span: SourceSpan = {
        line: startLine,
        endLine: i,
        original: this.lines.slice(startLine - 1, i).map(trimNewline).join('\n'),
      };
      try {
        instructions.push(this.toInstruction(node, heredocs, span));
      } catch (e) {
        if (e instanceof SyntaxFailure) this.fail(startLine, e.message);
        throw e;
      }
    }
    if (this.wholeFile) this.checkStages(instructions);
    return { file: this.file, escape: this.escape, syntax: this.syntax, instructions, warnings: this.warnings };
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

  private toInstruction(node: RawNode, heredocs: Heredoc[], span: SourceSpan): Instruction {
    const { cmd, rest } = node;
    const flags = (spec: FlagSpec) => parseFlags(node.flags, spec);
    switch (cmd) {
      case 'from': {
        const f = flags({ platform: 'string' });
        const args = splitWhitespace(rest);
        let stageName: string | undefined;
        if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
          stageName = args[2]!.toLowerCase();
          if (!STAGE_NAME.test(stageName)) {
            throw new SyntaxFailure(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
          }
        } else if (args.length !== 1) {
          throw new SyntaxFailure('FROM requires either one or three arguments');
        }
        return { kind: 'FROM', ...span, image: args[0]!, stageName, platform: f.string('platform') };
      }
      case 'run': {
        const f = flags({ mount: 'strings', network: 'string', security: 'string' });
        const network = f.string('network');
        if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
          throw new SyntaxFailure(`unsupported network mode "${network}"`);
        }
        const security = f.string('security');
        if (security !== undefined && !['sandbox', 'insecure'].includes(security)) {
          throw new SyntaxFailure(`unsupported security mode "${security}"`);
        }
        const command = parseCommand(rest, 'RUN');
        if (command.form === 'exec' && command.args.length === 0) throw new SyntaxFailure('RUN requires at least one argument');
        return {
          kind: 'RUN',
          ...span,
          command,
          heredocs,
          network: network as 'default' | 'none' | 'host' | undefined,
          security: security as 'sandbox' | 'insecure' | undefined,
          mounts: f.strings('mount'),
        };
      }
      case 'cmd':
      case 'entrypoint': {
        flags({});
        const kind = cmd === 'cmd' ? 'CMD' : 'ENTRYPOINT';
        return { kind, ...span, command: parseCommand(rest, kind) };
      }
      case 'env':
      case 'label': {
        flags({});
        const kind = cmd === 'env' ? 'ENV' : 'LABEL';
        return { kind, ...span, pairs: parseNameVal(rest, kind, this.escape) };
      }
      case 'maintainer':
        flags({});
        return { kind: 'MAINTAINER', ...span, maintainer: exactlyOne(rest, 'MAINTAINER') };
      case 'user':
        flags({});
        return { kind: 'USER', ...span, user: exactlyOne(rest, 'USER') };
      case 'workdir':
        flags({});
        return { kind: 'WORKDIR', ...span, path: exactlyOne(rest, 'WORKDIR') };
      case 'stopsignal':
        flags({});
        return { kind: 'STOPSIGNAL', ...span, signal: exactlyOne(rest, 'STOPSIGNAL') };
      case 'expose': {
        flags({});
        const ports = splitWhitespace(rest);
        if (ports.length === 0) throw new SyntaxFailure('EXPOSE requires at least one argument');
        return { kind: 'EXPOSE', ...span, ports: [...ports].sort() };
      }
      case 'volume': {
        flags({});
        const { args } = parseMaybeJsonList(rest);
        if (args.length === 0) throw new SyntaxFailure('VOLUME requires at least one argument');
        const paths = args.map((v) => v.trim());
        if (paths.some((p) => p === '')) throw new SyntaxFailure('VOLUME specified can not be an empty string');
        return { kind: 'VOLUME', ...span, paths };
      }
      case 'copy':
      case 'add':
        return this.copyInstruction(cmd, node, heredocs, span);
      case 'arg': {
        flags({});
        const words = parseWords(rest, this.escape);
        if (words.length === 0) throw new SyntaxFailure('ARG requires at least one argument');
        const args: ArgDeclaration[] = words.map((w) => {
          const eq = w.indexOf('=');
          if (eq < 0) return { key: w };
          if (eq === 0) throw new SyntaxFailure('ARG names can not be blank');
          return { key: w.slice(0, eq), value: w.slice(eq + 1) };
        });
        return { kind: 'ARG', ...span, args };
      }
      case 'onbuild': {
        flags({});
        if (!node.child) throw new SyntaxFailure('ONBUILD requires at least one argument');
        const triggerName = node.child.cmd.toUpperCase();
        if (triggerName === 'ONBUILD') throw new SyntaxFailure('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
        if (triggerName === 'MAINTAINER' || triggerName === 'FROM') {
          throw new SyntaxFailure(`${triggerName} isn't allowed as an ONBUILD trigger`);
        }
        const trigger = this.toInstruction(node.child, heredocs, span);
        let expression = node.line.replace(/^\s*ONBUILD\s*/i, '');
        for (const h of heredocs) expression += `\n${h.content}${h.name}`;
        return { kind: 'ONBUILD', ...span, trigger, expression };
      }
      case 'healthcheck':
        return { kind: 'HEALTHCHECK', ...span, health: parseHealthcheck(node) };
      case 'shell': {
        flags({});
        const json = parseJsonArray(rest);
        if (json === null) throw new SyntaxFailure('SHELL requires the arguments to be in JSON form');
        if (json.length === 0) throw new SyntaxFailure('SHELL requires at least one argument');
        return { kind: 'SHELL', ...span, shell: json };
      }
      default:
        throw new SyntaxFailure(`unknown instruction: ${cmd.toUpperCase()}`);
    }
  }

  private copyInstruction(cmd: 'copy' | 'add', node: RawNode, docs: Heredoc[], span: SourceSpan): CopyInstruction | AddInstruction {
    const name = cmd.toUpperCase() as 'COPY' | 'ADD';
    const f = parseFlags(
      node.flags,
      cmd === 'copy'
        ? { chown: 'string', chmod: 'string', from: 'string', link: 'bool', parents: 'bool', exclude: 'strings' }
        : { chown: 'string', chmod: 'string', link: 'bool', checksum: 'string', 'keep-git-dir': 'bool', exclude: 'strings' },
    );
    const { args, json } = parseMaybeJsonList(node.rest);
    if (args.length < 2) {
      throw new SyntaxFailure(`${name} requires at least two arguments, but only one was provided. Destination could not be determined`);
    }
    const dest = args[args.length - 1]!;
    const byName = new Map(docs.map((d) => [d.name, d]));
    const isHeredoc = (w: string) => !json && parseHeredocWord(w, () => undefined) !== null;
    if (isHeredoc(dest)) throw new SyntaxFailure(`${name} cannot accept a heredoc as a destination`);
    const sources: string[] = [];
    const heredocs: Heredoc[] = [];
    for (const src of args.slice(0, -1)) {
      const doc = json ? null : parseHeredocWord(src, () => undefined);
      if (doc) heredocs.push(byName.get(doc.name) ?? { ...doc });
      else sources.push(src);
    }
    const common = {
      ...span,
      sources,
      heredocs,
      dest,
      chown: f.string('chown'),
      chmod: f.string('chmod'),
      link: f.bool('link'),
      exclude: f.strings('exclude'),
      json,
    };
    if (cmd === 'copy') return { kind: 'COPY', ...common, from: f.string('from'), parents: f.bool('parents') };
    return { kind: 'ADD', ...common, checksum: f.string('checksum'), keepGitDir: f.has('keep-git-dir') ? f.bool('keep-git-dir') : undefined };
  }

  private checkStages(instructions: Instruction[]): void {
    if (instructions.length === 0) this.fail(Math.max(1, this.lines.length), 'file with no instructions');
    let sawFrom = false;
    for (const inst of instructions) {
      if (inst.kind === 'FROM') sawFrom = true;
      else if (!sawFrom && inst.kind !== 'ARG') {
        this.fail(inst.line, `${inst.kind} before the first FROM: only ARG may come before FROM`);
      }
    }
    if (!sawFrom) this.fail(instructions[0]!.line, 'no FROM instruction: a Dockerfile needs at least one stage');
  }
}

function continuationRegex(escape: EscapeChar): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

/** Splits `CMD --flags rest` (Docker's splitCommand); ONBUILD also parses its wrapped line. */
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

/** Leading `--name=value` words (quotes and `\` escapes removed from them); the rest of the line. */
function extractBuilderFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = pos < line.length ? line[pos]! : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (/\s/.test(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags };
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags };
        if (blankOK || word.length > 0) flags.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        pos++;
        word += line[pos];
        continue;
      }
      word += ch;
      continue;
    }
    // inside quotes
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += line[pos];
      continue;
    }
    word += ch;
  }
  return { rest: '', flags };
}

type FlagSpec = Record<string, 'string' | 'bool' | 'strings'>;

interface ParsedFlags {
  has(name: string): boolean;
  string(name: string): string | undefined;
  bool(name: string): boolean;
  strings(name: string): string[];
}

/** Docker's BFlags: `--name=value` strings, `--name[=true|false]` bools, repeatable lists. */
function parseFlags(raw: string[], spec: FlagSpec): ParsedFlags {
  const values = new Map<string, string | boolean | string[]>();
  for (const arg of raw) {
    if (!arg.startsWith('--')) throw new SyntaxFailure(`Arg should start with -- : ${arg}`);
    if (arg === '--') break;
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? '' : body.slice(eq + 1);
    const type = spec[name];
    if (!type) throw new SyntaxFailure(`Unknown flag: ${name}`);
    if (values.has(name) && type !== 'strings') throw new SyntaxFailure(`Duplicate flag specified: ${name}`);
    if (type === 'bool') {
      if (eq >= 0 && value === '') throw new SyntaxFailure(`Missing a value on flag: ${name}`);
      const lower = value.toLowerCase();
      if (lower !== '' && lower !== 'true' && lower !== 'false') {
        throw new SyntaxFailure(`Expecting boolean value for flag ${name}, not: ${value}`);
      }
      values.set(name, lower !== 'false');
    } else {
      if (eq < 0) throw new SyntaxFailure(`Missing a value on flag: ${name}`);
      if (type === 'string') values.set(name, value);
      else values.set(name, [...((values.get(name) as string[] | undefined) ?? []), value]);
    }
  }
  return {
    has: (n) => values.has(n),
    string: (n) => values.get(n) as string | undefined,
    bool: (n) => values.get(n) === true,
    strings: (n) => (values.get(n) as string[] | undefined) ?? [],
  };
}

const splitWhitespace = (rest: string): string[] => (rest === '' ? [] : rest.split(/[\t\v\f\r ]+/));

function exactlyOne(rest: string, name: string): string {
  if (rest === '') throw new SyntaxFailure(`${name} requires exactly one argument`);
  return rest;
}

const looksLikeJson = (rest: string): boolean => parseJsonArrayOrNull(rest) !== null;

/**
 * Docker's JSON form: the text (after leading whitespace) starts with `[` and its first JSON value
 * is an array; trailing text after that value is ignored as Go's decoder does. null when it is not
 * JSON (then it is shell form); an array holding a non-string is an error.
 */
function parseJsonArray(rest: string): string[] | null {
  const value = parseJsonArrayOrNull(rest);
  if (value === null) return null;
  if (!value.every((v): v is string => typeof v === 'string')) {
    throw new SyntaxFailure('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value;
}

function parseJsonArrayOrNull(rest: string): unknown[] | null {
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

function parseCommand(rest: string, name: string): Command {
  const json = parseJsonArray(rest);
  if (json !== null) return { form: 'exec', args: json };
  if (rest === '') throw new SyntaxFailure(`${name} requires at least one argument`);
  return { form: 'shell', script: rest };
}

function parseMaybeJsonList(rest: string): { args: string[]; json: boolean } {
  const json = parseJsonArray(rest);
  if (json !== null) return { args: json, json: true };
  return { args: splitWhitespace(rest), json: false };
}

/**
 * Docker's parseWords: splits on whitespace outside quotes, keeping quotes and escapes in the words
 * (the expansion step removes them later).
 */
export function parseWords(rest: string, escape: EscapeChar): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= chars.length; pos++) {
    const ch = pos < chars.length ? chars[pos]! : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (/\s/u.test(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/u.test(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        word += chars[pos];
        continue;
      }
      word += ch;
      continue;
    }
    // inside quotes: the escape character works except inside single quotes
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      pos++;
      word += chars[pos];
      continue;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `KEY value words` (old form) or `K=V K2="v 2" ...`. Values are unexpanded. */
function parseNameVal(rest: string, name: 'ENV' | 'LABEL', escape: EscapeChar): KeyValue[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) throw new SyntaxFailure(`${name} requires at least one argument`);
  let pairs: KeyValue[];
  if (!words[0]!.includes('=')) {
    const m = /[\t\v\f\r ]+/.exec(rest);
    if (!m) throw new SyntaxFailure(`${name} must have two arguments`);
    pairs = [{ key: rest.slice(0, m.index), value: rest.slice(m.index + m[0].length) }];
  } else {
    pairs = words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) throw new SyntaxFailure(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
      return { key: w.slice(0, eq), value: w.slice(eq + 1) };
    });
  }
  if (pairs.some((p) => p.key === '')) throw new SyntaxFailure(`${name} names can not be blank`);
  return pairs;
}

function parseHealthcheck(node: RawNode): HealthConfig {
  const rest = node.rest;
  const m = /\s/.exec(rest);
  const type = (m ? rest.slice(0, m.index) : rest).toUpperCase();
  const args = m ? rest.slice(m.index).replace(/^\s+/, '') : '';
  if (type === '') throw new SyntaxFailure('HEALTHCHECK requires at least one argument');
  const health: HealthConfig = { test: [], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    if (args !== '') throw new SyntaxFailure('HEALTHCHECK NONE takes no arguments');
    health.test = ['NONE'];
    return health;
  }
  const f = parseFlags(node.flags, {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  });
  if (type !== 'CMD') throw new SyntaxFailure(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  if (args === '') throw new SyntaxFailure('Missing command after HEALTHCHECK CMD');
  const command = parseCommand(args, 'HEALTHCHECK CMD');
  if (command.form === 'exec') {
    if (command.args.length === 0) throw new SyntaxFailure('Missing command after HEALTHCHECK CMD');
    health.test = ['CMD', ...command.args];
  } else {
    health.test = ['CMD-SHELL', command.script];
  }
  // BuildKit's parseOptInterval: empty or 0 mean "use the default" (0 in the config); otherwise at least 1ms
  const duration = (flag: string): number => {
    const raw = f.string(flag);
    if (raw === undefined || raw === '') return 0;
    const ns = parseGoDuration(raw);
    if (ns === null) throw new SyntaxFailure(`time: invalid duration "${raw}" for --${flag}`);
    if (ns === 0) return 0;
    if (ns < MINIMUM_DURATION) throw new SyntaxFailure(`Interval "${flag}" cannot be less than 1ms`);
    return ns;
  };
  health.interval = duration('interval');
  health.timeout = duration('timeout');
  health.startPeriod = duration('start-period');
  health.startInterval = duration('start-interval');
  // strconv.ParseInt(value, 10, 32); 0 means "use the default", a negative count is refused
  const retries = f.string('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) throw new SyntaxFailure(`strconv.ParseInt: parsing "${retries}": invalid syntax for --retries`);
    const n = Number(retries);
    if (n > 2 ** 31 - 1 || n < -(2 ** 31)) throw new SyntaxFailure(`strconv.ParseInt: parsing "${retries}": value out of range for --retries`);
    if (n < 0) throw new SyntaxFailure(`--retries cannot be negative (${n})`);
    health.retries = n || 0; // -0 is 0
  }
  return health;
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
