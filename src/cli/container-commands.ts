import { isShaleError, ShaleError } from '../internal/errors.js';
import { explainUnmappedOwner } from '../internal/user-namespace.js';
import type { ImageConfig } from '../oci/index.js';
import { applyInstruction, parseTrigger, startStage, toDockerConfigJson, type ContainerConfig } from '../dockerfile/index.js';
import { Containers, type RunOptions } from '../runtime/index.js';
import { humanSize, renderTable, timeAgo } from '../report/index.js';
import type { Store } from '../store/index.js';
import type { CommandResult } from './output.js';

/** Exit status of `run` when shale itself failed (Docker's 125), as opposed to the command's own status. */
import { RUN_FAILED } from './output.js';

export { RUN_FAILED };

/**
 * `run`'s error for the CLI, with Docker's exit statuses: 126 and 127 (the command cannot be invoked, is not
 * found) stay as they are; every other failure of run itself (image not found, bad flags, runtime) is 125,
 * so a script can tell it from the command's own exit status.
 */
export function asRunFailure(error: unknown): ShaleError {
  const e = explainUnmappedOwner(error);
  if (isShaleError(e)) {
    if (e.exitCode === 126 || e.exitCode === 127 || e.exitCode === RUN_FAILED) return e;
    return new ShaleError(e.code, e.message, { hint: e.hint, cause: e, exitCode: RUN_FAILED });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new ShaleError('COMMAND_FAILED', message, { cause: e, exitCode: RUN_FAILED });
}

export async function runCommand(store: Store, options: RunOptions): Promise<CommandResult> {
  const containers = new Containers(store);
  await containers.reconcile();
  const { id, exitCode } = await containers.run(options);
  if (options.detach) return { data: { id }, text: id };
  return { data: { id, exitCode }, exitCode };
}

export async function psCommand(store: Store, all: boolean): Promise<CommandResult> {
  const containers = new Containers(store);
  await containers.reconcile();
  const rows = [];
  for (const r of await containers.records.list()) {
    const status = containers.records.status(r);
    if (!all && status !== 'running') continue;
    rows.push({
      id: r.id,
      name: r.name,
      image: r.image,
      command: r.args.join(' '),
      status: status === 'exited' ? `Exited (${r.exitCode ?? 'unknown'})` : status === 'running' ? 'Up' : 'Created',
      created: r.created,
      size: await containers.size(r),
    });
  }
  const text = renderTable(
    ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'SIZE', 'NAMES'],
    rows.map((r) => [r.id.slice(0, 12), r.image, JSON.stringify(r.command.length > 20 ? `${r.command.slice(0, 19)}…` : r.command), timeAgo(r.created), r.status, humanSize(r.size), r.name]),
  );
  return { data: rows, text };
}

export async function diffCommand(store: Store, ref: string): Promise<CommandResult> {
  const changes = await new Containers(store).diff(ref);
  return { data: changes, text: changes.map((c) => `${c.kind} ${c.path}`).join('\n') };
}

/** Docker's `commit --change` instructions, applied to the new image's config. */
const COMMIT_CHANGES = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

function configEditor(changes: string[]): ((c: ImageConfig) => ImageConfig) | undefined {
  if (changes.length === 0) return undefined;
  const instructions = changes.map((text) => {
    const inst = parseTrigger(text, { file: '--change' });
    if (!COMMIT_CHANGES.has(inst.kind)) throw new ShaleError('INVALID_ARGUMENT', `--change: ${inst.kind} is not supported (use one of ${[...COMMIT_CHANGES].join(', ')})`);
    return inst;
  });
  return (config) => {
    let { state } = startStage(config.config as ContainerConfig);
    state = { ...state, config: { ...state.config, OnBuild: (config.config as ContainerConfig | undefined)?.OnBuild ?? null } };
    for (const inst of instructions) state = applyInstruction(state, inst, { file: '--change' }).state;
    return { ...config, config: toDockerConfigJson(state.config) as Record<string, unknown> };
  };
}

export async function commitCommand(store: Store, ref: string, target: string | undefined, options: { message?: string; author?: string; change: string[] }): Promise<CommandResult> {
  const { id } = await new Containers(store).commit(ref, target, { message: options.message, author: options.author, edit: configEditor(options.change) });
  return { data: { id }, text: id };
}

export async function stopCommand(store: Store, refs: string[], timeout: number): Promise<CommandResult> {
  const stopped = [];
  for (const ref of refs) stopped.push((await new Containers(store).stop(ref, timeout)).id);
  return { data: stopped, text: refs.join('\n') };
}

export async function rmCommand(store: Store, refs: string[], force: boolean): Promise<CommandResult> {
  const removed = [];
  for (const ref of refs) removed.push(await new Containers(store).remove(ref, force));
  return { data: removed, text: refs.join('\n') };
}

export async function logsCommand(store: Store, ref: string): Promise<CommandResult> {
  const log = await new Containers(store).logs(ref);
  process.stdout.write(log);
  return { data: { bytes: log.length } };
}
