import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { keepLoaderNeeds, KeptPaths, resolvePath } from './kept-paths.js';

function rootfs(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'shale-kept-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a path resolves through relative and absolute symlinks, every link and directory met, never above the root', async (t) => {
  const root = rootfs(t);
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'usr/lib/libx.so.1.2'), 'x');
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('libx.so.1.2', join(root, 'usr/lib/libx.so.1'));
  symlinkSync('/lib/libx.so.1', join(root, 'etc/alt'));
  symlinkSync('../../../../../etc/alt', join(root, 'usr/lib/up'));
  await Promise.all([
    resolvePath(root, '/etc/alt').then((r) => {
      assert.equal(r.end, '/usr/lib/libx.so.1.2');
      assert.deepEqual(r.met, ['/etc', '/etc/alt', '/lib', '/usr', '/usr/lib', '/usr/lib/libx.so.1', '/usr/lib/libx.so.1.2']);
    }),
    resolvePath(root, '/usr/lib/up').then((r) => assert.equal(r.end, '/usr/lib/libx.so.1.2', '.. stops at the root')),
    resolvePath(root, '/usr/lib/missing/deeper').then((r) => assert.deepEqual(r, { met: ['/usr', '/usr/lib'] })),
    resolvePath(root, '/etc/alt', false).then((r) => assert.equal(r.end, '/etc/alt')),
  ]);
});

test('the loader rule keeps ld.so and the needed libraries, found in LD_LIBRARY_PATH and the multiarch directory, recursively', async (t) => {
  const hostLs = '/bin/ls';
  const arch = '/usr/lib/x86_64-linux-gnu';
  if (process.arch !== 'x64' || !existsSync(`${arch}/libc.so.6`) || !existsSync('/usr/bin/readelf')) return t.skip('needs an x86-64 Debian host');
  const root = rootfs(t);
  // the host's ls with every library the host's loader would map for it (ldd's answer), laid out as Debian does
  const libs = execFileSync('ldd', [hostLs], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /=>\s+(\S+)/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  const put = (src: string, dst: string) => {
    mkdirSync(dirname(join(root, dst)), { recursive: true });
    copyFileSync(realpathSync(src), join(root, dst));
  };
  put(hostLs, '/usr/bin/ls');
  // libselinux only where LD_LIBRARY_PATH points
  const where = (l: string) => (l.includes('libselinux') ? '/opt/lib' : arch);
  for (const l of libs) put(l, `${where(l)}/${l.split('/').pop()}`);
  put('/lib64/ld-linux-x86-64.so.2', `${arch}/ld-linux-x86-64.so.2`);
  mkdirSync(join(root, 'lib64'));
  symlinkSync(`..${arch}/ld-linux-x86-64.so.2`, join(root, 'lib64/ld-linux-x86-64.so.2'));
  writeFileSync(join(root, 'usr/lib/x86_64-linux-gnu/unused.so'), 'not needed');
  const kept = new KeptPaths();
  kept.add('/usr/bin/ls', 'probe');
  await keepLoaderNeeds(root, kept, { libraryPath: ['/opt/lib'] });
  const loader = [...kept.reasons].filter(([, r]) => r.has('loader')).map(([p]) => p);
  for (const l of libs) assert.ok(loader.includes(`${where(l)}/${l.split('/').pop()}`), `${l} kept`);
  const withoutPath = new KeptPaths();
  withoutPath.add('/usr/bin/ls', 'probe');
  await keepLoaderNeeds(root, withoutPath);
  assert.ok(![...withoutPath.reasons.keys()].some((p) => p.startsWith('/opt/lib/')), 'not found without LD_LIBRARY_PATH');
  assert.ok(loader.includes('/lib64/ld-linux-x86-64.so.2') && loader.includes(`${arch}/ld-linux-x86-64.so.2`), 'the interpreter and its link');
  assert.ok(!kept.has(`${arch}/unused.so`));
});
