import assert from 'node:assert/strict';
import { chmod, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dockerignoreContext } from '../dockerfile/dockerfile-fixtures.js';
import { SourceTree } from './build-context.js';
import { RootfsSums } from './source-sums.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A temporary directory holding `files` (path -> content 0644, a link, or a directory). */
async function tree(files: Record<string, string | { symlink: string } | { hardlinkTo: string } | { dir: true }>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'shale-sums-'));
  dirs.push(root);
  for (const [path, f] of Object.entries(files)) {
    const host = join(root, path);
    await mkdir(dirname(host), { recursive: true });
    if (typeof f === 'string') {
      await writeFile(host, f);
      await chmod(host, 0o644);
    } else if ('symlink' in f) await symlink(f.symlink, host);
    else if ('hardlinkTo' in f) await link(join(root, f.hardlinkTo), host);
    else await mkdir(host, { recursive: true });
  }
  return root;
}

/** Directory modes as the measured contexts had them, whatever the umask. */
const fixModes = async (root: string, dirsOf: string[]) => {
  for (const d of dirsOf) await chmod(join(root, d), 0o755);
};

/** The name a COPY of `source` from the context records. */
async function contextName(root: string, source: string): Promise<string> {
  const ctx = await SourceTree.context(root);
  return ctx.sourceName(await ctx.resolve([source]));
}

describe('build context source names (Docker classic builder, measured)', () => {
  test('symlinks count as their targets, dangling ones as their path, a second hard-link name as a link header', async () => {
    const root = await tree({ 'tree/x': 'x\n', 'tree/xhard': { hardlinkTo: 'tree/x' }, 'tree/lnk': { symlink: 'x' }, 'tree/dangling': { symlink: '/nowhere' } });
    await fixModes(root, ['tree']);
    assert.equal(await contextName(root, 'tree'), 'dir:201e9bd83c973352d5a8daed5c5616ea10259b02ea241a004746db1f61d180c2');
    assert.equal(await contextName(root, 'tree/lnk'), 'file:c3c803ad4a098328049d2fe6a53a19648ba6b07b4f77d439d4599b54ed6c6508');
    assert.equal(await contextName(root, 'tree/x'), 'file:c3c803ad4a098328049d2fe6a53a19648ba6b07b4f77d439d4599b54ed6c6508');
    assert.equal(await contextName(root, 'tree/xhard'), 'file:3630f4914fa901140e430346a458580709b4ab83870b57d123d8a104470a46a8');
  });

  test('COPY . sums what the client sends (the .dockerignore too), not the root and not an ignored Dockerfile', async () => {
    const root = await tree({ ...dockerignoreContext, Dockerfile: 'FROM scratch\n' });
    await fixModes(root, ['logs', 'logs/keep', 'src', 'src/deep', 'node_modules', 'node_modules/pkg']);
    assert.equal(await contextName(root, '.'), 'dir:0784a2d4150544bd3894416bad96b1d25771c538649a475ae59954e40632cbdf');
    assert.equal(await contextName(root, 'logs'), 'dir:f115d2d148ad2fae4ae275fc87ec143e1ace23f4f48953f8b15e61423038e2dd');
  });
});

describe('stage source sums (COPY --from)', () => {
  const names = { user: (id: number) => (id === 0 ? 'root' : ''), group: (id: number) => (id === 0 ? 'root' : '') };

  test('a symlink counts as its target; a dangling one as the path it points to', { skip: process.getuid?.() !== 0 && 'needs root-owned files' }, async () => {
    const root = await tree({ 'out/artifact': 'built\n', 'out/link': { symlink: 'artifact' }, 'out/dang': { symlink: '/missing' } });
    await chmod(join(root, 'out/artifact'), 0o751);
    const sums = new RootfsSums(root, names);
    assert.equal(await sums.sum('out/link'), '2edcd1611d2714d069730d05bb47cec191ca6c1d03dbbb48c7960a7ee65fc035');
    assert.equal(await sums.sum('out/artifact'), '2edcd1611d2714d069730d05bb47cec191ca6c1d03dbbb48c7960a7ee65fc035');
    assert.equal(await sums.sum('out/dang'), 'missing');
  });
});
