/**
 * A small reader of RUN scripts for linting: splits a POSIX shell script into its simple commands
 * (at `&&`, `||`, `;`, `|`, `&`, newlines and parentheses) with their words (quotes removed, `$...`
 * left as written) and redirections. It is not a shell: it never expands, never runs anything, and
 * reads compound commands (`if`, `for`, `{ ...; }`) only as far as the simple commands inside them.
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
}

const OPERATORS = ['&&', '||', ';;', '|&', ';', '&', '|', '(', ')', '\n'];
const REDIRECTS = ['&>>', '<<<', '<<-', '>>', '>|', '&>', '>&', '<&', '<<', '<>', '>', '<'];
/** Words that open or continue a compound command and stand before a simple one. */
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'time']);
/** Command prefixes that run the rest of the words as the command. */
const WRAPPERS = new Set(['sudo', 'exec', 'command', 'nohup', 'env', 'xargs', 'nice', 'stdbuf']);

type Token = { kind: 'word'; text: string } | { kind: 'op'; text: string } | { kind: 'redirect'; text: string; fd?: number };

/** Splits a script into words, operators and redirections. Heredoc bodies are not in RUN scripts. */
function tokenize(script: string): Token[] {
  const tokens: Token[] = [];
  let word: string | null = null;
  const flush = () => {
    if (word !== null) tokens.push({ kind: 'word', text: word });
    word = null;
  };
  let i = 0;
  while (i < script.length) {
    const ch = script[i]!;
    if (ch === '\\') {
      if (script[i + 1] === '\n') {
        i += 2;
        continue;
      }
      word = (word ?? '') + (script[i + 1] ?? '');
      i += 2;
      continue;
    }
    if (ch === "'") {
      const end = script.indexOf("'", i + 1);
      const stop = end < 0 ? script.length : end;
      word = (word ?? '') + script.slice(i + 1, stop);
      i = stop + 1;
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
          const end = matchParen(script, j + 1);
          text += script.slice(j, end + 1);
          j = end + 1;
        } else {
          text += script[j];
          j += 1;
        }
      }
      word = (word ?? '') + text;
      i = j + 1;
      continue;
    }
    if (ch === '$' && (script[i + 1] === '(' || script[i + 1] === '{')) {
      const end = script[i + 1] === '(' ? matchParen(script, i + 1) : closing(script, i + 1, '}');
      word = (word ?? '') + script.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (ch === '`') {
      const end = closing(script, i, '`');
      word = (word ?? '') + script.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (ch === '#' && word === null) {
      while (i < script.length && script[i] !== '\n') i += 1;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      flush();
      i += 1;
      continue;
    }
    const redirect = REDIRECTS.find((r) => script.startsWith(r, i));
    if (redirect) {
      // A word of digits right before the operator is its file descriptor (`2>`).
      let fd: number | undefined;
      if (word !== null && /^\d+$/.test(word)) {
        fd = Number(word);
        word = null;
      } else {
        flush();
      }
      tokens.push({ kind: 'redirect', text: redirect, fd });
      i += redirect.length;
      continue;
    }
    const op = OPERATORS.find((o) => script.startsWith(o, i));
    if (op) {
      flush();
      tokens.push({ kind: 'op', text: op });
      i += op.length;
      continue;
    }
    word = (word ?? '') + ch;
    i += 1;
  }
  flush();
  return tokens;
}

/** Index of the `)` matching the `(` at `open` (nested parentheses counted, quotes skipped). */
function matchParen(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\') j += 1;
    else if (c === "'") j = closing(s, j, "'");
    else if (c === '(') depth += 1;
    else if (c === ')' && --depth === 0) return j;
  }
  return s.length - 1;
}

function closing(s: string, open: number, ch: string): number {
  const end = s.indexOf(ch, open + 1);
  return end < 0 ? s.length - 1 : end;
}

const isAssignment = (w: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w);

/** Drops keywords, assignments and wrapper commands (`sudo`, `env K=V`) before the command name. */
function simplify(words: string[], redirects: Redirect[]): SimpleCommand | null {
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
  return { assignments, argv, redirects };
}

/** The simple commands of a shell script, in source order. */
export function parseShellCommands(script: string): SimpleCommand[] {
  const commands: SimpleCommand[] = [];
  let words: string[] = [];
  let redirects: Redirect[] = [];
  const end = () => {
    const c = simplify(words, redirects);
    if (c) commands.push(c);
    words = [];
    redirects = [];
  };
  const tokens = tokenize(script);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'op') end();
    else if (t.kind === 'redirect') {
      const next = tokens[i + 1];
      if (next?.kind === 'word') {
        redirects.push({ op: t.text, fd: t.fd, target: next.text });
        i += 1;
      }
    } else words.push(t.text);
  }
  end();
  return commands;
}

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
