/**
 * `shale slim`: the rewritten Dockerfile (a diff by default, `-o FILE`), and `--verify`, which builds the
 * original and the rewrite with shale's builder and compares the final trees and configs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { busyboxBase, writeContext } from './support/build.js';
import { assertCliError, shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { FIFTY_MIB, SEED } from './support/seed.js';


interface SlimJson {
  changes: { kind: string; lines: number[]; applied: boolean }[];
  rewritten: string;
  before?: { sizeBytes: number; layers: number };
  after?: { sizeBytes: number; layers: number };
  savedBytes?: number;
  equivalent?: boolean;
  verification?: { removedCaches: string[]; volatile: string[]; differences: string[]; configDifferences: string[] };
}

test('slim on the seed: the chained form, proven equivalent, 52,428,800 bytes saved', { timeout: 300_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const name = `shale-slim-${uniqueSuffix()}`;
  const base = busyboxBase(t, work, root, `${name}:base`);
  const split = join(SEED, 'Dockerfile.split');

  await t.test('without flags: a unified diff on stdout, the Dockerfile untouched, nothing built', () => {
    const before = readFileSync(split, 'utf8');
    const r = shaleOk(['slim', '-f', split, SEED], { root });
    assert.match(r.stdout, /^-RUN dd if=\/dev\/zero of=50M.file bs=1M count=50$/m);
    assert.match(r.stdout, /^-RUN rm -rf 50M.file$/m);
    assert.match(r.stdout, /^\+RUN dd if=\/dev\/zero of=50M.file bs=1M count=50 \\$/m);
    assert.match(r.stdout, /^\+ && rm -rf 50M.file$/m);
    assert.match(r.stdout, /applied +line 5, 6: chained/);
    assert.equal(readFileSync(split, 'utf8'), before);
    assert.deepEqual(shaleJson<unknown[]>(['images'], { root }).length, 1, 'only the base: nothing was built');
  });

  await t.test('-o writes the chained Dockerfile, comments and other lines as they were', () => {
    const out = join(work, 'Dockerfile.slim');
    shaleOk(['slim', '-f', split, '-o', out, SEED], { root });
    const chained = readFileSync(join(SEED, 'Dockerfile.chained'), 'utf8');
    assert.equal(readFileSync(out, 'utf8'), chained.replace(' && rm', ' \\\n && rm'));
  });

  await t.test('--verify: both built, equivalent, the saved bytes exact, the rewrite tagged', () => {
    const r = shaleJson<SlimJson>(['slim', '-f', split, '--verify', '--build-arg', `BASE=${base.ref}`, '-t', `${name}:slim`, SEED], { root, timeoutMs: 240_000 });
    assert.equal(r.equivalent, true, JSON.stringify(r.verification));
    assert.equal(r.savedBytes, FIFTY_MIB);
    assert.deepEqual([r.before!.layers, r.after!.layers], [4, 3]);
    assert.deepEqual(r.verification, { equivalent: true, removedCaches: [], volatile: [], cacheDifferences: [], differences: [], configDifferences: [] });
    const tagged = shaleJson<{ repository: string; tag: string; size: number }[]>(['images'], { root }).find((i) => i.tag === 'slim');
    assert.equal(tagged?.size, r.after!.sizeBytes);
  });
});

test('slim --verify: COPY --chmod/--chown instead of a RUN chmod, a moved rm, exec form; and a real difference exits 1', { timeout: 300_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const name = `shale-slim2-${uniqueSuffix()}`;
  const base = busyboxBase(t, work, root, `${name}:base`);
  const ctx = writeContext(join(work, 'ctx'), {
    Dockerfile: `FROM ${base.ref}
# the app
COPY app.sh /usr/local/bin/app.sh
RUN chmod +x /usr/local/bin/app.sh
WORKDIR /srv
COPY data data
RUN chown -R 1000:1000 data
RUN ["sh", "-c", "dd if=/dev/zero of=/srv/big bs=1k count=300"]
LABEL stage=one
RUN rm -f /srv/big
RUN cd /srv && echo made > here
RUN echo "$PWD" > /srv/where
`,
    'app.sh': { content: '#!/bin/sh\necho app\n', mode: 0o644 },
    'data/a': 'a\n',
    'data/sub/b': 'b\n',
  });
  const r = shaleJson<SlimJson>(['slim', '--verify', ctx], { root, timeoutMs: 240_000 });
  assert.deepEqual(
    r.changes.map((c) => `${c.kind} ${c.lines.join(',')}`),
    ['copy-chmod 3,4', 'copy-chmod 6,7', 'move-rm 8,10', 'chain-runs 11,12'],
  );
  assert.match(r.rewritten, /^COPY --chmod=755 app.sh \/usr\/local\/bin\/app.sh$/m);
  assert.match(r.rewritten, /^COPY --chown=1000:1000 data data$/m);
  assert.match(r.rewritten, /^RUN sh -c 'dd if=\/dev\/zero of=\/srv\/big bs=1k count=300' \\\n && rm -f \/srv\/big\nLABEL stage=one\nRUN \( cd \/srv && echo made > here \) \\\n && echo "\$PWD" > \/srv\/where$/m);
  assert.equal(r.equivalent, true, JSON.stringify(r.verification));
  assert.equal(r.savedBytes, 300 * 1024 + 19 + 2 * 2, 'the dd file, and the second copies of app.sh (19 B) and data (2 files of 2 B)');
  assert.deepEqual([r.before!.layers, r.after!.layers], [10, 6]);

  // a step whose output differs on every build: the verification must see it
  const ctx2 = writeContext(join(work, 'ctx2'), { Dockerfile: `FROM ${base.ref}\nRUN cat /proc/sys/kernel/random/uuid > /stamp\nRUN echo x > /x\n` });
  const bad = shale(['slim', '--verify', ctx2], { root, timeoutMs: 240_000 });
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stdout, /DIFFERENT changed \(content\): \/stamp/);
  assert.match(bad.stdout, /equivalent: NO/);
});

test('slim: a missing Dockerfile and a bad one are errors (exit 2)', (t) => {
  const work = tempDir(t);
  const root = tempStore(t);
  assertCliError(shale(['slim', join(work, 'nowhere')], { root }), 'Dockerfile');
  const ctx = writeContext(join(work, 'bad'), { Dockerfile: 'FROM b\nRUN\n' });
  const r = shale(['slim', ctx], { root });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: .*Dockerfile:2/m);
});
