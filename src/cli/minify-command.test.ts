import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProbes, type MinifyFlags } from './minify-command.js';

type ProbeFlags = Pick<MinifyFlags, 'probeCmd' | 'probeHttp' | 'probeHttpStatus' | 'probeScript'>;
const none: ProbeFlags = { probeCmd: [], probeHttp: [], probeScript: [] };

test('probes from the flags: shell words, PORT/PATH, the image command by default', () => {
  assert.deepEqual(parseProbes(none), [{ kind: 'cmd' }]);
  assert.deepEqual(parseProbes({ ...none, probeCmd: [`sh -c "echo 'a  b'" x\\ y`] }), [{ kind: 'cmd', args: ['sh', '-c', "echo 'a  b'", 'x y'] }]);
  assert.deepEqual(parseProbes({ ...none, probeHttp: ['8000', '8080/health?x=1'], probeHttpStatus: '204' }), [
    { kind: 'http', port: 8000, path: '/', status: 204 },
    { kind: 'http', port: 8080, path: '/health?x=1', status: 204 },
  ]);
  assert.deepEqual(parseProbes({ ...none, probeScript: ['check.sh'] }), [{ kind: 'script', file: 'check.sh' }]);
});

test('bad probe flags are refused', () => {
  const cases: [ProbeFlags, RegExp][] = [
    [{ ...none, probeCmd: ['  '] }, /--probe-cmd needs a command/],
    [{ ...none, probeHttp: ['0/'] }, /is not PORT\/PATH/],
    [{ ...none, probeHttp: ['70000/'] }, /is not PORT\/PATH/],
    [{ ...none, probeHttp: ['80/'], probeHttpStatus: '2xx' }, /is not an HTTP status/],
  ];
  for (const [flags, message] of cases) {
    assert.throws(() => parseProbes(flags), (e: Error) => message.test(e.message));
  }
});
