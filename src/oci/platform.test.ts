import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isShaleError } from '../internal/errors.js';
import { formatPlatform, parsePlatform, platformMatches } from './platform.js';

test('parsePlatform normalizes as containerd does', () => {
  const f = (s: string) => formatPlatform(parsePlatform(s));
  assert.equal(f('linux/arm64/v8'), 'linux/arm64');
  assert.equal(f('linux/aarch64'), 'linux/arm64');
  assert.equal(f('Linux/x86_64'), 'linux/amd64');
  assert.equal(f('linux/arm'), 'linux/arm/v7');
  assert.equal(f('linux/armhf'), 'linux/arm/v7');
  assert.equal(f('linux/arm/6'), 'linux/arm/v6');
  assert.equal(f('linux/i386'), 'linux/386');
  assert.equal(f('windows/amd64'), 'windows/amd64');
  assert.equal(f('arm64'), 'linux/arm64');
  assert.equal(f('linux'), 'linux/amd64');
});

test('parsePlatform refuses malformed text, naming it', () => {
  for (const bad of ['', 'linux/', 'a/b/c/d', 'nosuch', 'linux/arm 64']) {
    assert.throws(() => parsePlatform(bad), (e) => isShaleError(e, 'INVALID_ARGUMENT') && e.message.includes(`"${bad}"`), bad);
  }
});

test('platformMatches compares normalized os/arch, and variants when both name one', () => {
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  assert.ok(platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'x86_64' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'amd64' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm64' }, {}));
});
