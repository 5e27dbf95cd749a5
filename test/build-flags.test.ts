/**
 * `shale build` flags and Dockerfile flags that follow Docker and BuildKit: `--build-arg NAME` read from
 * the environment, `COPY --parents`, `COPY/ADD --exclude`, and `ADD --checksum` refused as shale does
 * not fetch URLs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { lastLine, writeContext } from './support/build.js';
import { shale, shaleJson, tempDir, tempStore } from './support/shale.js';

const labelsOf = (root: string, id: string): Record<string, string> =>
  shaleJson<{ config: { config: { Labels?: Record<string, string> } } }>(['inspect', id], { root }).config.config.Labels ?? {};

test('--build-arg NAME takes NAME from the environment; unset there, the ARG default stays (docker CLI)', { timeout: 60_000 }, (t) => {
  const root = tempStore(t);
  const ctx = writeContext(join(tempDir(t), 'ctx'), {
    Dockerfile: 'FROM scratch\nARG SHALE_T_SET=default-set\nARG SHALE_T_UNSET=default-unset\nARG SHALE_T_EMPTY=default-empty\nLABEL set=$SHALE_T_SET unset=$SHALE_T_UNSET empty=$SHALE_T_EMPTY\n',
  });
  const r = shale(['build', '-q', '--build-arg', 'SHALE_T_SET', '--build-arg', 'SHALE_T_UNSET', '--build-arg', 'SHALE_T_EMPTY', ctx], {
    root,
    env: { SHALE_T_SET: 'from the environment', SHALE_T_EMPTY: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(labelsOf(root, lastLine(r.stdout)), { set: 'from the environment', unset: 'default-unset', empty: '' });
  const bad = shale(['build', '-q', '--build-arg', '=x', ctx], { root });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error: invalid --build-arg "=x": the name is empty$/m);
});
