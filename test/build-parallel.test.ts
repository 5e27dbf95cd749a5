/**
 * Stages built at the same time: two independent stages really overlap (a RUN of one talks to a RUN of
 * the other over the host network, which works only while both run), the image equals the one built one
 * stage at a time (SHALE_BUILD_PARALLELISM=1), a stage the target does not need is not built, and a failing
 * stage stops the other (its RUN killed) leaving nothing behind; so does Ctrl-C.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { assertNoLeftovers, buildEvents, busyboxBase, processesWith, shaleBuild, writeContext, type BuildEvent } from './support/build.js';
import { assertCliError, shale, shaleOk, spawnShale, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';

interface Setup {
  work: string;
  root: string;
  base: string;
}

let shared: Setup | undefined;
// the shared store and base are removed when all the file's tests are done
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});
const file = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as Pick<TestContext, 'after'>;
/** One store with a busybox base for the whole file; null (skipped) without runc outside CI. */
function setup(t: TestContext): Setup | null {
  if (!requireTool(t, 'runc')) return null;
  if (!shared) {
    const work = tempDir(file);
    const root = tempStore(file);
    shared = { work, root, base: busyboxBase(file, work, root, `shale-par-${uniqueSuffix()}:base`).ref };
  }
  return shared;
}

const context = (s: Setup, name: string, dockerfile: string): string =>
  writeContext(join(s.work, `${name}-${uniqueSuffix()}`), { Dockerfile: dockerfile.replaceAll('{{base}}', s.base) });

/** The stage of each step number (from the `step` events). */
const stageOfStep = (events: BuildEvent[]) => new Map(events.filter((e) => e.type === 'step').map((e) => [e.step!, String(e.stage)]));

test('two independent stages run at the same time: a RUN of each meets the other over the host network', { timeout: 120_000 }, (t) => {
  const s = setup(t);
  if (!s) return;
  const port = 20000 + Math.floor(Math.random() * 20000);
  // "listen" can only finish when "dial" connects while it runs, and the other way round; listen's stdin stays
  // open until it has received, as nc may quit at the end of its input before reading the other side
  const ctx = context(
    s,
    'meet',
    `FROM {{base}} AS listen
RUN { echo from-listen; for i in $(busybox seq 600); do [ -s /got-by-listen ] && break; sleep 0.1; done; } | timeout 60 busybox nc -l -p ${port} > /got-by-listen
FROM {{base}} AS dial
RUN for i in $(busybox seq 600); do echo from-dial | busybox nc -w 5 127.0.0.1 ${port} > /got-by-dial && exit 0; sleep 0.1; done; exit 1
FROM {{base}}
COPY --from=listen /got-by-listen /
COPY --from=dial /got-by-dial /
`,
  );
  const { id, result } = shaleBuild(s.root, ctx, ['--progress', 'json']);
  const files = shaleOk(['run', '--rm', id, 'cat', '/got-by-listen', '/got-by-dial'], { root: s.root }).stdout;
  assert.equal(files, 'from-dial\nfrom-listen\n', 'each RUN received what the other sent: they ran at the same time');
  const stages = stageOfStep(buildEvents(result.stderr));
  assert.deepEqual([...new Set(stages.values())].sort(), ['listen', 'dial', 'stage-2'].sort());
  assert.equal(new Set(stages.keys()).size, stages.size, 'step numbers are unique');
});

test('parallel stages give the image one-by-one stages give; an unneeded stage is not built; a bad SHALE_BUILD_PARALLELISM is refused', { timeout: 120_000 }, (t) => {
  const s = setup(t);
  if (!s) return;
  const ctx = context(
    s,
    'same',
    `FROM {{base}} AS one
ENV WHO=one
RUN echo $WHO > /one && sleep 1
WORKDIR /w1
FROM {{base}} AS unused
RUN echo never-built && exit 7
FROM {{base}} AS two
RUN echo two > /two && sleep 1
COPY Dockerfile /df
FROM one
COPY --from=two /two /df /
RUN cat /one /two > /both
`,
  );
  // SOURCE_DATE_EPOCH: the same steps give the same bytes and times whenever they run
  const env = { SOURCE_DATE_EPOCH: '1700000000' };
  const build = (parallelism?: string) => {
    const r = shale(['build', '--no-cache', '--progress', 'json', ctx], { root: s.root, env: { ...env, ...(parallelism ? { SHALE_BUILD_PARALLELISM: parallelism } : {}) } });
    assert.equal(r.status, 0, r.stderr);
    return { id: r.stdout.trim().split('\n').pop()!, events: buildEvents(r.stderr) };
  };
  const parallel = build();
  const sequential = build('1');
  assert.match(parallel.id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(parallel.id, sequential.id, 'the same image ID built with parallel stages and one stage at a time');
  for (const { events } of [parallel, sequential]) {
    assert.ok(![...stageOfStep(events).values()].includes('unused'), 'the stage the target does not need is not built');
    assert.ok(!events.some((e) => e.type === 'output' && String(e.data).includes('never-built')));
  }
  // one at a time: every event of a stage comes before any event of the next one
  const stages = stageOfStep(sequential.events);
  const order = sequential.events.filter((e) => e.step !== undefined).map((e) => stages.get(e.step!));
  const runs = order.filter((st, i) => st !== order[i - 1]);
  assert.deepEqual(runs, ['one', 'two', 'stage-3'], `stages one by one in plan order: ${order.join(' ')}`);

  for (const bad of ['0', 'many']) {
    const r = shale(['build', ctx], { root: s.root, env: { SHALE_BUILD_PARALLELISM: bad } });
    const line = assertCliError(r, `SHALE_BUILD_PARALLELISM=${bad}`);
    assert.match(line, new RegExp(`^error: SHALE_BUILD_PARALLELISM="${bad}" is not valid`));
  }
});

test('a failing stage stops the other (its RUN killed); the failing step is the error; nothing is left behind', { timeout: 120_000 }, (t) => {
  const s = setup(t);
  if (!s) return;
  const marker = `slow-${uniqueSuffix()}`;
  const ctx = context(
    s,
    'fail',
    `FROM {{base}} AS slow
RUN echo ${marker} && sleep 45 && echo ${marker}-done
FROM {{base}} AS bad
RUN echo hello > /hello
RUN sleep 1 && exit 3
FROM {{base}}
COPY --from=slow /bin/sh /x
COPY --from=bad /hello /
`,
  );
  const started = Date.now();
  const r = shale(['build', '--progress', 'json', ctx], { root: s.root, timeoutMs: 100_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trimEnd().split('\n').pop(), 'error: Dockerfile:5: RUN /bin/sh -c sleep 1 && exit 3 returned a non-zero code: 3');
  assert.ok(Date.now() - started < 40_000, `the build ended long before the slow stage's sleep 45 (${Date.now() - started} ms)`);
  const events = buildEvents(r.stderr);
  assert.ok(events.some((e) => e.type === 'output' && String(e.data).includes(marker)), 'the slow stage had started');
  assert.ok(!events.some((e) => e.type === 'output' && String(e.data).includes(`${marker}-done`)), 'and never finished');
  assert.deepEqual(events.filter((e) => e.type === 'failed').length, 1, 'one failed step: the stopped one is not reported as failing');
  assert.deepEqual(processesWith(marker), [], 'the slow RUN is gone');
  assertNoLeftovers(s.root, 'after a failed parallel build');
});

test('Ctrl-C during two parallel RUN steps stops both and leaves nothing behind', { timeout: 120_000 }, async (t) => {
  const s = setup(t);
  if (!s) return;
  const marker = `sigint-${uniqueSuffix()}`;
  const ctx = context(
    s,
    'sigint',
    `FROM {{base}} AS a
RUN echo ${marker}-a && sleep 45
FROM {{base}} AS b
RUN echo ${marker}-b && sleep 45
FROM {{base}}
COPY --from=a /bin/sh /a
COPY --from=b /bin/sh /b
`,
  );
  const child = spawnShale(['build', '--progress', 'json', ctx], { root: s.root });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`both RUN steps did not start in 60 s:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes(`${marker}-a`) && stderr.includes(`${marker}-b`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('close', () => reject(new Error(`shale build ended before both RUN steps started:\n${stderr}`)));
  });
  const sent = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  assert.ok(Date.now() - sent < 15_000, `stopped within 15 s of SIGINT (${Date.now() - sent} ms)`);
  assert.equal(code, 2, stderr);
  assert.match(stderr.trimEnd().split('\n').pop()!, /^error: .*interrupted/);
  assert.deepEqual(processesWith(marker), [], 'both RUN processes are gone');
  assertNoLeftovers(s.root, 'after Ctrl-C');
});
