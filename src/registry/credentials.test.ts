import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeCredentials } from './credentials.js';

test('removeCredentials: as docker logout, the host entries go, its credential helper erases, the rest stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-logout-'));
  const oldPath = process.env.PATH;
  t.after(() => {
    process.env.PATH = oldPath;
    rmSync(dir, { recursive: true, force: true });
  });
  // a helper speaking Docker's protocol: `erase` reads the server from stdin
  const erased = join(dir, 'erased');
  writeFileSync(join(dir, 'docker-credential-rec'), `#!/bin/sh\n[ "$1" = erase ] || exit 3\nread server\necho "$server" >> ${erased}\n`);
  chmodSync(join(dir, 'docker-credential-rec'), 0o755);
  process.env.PATH = `${dir}:${oldPath}`;
  const path = join(dir, 'config.json');
  const auth = (s: string) => ({ auth: Buffer.from(s).toString('base64') });
  writeFileSync(
    path,
    JSON.stringify({ credHelpers: { 'helped:1': 'rec' }, auths: { 'helped:1': {}, 'plain:1': auth('a:b'), 'https://old:1': auth('c:d'), 'keep:1': auth('e:f') }, detachKeys: 'ctrl-x' }),
  );
  assert.equal(await removeCredentials('helped:1', path), true);
  assert.equal(readFileSync(erased, 'utf8'), 'helped:1\n', 'the helper named for the host erased it');
  assert.equal(await removeCredentials('plain:1', path), true);
  assert.equal(await removeCredentials('old:1', path), true, 'an entry under https://HOST is the host too');
  assert.equal(readFileSync(erased, 'utf8'), 'helped:1\n', 'no helper for the others');
  const after = readFileSync(path, 'utf8');
  assert.deepEqual(JSON.parse(after), { credHelpers: { 'helped:1': 'rec' }, auths: { 'keep:1': auth('e:f') }, detachKeys: 'ctrl-x' });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(await removeCredentials('plain:1', path), false, 'not logged in');
  assert.equal(readFileSync(path, 'utf8'), after, 'not logged in: the file is not rewritten');
});
