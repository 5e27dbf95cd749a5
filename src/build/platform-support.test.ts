import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBinfmtEntry, platformSupport } from './platform-support.js';

// the registration Debian's qemu-user-static makes, as /proc/sys/fs/binfmt_misc/qemu-aarch64 lists it
const QEMU_AARCH64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`;
const amd64 = { os: 'linux', architecture: 'amd64' };

test('parseBinfmtEntry reads the kernel listing', () => {
  const e = parseBinfmtEntry('qemu-aarch64', QEMU_AARCH64);
  assert.equal(e.enabled, true);
  assert.equal(e.flags, 'PF');
  assert.equal(e.interpreter, '/usr/libexec/qemu-binfmt/aarch64-binfmt-P');
  assert.equal(e.magic?.length, 20);
});

test('the host platform and 386 on amd64 run natively', () => {
  assert.deepEqual(platformSupport({ os: 'linux', architecture: 'x86_64' }, amd64, undefined), { ok: true, how: 'native' });
  assert.deepEqual(platformSupport({ os: 'linux', architecture: '386' }, amd64, []), { ok: true, how: 'native' });
});

test('arm64 runs through an enabled registration with the F flag, and only then', () => {
  const entry = parseBinfmtEntry('qemu-aarch64', QEMU_AARCH64);
  const r = platformSupport({ os: 'linux', architecture: 'arm64', variant: 'v8' }, amd64, [entry]);
  assert.deepEqual(r, { ok: true, how: 'emulated', emulator: entry.interpreter });
  const noF = platformSupport({ os: 'linux', architecture: 'arm64' }, amd64, [{ ...entry, flags: 'P' }]);
  assert.ok(!noF.ok && /linux\/arm64.*without the F flag/.test(noF.reason), JSON.stringify(noF));
  const disabled = platformSupport({ os: 'linux', architecture: 'arm64' }, amd64, [{ ...entry, enabled: false }]);
  assert.ok(!disabled.ok && /linux\/arm64 needs an emulator/.test(disabled.reason));
  // the aarch64 magic does not serve s390x
  const other = platformSupport({ os: 'linux', architecture: 's390x' }, amd64, [entry]);
  assert.ok(!other.ok && /linux\/s390x.*no binfmt_misc registration for s390x/.test(other.reason));
  const unmounted = platformSupport({ os: 'linux', architecture: 'arm64' }, amd64, undefined);
  assert.ok(!unmounted.ok && /binfmt_misc is not mounted/.test(unmounted.reason));
});

test('another OS never runs here', () => {
  const r = platformSupport({ os: 'windows', architecture: 'amd64' }, amd64, [parseBinfmtEntry('qemu-aarch64', QEMU_AARCH64)]);
  assert.ok(!r.ok && r.reason === 'RUN for windows/amd64 needs a windows kernel; this machine is linux/amd64', JSON.stringify(r));
});
