/**
 * The one reader of RUN scripts, for lint and slim alike: splits a POSIX shell script into its simple
 * commands (at `&&`, `||`, `;`, `|`, `&`, newlines and parentheses) with their words (quotes removed,
 * `$...` left as written) and redirections, and into the list items of its top level (what slim chains).
 * It is not a shell: it never expands, never runs anything, and reads compound commands (`if`, `for`,
 * `{ ...; }`) only as far as the simple commands inside them. What it cannot read with confidence
 * (unbalanced quotes or brackets, here-documents, control-flow keywords) it says so in `certain`.
 */

/** A redirection of a simple command: `>` `>>` `&>` `<` `<<` ... and its target word. */
export interface Redirect {
  op: string;
  /** The file descriptor written before the operator (`2>`), or undefined. */
  fd?: number;
  target: string;
}

/** One simple command: its words after leading assignments and keywords, and its redirections. */
export interface SimpleCommand {
  /** `NAME=value` words before the command name. */
  assignments: string[];
  /** The command name and its arguments; empty for a bare assignment or redirection. */
  argv: string[];
  redirects: Redirect[];
  /** The words as written (quotes removed), keywords, assignments and wrappers (`sudo`, `exec`) included. */
  words?: string[];
  /** When it runs in a subshell `( ... )`: that subshell's number (1, 2, ... in source order). What it does to the shell's state ends there. */
  subshell?: number;
}

/** A part of the script's top level between two operators (a simple command or a group) and the operator after it. */
export interface ScriptItem {
  /** The item as written. */
  text: string;
  /** The simple commands inside it, in source order. */
  commands: SimpleCommand[];
  /** `(` for a subshell group, `{` for a brace group, undefined otherwise. */
  group?: '(' | '{';
  /** `&&`, `||`, `;`, `&`, `|`, a newline, or '' after the last item. */
  next: string;
}

/** A script as read: every simple command, the top-level items, and whether the reading is certain. */
export interface ShellScript {
  commands: SimpleCommand[];
  items: ScriptItem[];
  /** False for unbalanced quotes or brackets, here-documents or control-flow keywords. */
  certain: boolean;
}

const OPERATORS = ['&&', '||', ';;', '|&', ';', '&', '|', '(', ')', '\n'];
const REDIRECTS = ['&>>', '<<<', '<<-', '>>', '>|', '&>', '>&', '<&', '<<', '<>', '>', '<'];
/** Words that open or continue a compound command and stand before a simple one. */
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'esac', '!', 'time']);
/** Keywords of control flow: a script with them is read only as far as its simple commands. */
const CONTROL = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'function', 'select']);
/** Command prefixes that run the rest of the words as the command. */
const WRAPPERS = new Set(['sudo', 'exec', 'command', 'nohup', 'env', 'xargs', 'nice', 'stdbuf']);

interface Token {
  kind: 'word' | 'op' | 'redirect';
  text: string;
  /** Source offsets of the token. */
  start: number;
  end: number;
  /** For a word: true when no part of it was quoted or escaped (only such a word is a keyword). */
  plain?: boolean;
  fd?: number;
}

/** Splits a script into words, operators and redirections; `certain` turns false on what it cannot balance. */
function tokenize(script: string): { tokens: Token[]; certain: boolean } {
  const tokens: Token[] = [];
  let certain = true;
  let word: string | null = null;
  let wordStart = 0;
  let plain = true;
  const append = (text: string, at: number, quoted: boolean) => {
    if (word === null) {
      word = '';
      wordStart = at;
      plain = true;
    }
    word += text;
    if (quoted) plain = false;
  };
  const flush = (end: number) => {
    if (word !== null) tokens.push({ kind: 'word', text: word, start: wordStart, end, plain });
    word = null;
  };
  /** The index of `ch` closing what opens at `open`; unbalanced: the end of the script, and uncertain. */
  const closeAt = (found: number): number => {
    if (found < 0 || found >= script.length) {
      certain = false;
      return script.length - 1;
    }
    return found;
  };
  let i = 0;
  while (i < script.length) {
    const ch = script[i]!;
    if (ch === '\\') {
      if (script[i + 1] === '\n') {
        i += 2; // a line continuation: removed, the word goes on
        continue;
      }
      append(script[i + 1] ?? '', i, true);
      i += 2;
      continue;
    }
    if (ch === "'") {
      const end = closeAt(script.indexOf("'", i + 1));
      append(script.slice(i + 1, end), i, true);
      i = end + 1;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let text = '';
      while (j < script.length && script[j] !== '"') {
        if (script[j] === '\\' && j + 1 < script.length && '$`"\\\n'.includes(script[j + 1]!)) {
          if (script[j + 1] !== '\n') text += script[j + 1];
          j += 2;
        } else if (script[j] === '$' && script[j + 1] === '(') {
          const end = closeAt(matchParen(script, j + 1));
          text += script.slice(j, end + 1);
          j = end + 1;
        } else {
          text += script[j];
          j += 1;
        }
      }
      if (j >= script.length) certain = false;
      append(text, i, true);
      i = j + 1;
      continue;
    }
    if (ch === '$' && (script[i + 1] === '(' || script[i + 1] === '{')) {
      const end = closeAt(script[i + 1] === '(' ? matchParen(script, i + 1) : script.indexOf('}', i + 1));
      append(script.slice(i, end + 1), i, true);
      i = end + 1;
      continue;
    }
    if (ch === '`') {
      const end = closeAt(script.indexOf('`', i + 1));
      append(script.slice(i, end + 1), i, true);
      i = end + 1;
      continue;
    }
    if (ch === '#' && word === null) {
      while (i < script.length && script[i] !== '\n') i += 1;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      flush(i);
      i += 1;
      continue;
    }
    const redirect = REDIRECTS.find((r) => script.startsWith(r, i));
    if (redirect) {
      // A word of digits right before the operator is its file descriptor (`2>`).
      let fd: number | undefined;
      let start = i;
      if (word !== null && plain && /^\d+$/.test(word)) {
        fd = Number(word);
        start = wordStart;
        word = null;
      } else {
        flush(i);
      }
      if (redirect === '<<' || redirect === '<<-') certain = false; // a here-document
      tokens.push({ kind: 'redirect', text: redirect, fd, start, end: i + redirect.length });
      i += redirect.length;
      continue;
    }
    const op = OPERATORS.find((o) => script.startsWith(o, i));
    if (op) {
      flush(i);
      tokens.push({ kind: 'op', text: op, start: i, end: i + op.length });
      i += op.length;
      continue;
    }
    append(ch, i, false);
    i += 1;
  }
  flush(script.length);
  return { tokens, certain };
}

/** Index of the `)` matching the `(` at `open` (nested parentheses counted, quotes skipped); -1 when none. */
function matchParen(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\') j += 1;
    else if (c === "'" || c === '"') {
      j = s.indexOf(c, j + 1);
      if (j < 0) return -1;
    } else if (c === '(') depth += 1;
    else if (c === ')' && --depth === 0) return j;
  }
  return -1;
}

const isAssignment = (w: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w);

/** Drops keywords, assignments and wrapper commands (`sudo`, `env K=V`) before the command name. */
function simplify(words: string[], redirects: Redirect[], subshell: number | undefined): SimpleCommand | null {
  const assignments: string[] = [];
  let i = 0;
  while (i < words.length) {
    const w = words[i]!;
    if (KEYWORDS.has(w)) i += 1;
    else if (isAssignment(w)) assignments.push(words[i++]!);
    else if (WRAPPERS.has(w)) {
      i += 1;
      while (i < words.length && words[i]!.startsWith('-')) i += 1;
    } else break;
  }
  const argv = words.slice(i);
  // `for x in a b` and `case x in` name no command.
  if (argv[0] === 'for' || argv[0] === 'case' || argv[0] === 'select') return null;
  if (argv.length === 0 && redirects.length === 0 && assignments.length === 0) return null;
  return { assignments, argv, redirects, words, ...(subshell !== undefined ? { subshell } : {}) };
}

/** Reads a script: its simple commands (nested ones included) and the items of its top level. */
export function readShellScript(script: string): ShellScript {
  const { tokens, certain: balanced } = tokenize(script);
  let certain = balanced;
  const commands: SimpleCommand[] = [];
  const items: ScriptItem[] = [];
  const groups: ('(' | '{')[] = [];
  /** The numbers of the open subshells, innermost last. */
  const subshells: number[] = [];
  let subshellCount = 0;
  let words: string[] = [];
  let redirects: Redirect[] = [];
  let item: { start: number; end: number; commands: SimpleCommand[]; group?: '(' | '{' } | undefined;
  const touch = (t: Token) => {
    item ??= { start: t.start, end: t.end, commands: [] };
    item.end = t.end;
  };
  const endCommand = () => {
    const c = simplify(words, redirects, subshells[subshells.length - 1]);
    if (c) {
      commands.push(c);
      item?.commands.push(c);
    }
    words = [];
    redirects = [];
  };
  const endItem = (next: string) => {
    endCommand();
    if (item) items.push({ text: script.slice(item.start, item.end), commands: item.commands, ...(item.group ? { group: item.group } : {}), next });
    item = undefined;
  };
  const open = (t: Token, kind: '(' | '{') => {
    const first = item === undefined;
    touch(t);
    if (first && groups.length === 0) item!.group = kind;
    groups.push(kind);
    if (kind === '(') subshells.push(++subshellCount);
  };
  const close = (t: Token, kind: '(' | '{') => {
    endCommand();
    touch(t);
    if (groups.pop() !== kind) certain = false;
    if (kind === '(') subshells.pop();
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const atCommandStart = words.length === 0 && redirects.length === 0;
    if (t.kind === 'op') {
      if (t.text === ';;') certain = false; // a case branch: its commands still end here
      if (t.text === '(') {
        if (!atCommandStart) certain = false; // `name() ...`: a function definition
        open(t, '(');
      } else if (t.text === ')' && groups[groups.length - 1] !== '(') {
        // a case pattern (`debian)`, `*)`): its words are no command
        certain = false;
        words = [];
        redirects = [];
        touch(t);
      } else if (t.text === ')') close(t, '(');
      else if (groups.length > 0) {
        endCommand();
        touch(t);
      } else endItem(t.text === '|&' ? '|' : t.text);
      continue;
    }
    if (t.kind === 'redirect') {
      touch(t);
      const next = tokens[i + 1];
      if (next?.kind === 'word') {
        redirects.push({ op: t.text, fd: t.fd, target: next.text });
        touch(next);
        i += 1;
      }
      continue;
    }
    const keyword = t.plain === true && redirects.length === 0 && words.every((w) => KEYWORDS.has(w));
    if (keyword && t.text === '{') {
      open(t, '{');
      continue;
    }
    if (keyword && t.text === '}' && groups[groups.length - 1] === '{') {
      close(t, '{');
      continue;
    }
    if (keyword && CONTROL.has(t.text)) certain = false;
    touch(t);
    words.push(t.text);
  }
  endItem('');
  if (groups.length > 0) certain = false;
  return { commands, items, certain };
}

/** The simple commands of a shell script, in source order. */
export const parseShellCommands = (script: string): SimpleCommand[] => readShellScript(script).commands;

/** The command's name without its directory (`/usr/bin/apt-get` -> `apt-get`). */
export const commandName = (c: SimpleCommand): string => (c.argv[0] ?? '').replace(/^.*\//, '');

/**
 * The first operand of a command (its subcommand, as `install` in `apt-get -y install x`): the
 * first argument that is not an option nor the value of an option listed in `valued`.
 */
export function subcommandOf(c: SimpleCommand, valued: readonly string[] = []): { name: string; index: number } | undefined {
  for (let i = 1; i < c.argv.length; i++) {
    const a = c.argv[i]!;
    if (valued.includes(a)) {
      i += 1;
      continue;
    }
    if (a.startsWith('-')) continue;
    return { name: a, index: i };
  }
  return undefined;
}

/** The operands after position `from`: arguments that are neither options nor values of `valued` options. */
export function operandsOf(c: SimpleCommand, from: number, valued: readonly string[] = []): string[] {
  const out: string[] = [];
  let optionsDone = false;
  for (let i = from; i < c.argv.length; i++) {
    const a = c.argv[i]!;
    if (!optionsDone && a === '--') {
      optionsDone = true;
      continue;
    }
    if (!optionsDone && valued.includes(a)) {
      i += 1;
      continue;
    }
    if (!optionsDone && a.startsWith('-') && a !== '-') continue;
    out.push(a);
  }
  return out;
}

/** True when the command has the flag: a long option (`--no-cache`, `--no-cache=x`) or a short one, also inside a group (`-xzf`). */
export function hasFlag(c: SimpleCommand, ...flags: string[]): boolean {
  return c.argv.slice(1).some((a) =>
    flags.some((f) => {
      if (f.startsWith('--')) return a === f || a.startsWith(`${f}=`);
      return a === f || (/^-[A-Za-z]+$/.test(a) && f.length === 2 && a.includes(f[1]!));
    }),
  );
}
