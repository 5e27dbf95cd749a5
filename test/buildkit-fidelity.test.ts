/**
 * Fidelity against Docker 26 with BuildKit, one test per directory of test/fixtures/modern/ (see
 * support/buildkit-fidelity.ts): the same final root filesystem, the same layers entry by entry, the same
 * history (created_by, empty_layer, comment) and config. The bases are made once; builds of several
 * cases overlap (bounded).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireDocker26, docker26Cleanup, docker26Ok } from './support/docker26.js';
import { rmSync } from 'node:fs';
import { compareImages, dockerBuildCase, makeFidelityBases, readCases, saveShaleImage, shaleBuildCase } from './support/buildkit-fidelity.js';
import { tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { lastLine } from './support/build.js';

// MODERN_CASES=a,b runs only those cases (while working on them)
const only = process.env.MODERN_CASES?.split(',').filter(Boolean);
const all = readCases();
const cases = only ? all.filter((c) => only.includes(c.name)) : all;

test('the modern fidelity suite has its cases', () => {
  assert.ok(all.length >= 25, `${all.length} cases in test/fixtures/modern`);
  assert.deepEqual(only?.filter((n) => !all.some((c) => c.name === n)) ?? [], [], 'MODERN_CASES names cases that exist');
});

test('shale build matches docker buildx build (Docker 26)', { concurrency: 2, timeout: 1_800_000 }, async (t) => {
  if (!requireTool(t, 'runc')) return;
  const d = requireDocker26(t);
  if (!d) return;
  const work = tempDir(t, 'shale-modern-');
  const root = tempStore(t);
  makeFidelityBases(t, d, work, root);
  const cleanup = docker26Cleanup(t, d);
  const suffix = uniqueSuffix();

  const runs = cases.map((c) => {
    const note = [c.nondeterministic && `nondeterministic: ${c.nondeterministic}`, c.skipDocker && `Docker 26 cannot build it: ${c.skipDocker}`].filter(Boolean).join('; ');
    return t.test(`${c.name}${note ? ` (${note})` : ''}`, async () => {
      const shaleTag = `modern-${c.name}-shale:${suffix}`;
      const dockerTag = `modern-${c.name}-docker:${suffix}`;
      const [s, b] = await Promise.all([shaleBuildCase(root, c, shaleTag), c.skipDocker ? undefined : dockerBuildCase(d, c, dockerTag)]);
      assert.equal(s.status, 0, `shale build ${c.args.join(' ')} -> ${s.status}\n${s.stderr}`);
      assert.match(lastLine(s.stdout), /^sha256:[0-9a-f]{64}$/);
      if (!b) return;
      cleanup(dockerTag);
      assert.equal(b.status, 0, `docker buildx build ${c.args.join(' ')} -> ${b.status}\n${b.stderr}`);
      // shale's image goes into Docker 26 too, so both are read the same way
      const archive = `${work}/${c.name}.tar`;
      await saveShaleImage(root, shaleTag, archive);
      cleanup(shaleTag);
      docker26Ok(d, ['load', '-i', archive]);
      rmSync(archive, { force: true });
      const diffs = await compareImages(d, work, shaleTag, dockerTag, c);
      assert.deepEqual(diffs, [], `${c.name}: shale and Docker 26 differ:\n${diffs.join('\n')}`);
    });
  });
  await Promise.all(runs);
});
