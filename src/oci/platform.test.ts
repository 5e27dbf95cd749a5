import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isShaleError } from '../internal/errors.js';
import type { Index } from './schemas.js';
import { assertImagePlatform, formatPlatform, parsePlatform, platformMatches, selectPlatform } from './platform.js';

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

test('selectPlatform picks the wanted platform, skips attestations, and names what the index has', () => {
  const d = (os: string, architecture: string, variant?: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${(os + architecture + (variant ?? '')).padEnd(64, '0').slice(0, 64).replace(/[^a-f0-9]/g, 'a')}` as `sha256:${string}`, size: 1, platform: { os, architecture, variant } });
  const index: Index = { schemaVersion: 2, manifests: [d('linux', 'amd64'), d('linux', 'arm64', 'v8'), d('unknown', 'unknown')] };
  assert.equal(selectPlatform(index, 'linux/arm64/v8', 'index').platform?.architecture, 'arm64');
  assert.equal(selectPlatform(index, 'linux/amd64', 'index').platform?.architecture, 'amd64');
  assert.throws(() => selectPlatform(index, 'linux/s390x', 'index'), (e: unknown) => isShaleError(e, 'NOT_FOUND') && /linux\/amd64, linux\/arm64\/v8/.test(e.message));
});

test('selectPlatform: an empty index is corrupt; without a platform the only real image is taken', () => {
  assert.throws(() => selectPlatform({ schemaVersion: 2, manifests: [] }, undefined, 'index X'), (e: unknown) => isShaleError(e, 'CORRUPT_INPUT') && /index X lists no manifests/.test(e.message));
  const only = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'b'.repeat(64)}` as `sha256:${string}`, size: 1, platform: { os: 'linux', architecture: 's390x' } };
  assert.equal(selectPlatform({ schemaVersion: 2, manifests: [only] }, undefined, 'index'), only);
});

test('assertImagePlatform refuses a single image of another platform, as docker pull --platform does', () => {
  assert.doesNotThrow(() => assertImagePlatform({ os: 'linux', architecture: 'amd64' }, 'linux/x86_64', 'image a'));
  assert.doesNotThrow(() => assertImagePlatform({ os: 'linux', architecture: 'amd64' }, undefined, 'image a'));
  assert.doesNotThrow(() => assertImagePlatform({}, 'linux/arm64', 'image a'));
  assert.throws(
    () => assertImagePlatform({ os: 'linux', architecture: 'amd64' }, 'linux/arm64', 'image a'),
    (e: unknown) => isShaleError(e, 'NOT_FOUND') && e.message === 'image a does not match the specified platform: wanted linux/arm64, actual: linux/amd64',
  );
});
