/** What a command hands back to the CLI: data for JSON, and text for people. */
export interface CommandResult {
  data: unknown;
  /** Human rendering; when absent, nothing is printed unless JSON was asked for. */
  text?: string;
  /** Exit status when not 0 (1 = a check failed). */
  exitCode?: number;
  /** Already written where the user asked (`-o FILE`): print nothing. */
  written?: boolean;
}

export type OutputFormat = 'table' | 'json';

export function printResult(result: CommandResult, format: OutputFormat): void {
  if (result.written) return;
  if (format === 'json') process.stdout.write(`${JSON.stringify(result.data, null, 2)}\n`);
  else if (result.text) process.stdout.write(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
}

/** The exit status of `run`'s own failures (bad flags too), as Docker's: apart from the command's statuses. */
export const RUN_FAILED = 125;
