import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { readElfInfo } from './elf-info.js';

/** readelf's view of a file (binutils): interpreter, needed libraries, rpath and runpath. */
function readelf(path: string) {
  const dynamic = execFileSync('readelf', ['-d', path], { encoding: 'utf8' });
  const program = execFileSync('readelf', ['-l', path], { encoding: 'utf8' });
  const list = (tag: string) => [...dynamic.matchAll(new RegExp(`\\(${tag}\\)\\s+\\S+ \\S+: \\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]!);
  return {
    interpreter: /Requesting program interpreter: ([^\]]+)\]/.exec(program)?.[1],
    needed: list('NEEDED'),
    rpath: list('RPATH').flatMap((p) => p.split(':')),
    runpath: list('RUNPATH').flatMap((p) => p.split(':')),
  };
}

test('ELF facts read as readelf reads them, for real executables of this machine', async (t) => {
  const files = [process.execPath, '/bin/ls', '/bin/sh', '/bin/busybox', '/usr/bin/strace'].filter((f) => existsSync(f));
  if (files.length === 0 || !existsSync('/usr/bin/readelf')) return t.skip('no readelf or no files to read');
  for (const f of files) {
    const info = await readElfInfo(f);
    assert.ok(info, `${f} is ELF`);
    assert.deepEqual({ interpreter: info.interpreter, needed: info.needed, rpath: info.rpath, runpath: info.runpath }, readelf(f), f);
  }
});

test('a file that is not ELF gives nothing', async () => {
  assert.equal(await readElfInfo(new URL(import.meta.url).pathname), undefined);
});
