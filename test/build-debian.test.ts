/**
 * A realistic build on a debootstrap Debian base (bookworm minbase, cached by bench/debian-rootfs.sh
 * under bench/.cache): `RUN apt-get update` + `RUN apt-get install -y --no-install-recommends curl`,
 * built by shale and by Docker's classic builder from the same base; the final trees must be the same.
 * Slow (the base is ~200 MB; each side fetches from Debian's mirror): kept in its own file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONTAINER_PATHS, dockerBuild, dockerExport, dockerSavedImage, historyLines, loadIntoDocker, shaleBuild, writeContext } from './support/build.js';
import { dockerCleanup, dockerImageId, dockerOk } from './support/docker.js';
import { shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { CACHED_DEBIAN_ROOTFS, debianRootfsTar, TIME_DEPENDENT, TIMESTAMPED_LOGS } from './support/debian.js';
import { compareTrees, extractTar, treeOf } from './support/tree-compare.js';


const maskTimes = (text: string) => text.replace(/\d{4}-\d{2}-\d{2} +\d{2}:\d{2}:\d{2}/g, 'DATE');

const DOCKERFILE = (base: string) => `FROM ${base}
RUN apt-get update
RUN apt-get install -y --no-install-recommends curl
`;

test('a Debian build (apt-get update, apt-get install curl) by shale and by docker build gives the same tree', { timeout: 900_000 }, async (t) => {
  if (!requireTool(t, 'docker') || !requireTool(t, 'runc')) return;
  const rootfsTar = debianRootfsTar(t);
  if (!rootfsTar) return;
  assert.equal(rootfsTar, CACHED_DEBIAN_ROOTFS);

  const work = tempDir(t);
  const root = tempStore(t);
  const name = `shale-debian-${uniqueSuffix()}`;
  const cleanup = dockerCleanup(t);

  const baseId = shaleOk(['import', rootfsTar, `${name}:base`], { root, timeoutMs: 300_000 }).stdout.trim();
  const baseArchive = join(work, 'base.tar');
  shaleOk(['save', '-o', baseArchive, `${name}:base`], { root, timeoutMs: 300_000 });
  cleanup.image(`${name}:base`);
  dockerOk(['load', '-i', baseArchive]);
  assert.equal(dockerImageId(`${name}:base`), baseId);

  const ctx = writeContext(join(work, 'ctx'), { Dockerfile: DOCKERFILE(`${name}:base`) });
  const { id, result } = shaleBuild(root, ctx, ['--progress', 'plain', '-t', `${name}:shale`], 600_000, { classic: true });
  assert.match(result.stderr, /Setting up curl /, 'apt installed curl in the shale build');
  // shale's RUN uses the host network by default; the classic builder's default bridge may not resolve
  // names here, so Docker gets the host network too (the same setup on both sides)
  dockerBuild(t, ctx, `${name}:docker`, ['--network', 'host'], 600_000);
  loadIntoDocker(t, root, id, `${name}:shale-loaded`, work);

  const mine = await dockerSavedImage(`${name}:shale-loaded`);
  const theirs = await dockerSavedImage(`${name}:docker`);
  assert.equal(mine.layers.length, 3, 'base, apt-get update, apt-get install');
  assert.equal(theirs.layers.length, 3);
  assert.deepEqual(historyLines(mine.config), historyLines(theirs.config));
  // the same entries in each layer (the time-dependent files' sizes masked)
  const timeDependent = new Set([...TIME_DEPENDENT, ...TIMESTAMPED_LOGS]);
  const masked = (layer: string[]) => layer.map((l) => (timeDependent.has(l.split(' ')[4]!) ? l.replace(/^(f \S+ \S+) \d+ /, '$1 SIZE ') : l));
  assert.deepEqual(mine.layers.map(masked), theirs.layers.map(masked), 'the same layers, entry by entry');

  // both final trees through `docker export` of a container, so the init-layer paths are the same
  const trees: ReturnType<typeof treeOf>[] = [];
  const dirs: string[] = [];
  for (const [i, ref] of [`${name}:shale-loaded`, `${name}:docker`].entries()) {
    const tar = dockerExport(t, ref, join(work, `export-${i}.tar`));
    const dir = join(work, `tree-${i}`);
    mkdirSync(dir);
    extractTar(tar, dir);
    trees.push(treeOf(dir));
    dirs.push(dir);
  }
  const [a, b] = trees as [ReturnType<typeof treeOf>, ReturnType<typeof treeOf>];
  const diffs = compareTrees(a, b, { ignore: CONTAINER_PATHS, names: ['shale', 'docker'] });
  const allowed = diffs.filter((d) => isContentDiff(d, timeDependent));
  const unexpected = diffs.filter((d) => !isContentDiff(d, timeDependent));
  assert.deepEqual(unexpected, [], `the final trees differ beyond the time-dependent files:\n${unexpected.join('\n')}`);
  t.diagnostic(`time-dependent differences (${allowed.length}): ${allowed.map((d) => d.split(':')[0]).join(', ') || 'none'}`);
  for (const log of TIMESTAMPED_LOGS) {
    const [x, y] = dirs.map((d) => maskTimes(readFileSync(join(d, log), 'utf8')));
    assert.equal(x, y, `${log} is the same but for its timestamps`);
  }

  // the build did what it says
  assert.ok(a.has('usr/bin/curl'), 'curl is installed');
  assert.ok([...a.keys()].some((p) => /^var\/lib\/apt\/lists\/.*_Packages$/.test(p)), 'apt-get update fetched package lists');
  const version = dockerOk(['run', '--rm', `${name}:shale-loaded`, 'curl', '--version']);
  assert.match(version, /^curl \d/);
  assert.equal(version, dockerOk(['run', '--rm', `${name}:docker`, 'curl', '--version']));
});

/** A difference line of `compareTrees` about a listed file's bytes only (size or sha256). */
function isContentDiff(line: string, paths: Set<string>): boolean {
  const m = /^(.*): (size|sha256) /.exec(line);
  return m !== null && paths.has(m[1]!);
}
