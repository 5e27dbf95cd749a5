/**
 * What slim needs to chain RUN scripts, read with the same reader lint uses (shell-commands.ts): the
 * script's top-level items, whether running it changes the shell's own state, whether it is more
 * than one `&&` chain, and quoting a word for the shell.
 */
import { readShellScript, type ScriptItem } from './shell-commands.js';

/** A top-level item of a script (a simple command or a group) with the operator that follows it. */
export type ShellCommand = ScriptItem;

/**
 * Splits a POSIX shell script at its top-level operators (`&&`, `||`, `;`, `&`, `|`, newlines). Returns
 * undefined for a script the reader cannot read with confidence (unbalanced quotes or brackets,
 * here-documents, control-flow keywords): callers then leave that script alone.
 */
export function splitShellScript(script: string): ShellCommand[] | undefined {
  const read = readShellScript(script);
  return read.certain ? read.items : undefined;
}

/** Commands that change the shell's own state (directory, variables, options, traps) or end it. */
const STATEFUL = new Set(['cd', 'pushd', 'popd', 'export', 'unset', 'set', 'umask', 'alias', 'unalias', 'source', '.', 'exit', 'exec', 'trap', 'shopt', 'readonly', 'declare', 'typeset', 'local', 'eval', 'ulimit', 'hash', 'return']);

/**
 * Whether running `items` changes what later commands of the same shell see: a stateful builtin or a
 * bare `VAR=value` outside a subshell (a brace group `{ cd x; }` runs in the same shell).
 */
export function changesShellState(items: readonly ShellCommand[]): boolean {
  return items.some((item) =>
    item.commands.some((c) => {
      if (c.subshell) return false;
      const first = (c.words ?? c.argv).find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
      if (first === undefined) return c.assignments.length > 0; // VAR=value alone
      return STATEFUL.has(first);
    }),
  );
}

/** Whether the script is more than one `&&` chain (its status would not be what `X && script` needs). */
export function hasListOperators(items: readonly ShellCommand[]): boolean {
  return items.slice(0, -1).some((c) => c.next !== '&&' && c.next !== '|');
}

/** A word quoted for a POSIX shell so that it stays one literal word. */
export const shellQuote = (word: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`);
