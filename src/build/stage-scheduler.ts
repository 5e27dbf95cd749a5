import { availableParallelism } from 'node:os';
import { ShaleError } from '../internal/errors.js';

/** A unit of work that may wait for others: a build stage, by its index and the stages it needs. */
export interface ScheduledTask {
  index: number;
  /** Indexes of the tasks that must have finished before this one starts. */
  dependencies: readonly number[];
}

export interface ScheduleOptions {
  /** At most this many tasks run at once (an integer >= 1). */
  parallelism: number;
  /**
   * Aborted by the scheduler on the first failure, with that error as reason; aborted from outside (Ctrl-C)
   * it stops the build too. The tasks watch its signal to stop what they run.
   */
  controller: AbortController;
}

/**
 * Runs tasks that depend on each other: each starts once every task it depends on has finished, at most
 * `parallelism` at a time, and among the ready ones the first in `tasks` order (so parallelism 1 runs them
 * exactly in that order). After the first failure, or once the controller is aborted, nothing new starts:
 * the controller is aborted, the running tasks are waited for (each cleans up what it made), then the first
 * error is thrown, or the abort reason when no task failed. A dependency that is not a task, or a cycle,
 * is an error (a bug of the caller) before anything starts.
 */
export async function runScheduled<T extends ScheduledTask>(tasks: readonly T[], run: (task: T) => Promise<void>, options: ScheduleOptions): Promise<void> {
  const { parallelism, controller } = options;
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new Error(`parallelism must be an integer >= 1, not ${parallelism}`);
  checkGraph(tasks);
  const done = new Set<number>();
  const started = new Set<number>();
  const running = new Set<Promise<void>>();
  let failure: { e: unknown } | undefined;
  const ready = () => tasks.find((t) => !started.has(t.index) && t.dependencies.every((d) => done.has(d)));

  for (;;) {
    while (!controller.signal.aborted && running.size < parallelism) {
      const task = ready();
      if (!task) break;
      started.add(task.index);
      const p: Promise<void> = run(task).then(
        () => {
          done.add(task.index);
        },
        (e: unknown) => {
          if (!failure) {
            failure = { e };
            controller.abort(e);
          }
        },
      );
      running.add(p);
      void p.finally(() => running.delete(p));
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  if (failure) throw failure.e;
  if (controller.signal.aborted) throw controller.signal.reason;
}

/** Refuses a dependency on an unknown task and a cycle (the scheduler would wait forever). */
function checkGraph(tasks: readonly ScheduledTask[]): void {
  const byIndex = new Map(tasks.map((t) => [t.index, t]));
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (t: ScheduledTask): void => {
    if (state.get(t.index) === 'done') return;
    if (state.get(t.index) === 'visiting') throw new Error(`task ${t.index} is part of a dependency cycle`);
    state.set(t.index, 'visiting');
    for (const d of t.dependencies) {
      const dep = byIndex.get(d);
      if (!dep) throw new Error(`task ${t.index} depends on ${d}, which is not scheduled`);
      visit(dep);
    }
    state.set(t.index, 'done');
  };
  for (const t of tasks) visit(t);
}

/** The environment variable that bounds how many stages a build runs at once. */
export const PARALLELISM_ENV = 'SHALE_BUILD_PARALLELISM';

/**
 * How many stages a build runs at once: `SHALE_BUILD_PARALLELISM` (an integer >= 1; 1 builds one stage at
 * a time), else the number of CPUs, at least 2 (stages mostly wait on their RUN commands and the disk).
 */
export function stageParallelism(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[PARALLELISM_ENV];
  if (raw === undefined || raw === '') return Math.max(2, availableParallelism());
  if (!/^[1-9]\d{0,5}$/.test(raw)) {
    throw new ShaleError('INVALID_ARGUMENT', `${PARALLELISM_ENV}="${raw}" is not valid: give the number of stages to build at once (an integer >= 1)`);
  }
  return Number(raw);
}
