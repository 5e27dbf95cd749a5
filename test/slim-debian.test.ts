/**
 * `shale slim --verify` on a realistic apt Dockerfile over a debootstrap Debian base: the rewrite chains
 * the RUNs and cleans apt's caches in the same RUN; both are built for real (Debian's mirror, host
 * network) and must be equivalent but for the caches, which are listed. Slow: its own file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeContext } from './support/build.js';
import { shaleJson } from './support/shale.js';
import { debianBaseStore } from './support/debian.js';


interface SlimJson {
  changes: { kind: string; lines: number[]; applied: boolean }[];
  rewritten: string;
  before: { sizeBytes: number; layers: number };
  after: { sizeBytes: number; layers: number };
  savedBytes: number;
  equivalent: boolean;
  verification: { removedCaches: string[]; volatile: string[]; differences: string[]; configDifferences: string[] };
}

test('slim --verify of an apt Dockerfile on Debian: chained, caches cleaned, equivalent, bytes saved', { timeout: 1_200_000 }, async (t) => {
  const base = debianBaseStore(t, 'shale-slim-deb');
  if (!base) return;
  const { work, root, name } = base;
  const ctx = writeContext(join(work, 'ctx'), {
    Dockerfile: `FROM ${name}:base
ENV DEBIAN_FRONTEND=noninteractive
# fetch the lists, then install
RUN apt-get update
RUN apt-get install -y --no-install-recommends curl
CMD ["curl", "--version"]
`,
  });
  const r = shaleJson<SlimJson>(['slim', '--verify', '-t', `${name}:slim`, ctx], { root, timeoutMs: 1_100_000 });
  assert.deepEqual(
    r.changes.map((c) => `${c.kind} ${c.lines.join(',')} ${c.applied}`),
    ['chain-runs 4,5 true', 'package-cleanup 4 true', 'cache-mount 4 false'],
  );
  assert.match(r.rewritten, /^RUN apt-get update \\\n && apt-get install -y --no-install-recommends curl \\\n && apt-get clean \\\n && rm -rf \/var\/lib\/apt\/lists\/\*$/m);
  assert.match(r.rewritten, /^# fetch the lists, then install$/m, 'the comment stays');
  assert.equal(r.equivalent, true, JSON.stringify(r.verification, null, 1));
  assert.deepEqual(r.verification.differences, []);
  assert.ok(r.verification.removedCaches.some((p) => p.startsWith('/var/lib/apt/lists/')), 'the apt lists are listed as left out');
  assert.ok(r.savedBytes > 10_000_000, `the lists and caches are tens of MB (saved ${r.savedBytes} B)`);
  assert.equal(r.before.sizeBytes - r.after.sizeBytes, r.savedBytes);
  assert.deepEqual([r.before.layers, r.after.layers], [3, 2]);
  t.diagnostic(`apt example: ${r.before.sizeBytes} B -> ${r.after.sizeBytes} B, saved ${r.savedBytes} B; caches left out: ${r.verification.removedCaches.length} paths; volatile: ${r.verification.volatile.join(' ')}`);
});
