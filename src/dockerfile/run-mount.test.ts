import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { throwsShale } from './dockerfile-fixtures.js';
import { parseRunMount, parseRunMounts, ramInBytes, splitCsv, type MountContext } from './run-mount.js';

const ctx: MountContext = { expand: (w) => w.replace(/\$(\w+)/g, (_, k: string) => ({ DIR: '/cache', ID: 'x' })[k] ?? ''), workdir: '/src', sshIndex: 0 };
const parse = (spec: string, c: Partial<MountContext> = {}) => parseRunMount(spec, { ...ctx, ...c });
const fails = (spec: string, message: string) => assert.throws(() => parse(spec), { message });

describe('RUN --mount specs', () => {
  test('defaults per type, as BuildKit fills them in', () => {
    assert.deepEqual(parse('type=cache,target=/root/.cache'), {
      type: 'cache', target: '/root/.cache', source: '', from: undefined, id: '/root/.cache', readonly: false, sharing: 'shared', mode: 0o755, uid: 0, gid: 0, required: false,
    });
    const bind = parse('target=rel/dir');
    assert.equal(bind.type, 'bind');
    assert.equal(bind.target, '/src/rel/dir', 'a relative target is below the working directory');
    assert.equal(bind.readonly, true);
    assert.equal(parse('type=tmpfs,dst=/t,size=64m').size, 64 << 20);
    assert.equal(parse('type=tmpfs,dst=/t').readonly, false);
    const secret = parse('type=secret,id=npmrc');
    assert.equal(secret.target, '/run/secrets/npmrc');
    assert.equal(secret.mode, 0o400);
    assert.equal(parse('type=secret,target=/etc/token').id, 'token', 'the id defaults to the target\'s base name');
    assert.equal(parse('type=secret,id=t,env=TOKEN').target, '', 'env alone: no file');
    assert.equal(parse('type=secret,id=t,env=TOKEN,target=/t').target, '/t');
    const ssh = parse('type=ssh', { sshIndex: 1 });
    assert.deepEqual([ssh.id, ssh.target, ssh.mode, ssh.required], ['default', '/run/buildkit/ssh_agent.1', 0o600, false]);
    assert.equal(parse('type=ssh,required').required, true);
  });

  test('keys: aliases, booleans, octal modes, variables, any order, quoted CSV fields', () => {
    const m = parse('target=$DIR,type=cache,id=$ID,sharing=LOCKED,mode=0700,uid=1000,gid=100,from=deps,src=/c,ro');
    assert.deepEqual([m.target, m.id, m.sharing, m.mode, m.uid, m.gid, m.from, m.source, m.readonly], ['/cache', 'x', 'locked', 0o700, 1000, 100, 'deps', '/c', true]);
    assert.equal(parse('type=bind,destination=/d,rw=true').readonly, false);
    assert.equal(parse('type=bind,dst=/d,readwrite').readonly, false);
    assert.equal(parse('type=cache,dst=/d,readonly=false').readonly, false);
    assert.equal(parse('"type=bind","target=/a,b"').target, '/a,b');
    assert.deepEqual(splitCsv('a,"b,""c""",'), ['a', 'b,"c"', '']);
    assert.equal(ramInBytes('1g'), 1 << 30);
    assert.equal(ramInBytes('512'), 512);
  });

  test('what BuildKit refuses, with its messages', () => {
    fails('type=nfs,target=/x', 'unsupported mount type "nfs"');
    fails('type=cache', 'mount destination not set');
    fails('type=cache,target=/', 'invalid mount target "/"');
    fails('type=cache,target=/x,colour=red', "unexpected key 'colour' in 'colour=red'");
    fails('type=cache,targt=/x', "unexpected key 'targt' in 'targt=/x' (did you mean target?)");
    fails('type=cache,target=/x,nosuid', "invalid field 'nosuid' must be a key=value pair");
    fails('type=bind,target=/x,sharing=locked', 'invalid cache sharing set for bind mount');
    fails('type=cache,target=/x,sharing=exclusive', 'unsupported sharing value "exclusive"');
    fails('type=cache,target=/x,mode=0999', 'invalid value 0999 for mode');
    fails('type=cache,target=/x,uid=-1', 'invalid value -1 for uid');
    fails('type=bind,target=/x,uid=1', 'uid not allowed for "bind" type mounts');
    fails('type=tmpfs,target=/x,mode=0755', 'mode not allowed for "tmpfs" type mounts');
    fails('type=cache,target=/x,required', "unexpected key 'required' for mount type 'cache'");
    fails('type=cache,target=/x,size=1m', "unexpected key 'size' for mount type 'cache'");
    fails('type=tmpfs,target=/x,size=lots', "invalid size: 'lots'");
    fails('type=bind,target=/x,ro=maybe', 'invalid value for ro: maybe');
    fails('type=secret,id=a,from=stage', 'secret mount should not have a from');
    fails('type=secret', 'invalid secret mount. one of source, target required');
    fails('type=secret,id=a,source=b', "both source and id can't be set");
    fails('type=bind,target=/x,env=A', "unexpected key 'env' for mount type 'bind'");
    fails('type=bind,"target=/x', 'failed to parse csv mounts: extraneous or missing " in quoted-field');
  });

  test('parseRunMounts: errors name the file and line; ssh mounts are numbered; a target is used once', () => {
    const where = { file: 'Dockerfile', line: 7 };
    const ms = parseRunMounts(['type=ssh', 'type=ssh,id=other'], where, ctx);
    assert.deepEqual(ms.map((m) => m.target), ['/run/buildkit/ssh_agent.0', '/run/buildkit/ssh_agent.1']);
    throwsShale(() => parseRunMounts(['type=tmpfs'], where, ctx), 'DOCKERFILE_SYNTAX', 'Dockerfile:7: RUN --mount=type=tmpfs: mount destination not set');
    throwsShale(() => parseRunMounts(['type=tmpfs,target=/a', 'type=cache,target=/a/'], where, ctx), 'DOCKERFILE_SYNTAX', /another mount already uses target \/a$/);
  });
});
