/** A simple command of a shell script's top level, with the operator that follows it. */
export interface ShellCommand {
  /** The command as written. */
  text: string;
  /** Its words with quotes removed (expansions kept as written). */
  words: string[];
  /** `&&`, `||`, `;`, `&`, `|`, a newline, or '' after the last command. */
  next: string;
}

/**
 * Splits a POSIX shell script at its top-level operators (`&&`, `||`, `;`, `&`, `|`, newlines), leaving
 * quotes, `$( )`, backquotes, parentheses and braces intact. Returns undefined for a script it cannot
 * read with confidence (unbalanced quotes or brackets, here-documents, control flow keywords): callers
 * then leave that script alone.
 */
export function splitShellScript(script: string): ShellCommand[] | undefined {
  const commands: ShellCommand[] = [];
  let start = 0;
  let depth = 0;
  let words: string[] = [];
  let word: string | undefined;
  const endWord = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCommand = (end: number, next: string) => {
    endWord();
    const text = script.slice(start, end).trim();
    if (text !== '' || next !== '\n') commands.push({ text, words, next });
    words = [];
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i]!;
    if (c === '\\') {
      if (script[i + 1] === '\n') {
        i++;
        endWord();
        continue;
      }
      if (depth === 0) word = (word ?? '') + (script[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === "'") {
      const end = script.indexOf("'", i + 1);
      if (end < 0) return undefined;
      if (depth === 0) word = (word ?? '') + script.slice(i + 1, end);
      i = end;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let text = '';
      for (; j < script.length && script[j] !== '"'; j++) {
        if (script[j] === '\\' && j + 1 < script.length) text += script[++j];
        else text += script[j];
      }
      if (j >= script.length) return undefined;
      if (depth === 0) word = (word ?? '') + text;
      i = j;
      continue;
    }
    if (c === '`') {
      const end = script.indexOf('`', i + 1);
      if (end < 0) return undefined;
      if (depth === 0) word = (word ?? '') + script.slice(i, end + 1);
      i = end;
      continue;
    }
    if (c === '$' && script[i + 1] === '{' && depth === 0) {
      const close = script.indexOf('}', i);
      if (close < 0) return undefined;
      word = (word ?? '') + script.slice(i, close + 1);
      i = close;
      continue;
    }
    const groupOpen = c === '{' && word === undefined && /\s/.test(script[i + 1] ?? '');
    if (c === '(' || groupOpen) {
      if (depth === 0 && c === '(' && word?.endsWith('$')) word += '(…)';
      else if (depth === 0) endWord();
      depth++;
      continue;
    }
    if (c === ')' || (c === '}' && depth > 0 && /[\s;]/.test(script[i - 1] ?? ''))) {
      if (--depth < 0) return undefined;
      continue;
    }
    if (depth > 0) continue;
    if (c === '#' && word === undefined) {
      const end = script.indexOf('\n', i);
      i = end < 0 ? script.length : end - 1;
      continue;
    }
    if (c === '<' && script[i + 1] === '<') return undefined; // here-document
    const two = script.slice(i, i + 2);
    if (two === '&&' || two === '||') {
      endCommand(i, two);
      start = i + 2;
      i++;
      continue;
    }
    if (c === ';' || c === '&' || c === '|' || c === '\n') {
      endCommand(i, c);
      start = i + 1;
      continue;
    }
    if (/\s/.test(c)) {
      endWord();
      continue;
    }
    word = (word ?? '') + c;
  }
  if (depth !== 0) return undefined;
  endCommand(script.length, '');
  const keywords = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'function']);
  if (commands.some((c) => keywords.has(c.words[0] ?? ''))) return undefined;
  return commands.filter((c) => c.text !== '' || c.next === '');
}

/** Commands that change the shell's own state (directory, variables, options, traps) or end it. */
const STATEFUL = new Set(['cd', 'pushd', 'popd', 'export', 'unset', 'set', 'umask', 'alias', 'unalias', 'source', '.', 'exit', 'exec', 'trap', 'shopt', 'readonly', 'declare', 'typeset', 'local', 'eval', 'ulimit', 'hash', 'return']);

/** Whether running `commands` changes what later commands of the same shell see. */
export function changesShellState(commands: readonly ShellCommand[]): boolean {
  return commands.some((c) => {
    const first = c.words[0] ?? '';
    if (STATEFUL.has(first)) return true;
    return c.words.length > 0 && c.words.every((w) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w)); // VAR=value alone
  });
}

/** Whether the script is more than one `&&` chain (its status would not be what `X && script` needs). */
export function hasListOperators(commands: readonly ShellCommand[]): boolean {
  return commands.slice(0, -1).some((c) => c.next !== '&&' && c.next !== '|');
}

/** A word quoted for a POSIX shell so that it stays one literal word. */
export const shellQuote = (word: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`);
