/** The stage scheduler: dependencies first, a bounded number at a time, the first failure stops the rest. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PARALLELISM_ENV, runScheduled, stageParallelism, type ScheduledTask } from './stage-scheduler.js';

/** A task the test finishes by hand: `release(i)` ends task i, `fail(i, e)` fails it. */
function harness(tasks: ScheduledTask[], parallelism: number) {
  const log: string[] = [];
  const gates = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  const controller = new AbortController();
  let running = 0;
  let maxRunning = 0;
  const started = new Set<number>();
  const whenStarted = new Map<number, () => void>();
  const done = runScheduled(
    tasks,
    (t) =>
      new Promise<void>((resolve, reject) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        log.push(`start ${t.index}`);
        started.add(t.index);
        whenStarted.get(t.index)?.();
        const end = () => {
          running--;
          log.push(`end ${t.index}`);
        };
        gates.set(t.index, {
          resolve: () => (end(), resolve()),
          reject: (e) => (end(), reject(e)),
        });
        // a task stopped by the controller ends with its own error, as a build step does
        controller.signal.addEventListener('abort', () => gates.get(t.index)?.reject(new Error(`stopped ${t.index}`)), { once: true });
      }),
    { parallelism, controller },
  );
  done.catch(() => undefined); // asserted later; not an unhandled rejection meanwhile
  const tick = () => new Promise((r) => setImmediate(r));
  return {
    log,
    done,
    controller,
    maxRunning: () => maxRunning,
    started: () => [...started].sort(),
    async release(i: number) {
      gates.get(i)!.resolve();
      gates.delete(i);
      await tick();
    },
    async fail(i: number, e: unknown) {
      gates.get(i)!.reject(e);
      gates.delete(i);
      await tick();
    },
    tick,
  };
}

// 0 and 1 are independent; 2 needs both; 3 needs 0 (FROM / COPY --from as the plan gives them)
const diamond: ScheduledTask[] = [
  { index: 0, dependencies: [] },
  { index: 1, dependencies: [] },
  { index: 3, dependencies: [0] },
  { index: 2, dependencies: [0, 1] },
];

test('independent tasks start together; a task starts only once all it depends on have finished', async () => {
  const h = harness(diamond, 4);
  await h.tick();
  assert.deepEqual(h.started(), [0, 1], 'both independent tasks run at once');
  await h.release(1);
  assert.deepEqual(h.started(), [0, 1], 'task 2 still waits for 0');
  await h.release(0);
  assert.deepEqual(h.started(), [0, 1, 2, 3], 'both dependants of 0 start when it ends');
  await h.release(3);
  await h.release(2);
  await h.done;
  assert.equal(h.maxRunning(), 2);
});

test('parallelism bounds the tasks running at once; 1 runs them one by one in the given order', async () => {
  const two = harness([0, 1, 2].map((index) => ({ index, dependencies: [] })), 2);
  await two.tick();
  assert.deepEqual(two.started(), [0, 1]);
  await two.release(0);
  assert.deepEqual(two.started(), [0, 1, 2]);
  await two.release(1);
  await two.release(2);
  await two.done;
  assert.equal(two.maxRunning(), 2);

  const one = harness(diamond, 1);
  for (const i of [0, 1, 3, 2]) {
    await one.tick();
    await one.release(i);
  }
  await one.done;
  assert.deepEqual(one.log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 3', 'end 3', 'start 2', 'end 2'], 'the order of the list, each after the one before');
});

test('the first failure aborts the controller, starts nothing more, waits for the running tasks and is the error thrown', async () => {
  const h = harness(diamond, 4);
  await h.tick();
  const boom = new Error('step 4 failed');
  await h.fail(1, boom);
  assert.equal(h.controller.signal.aborted, true);
  assert.equal(h.controller.signal.reason, boom);
  await assert.rejects(h.done, (e) => e === boom, 'the first error, not the stopped task\'s');
  assert.deepEqual(h.log, ['start 0', 'start 1', 'end 1', 'end 0'], 'task 0 was stopped and had ended before the scheduler returned; 2 and 3 never started');
});

test('an abort from outside (Ctrl-C) stops the tasks; with no task error the abort reason is thrown', async () => {
  const h = harness(diamond, 4);
  await h.tick();
  const interrupted = new Error('build interrupted');
  h.controller.abort(interrupted);
  await assert.rejects(h.done, (e) => (e as Error).message === 'stopped 0' || e === interrupted);

  // every running task finished anyway: nothing more starts, the reason is thrown
  const controller = new AbortController();
  const ran: number[] = [];
  const p = runScheduled(diamond, async (t) => {
    ran.push(t.index);
    controller.abort(interrupted);
  }, { parallelism: 1, controller });
  await assert.rejects(p, (e) => e === interrupted);
  assert.deepEqual(ran, [0]);
});

test('a dependency that is not scheduled, a cycle, or a bad bound is refused before anything runs', async () => {
  const never = async () => assert.fail('nothing runs');
  const controller = new AbortController();
  await assert.rejects(runScheduled([{ index: 0, dependencies: [5] }], never, { parallelism: 2, controller }), /depends on 5, which is not scheduled/);
  await assert.rejects(
    runScheduled([{ index: 0, dependencies: [1] }, { index: 1, dependencies: [0] }], never, { parallelism: 2, controller }),
    /cycle/,
  );
  await assert.rejects(runScheduled([], never, { parallelism: 0, controller }), /parallelism must be an integer >= 1/);
  await runScheduled([], never, { parallelism: 1, controller });
});

test(`${PARALLELISM_ENV}: a positive integer, else the CPU count (at least 2); anything else is a one-line error`, () => {
  assert.equal(stageParallelism({ [PARALLELISM_ENV]: '1' }), 1);
  assert.equal(stageParallelism({ [PARALLELISM_ENV]: '8' }), 8);
  assert.ok(stageParallelism({}) >= 2);
  assert.ok(stageParallelism({ [PARALLELISM_ENV]: '' }) >= 2);
  for (const bad of ['0', '-1', '1.5', 'two', ' 2', '02']) {
    assert.throws(() => stageParallelism({ [PARALLELISM_ENV]: bad }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.equal(e.message, `${PARALLELISM_ENV}="${bad}" is not valid: give the number of stages to build at once (an integer >= 1)`);
      return true;
    });
  }
});
