import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isShaleError } from '../internal/errors.js';
import type { Digest } from '../oci/index.js';
import { parseChallenge } from './auth.js';
import { fetchBlob, hasBlob } from './blobs.js';
import { readCredentials, writeCredentials } from './credentials.js';
import { getManifest, listTags } from './manifests.js';
import { parseRegistryReference } from './registry-reference.js';
import { RegistryClient } from './registry-client.js';
import { patchBlob, startUpload } from './uploads.js';

const digestOf = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A fake registry on 127.0.0.1 whose routes the test writes; returns its host and a log of requests. */
async function fakeRegistry(t: { after: (fn: () => void) => void }, handler: Handler): Promise<{ host: string; log: string[] }> {
  const log: string[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      log.push(`${req.method} ${req.url}${req.headers.range ? ` range=${req.headers.range}` : ''}${req.headers['content-range'] ? ` content-range=${req.headers['content-range']}` : ''}`);
      handler(req, res, Buffer.concat(parts));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, log };
}

test('parseChallenge reads Bearer and Basic challenges', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
  assert.equal(parseChallenge('Negotiate abc'), undefined);
});

test('parseRegistryReference maps Docker Hub names and keeps hosts', () => {
  assert.deepEqual(parseRegistryReference('127.0.0.1:5000/busybox:1'), { host: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', repository: 'busybox', tag: '1', digest: undefined, name: '127.0.0.1:5000/busybox:1' });
  const hub = parseRegistryReference('debian');
  assert.equal(hub.apiHost, 'registry-1.docker.io');
  assert.equal(hub.repository, 'library/debian');
  assert.equal(hub.tag, 'latest');
});

test('credentials: written in Docker config.json format with mode 0600, other entries kept, read back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-cred-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  await writeCredentials('other:1', { username: 'x', password: 'y' }, path);
  await writeCredentials('127.0.0.1:5000', { username: 'alice', password: 'p:w' }, path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(doc.auths['127.0.0.1:5000']!.auth, 'base64').toString(), 'alice:p:w');
  assert.deepEqual(await readCredentials('127.0.0.1:5000', path), { username: 'alice', password: 'p:w' });
  assert.deepEqual(await readCredentials('other:1', path), { username: 'x', password: 'y' });
  assert.equal(await readCredentials('nowhere:1', path), undefined);
});

test('credentials from helpers: credHelpers for a host, then auths, then credsStore; a missing or failing helper is named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-cred-helper-'));
  const oldPath = process.env.PATH;
  t.after(() => {
    process.env.PATH = oldPath;
    rmSync(dir, { recursive: true, force: true });
  });
  // helpers speaking Docker's protocol: the server on stdin, JSON on stdout
  const helper = (name: string, script: string) => {
    writeFileSync(join(dir, `docker-credential-${name}`), `#!/bin/sh\n[ "$1" = get ] || exit 3\nread server\n${script}\n`);
    chmodSync(join(dir, `docker-credential-${name}`), 0o755);
  };
  helper('pass', `printf '{"ServerURL":"%s","Username":"bob","Secret":"s3cret"}' "$server"`);
  helper('store', `[ "$server" = "stored:1" ] && printf '{"Username":"carol","Secret":"c"}' && exit 0; echo "credentials not found in native keychain"; exit 1`);
  helper('broken', `echo "keychain locked" >&2; exit 1`);
  helper('token', `printf '{"Username":"<token>","Secret":"refresh"}'`);
  process.env.PATH = `${dir}:${oldPath}`;
  const path = join(dir, 'config.json');
  writeFileSync(
    path,
    JSON.stringify({
      credHelpers: { 'helped:1': 'pass', 'broken:1': 'broken', 'gone:1': 'absent', 'token:1': 'token' },
      credsStore: 'store',
      auths: { 'inline:1': { auth: Buffer.from('dave:d').toString('base64') } },
    }),
  );
  assert.deepEqual(await readCredentials('helped:1', path), { username: 'bob', password: 's3cret' });
  assert.deepEqual(await readCredentials('inline:1', path), { username: 'dave', password: 'd' }, 'auths before credsStore');
  assert.deepEqual(await readCredentials('stored:1', path), { username: 'carol', password: 'c' });
  assert.equal(await readCredentials('elsewhere:1', path), undefined, 'the store has nothing for it');
  assert.equal(await readCredentials('token:1', path), undefined, 'identity tokens are not used');
  await assert.rejects(readCredentials('broken:1', path), (e: unknown) => isShaleError(e, 'UNAVAILABLE') && /docker-credential-broken failed for broken:1: keychain locked/.test(e.message));
  await assert.rejects(readCredentials('gone:1', path), (e: unknown) => isShaleError(e, 'UNAVAILABLE') && /docker-credential-absent is not installed/.test(e.message));
});

test('Bearer token flow: anonymous and with credentials; wrong credentials are UNAUTHORIZED without the password', async (t) => {
  const tokenRequests: string[] = [];
  let realm = '';
  const { host } = await fakeRegistry(t, (req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/token') {
      tokenRequests.push(`${url.searchParams.getAll('scope').join(' ')} ${req.headers.authorization ? 'basic' : 'anonymous'}`);
      const ok = !req.headers.authorization || req.headers.authorization === `Basic ${Buffer.from('alice:secret').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ token: req.headers.authorization ? 'T-user' : 'T-anon' }) : '{}');
      return;
    }
    const auth = req.headers.authorization;
    if (auth !== 'Bearer T-user' && auth !== 'Bearer T-anon') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="fake"` }).end('{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}');
      return;
    }
    if (url.pathname === '/v2/') res.writeHead(200).end('{}');
    else if (url.pathname === '/v2/a/tags/list' && !url.searchParams.has('last')) res.writeHead(200, { link: '</v2/a/tags/list?last=2>; rel="next"' }).end('{"tags":["1","2"]}');
    else if (url.pathname === '/v2/a/tags/list') res.writeHead(200).end('{"tags":["3"]}');
    else res.writeHead(404).end();
  });
  realm = `http://${host}/token`;
  const anon = new RegistryClient({ host });
  t.after(() => anon.close());
  assert.deepEqual(await listTags(anon, 'a'), ['1', '2', '3']);
  assert.deepEqual(tokenRequests, ['repository:a:pull anonymous']);

  const user = new RegistryClient({ host, credentials: { username: 'alice', password: 'secret' } });
  t.after(() => user.close());
  await user.ping();
  assert.equal(tokenRequests.at(-1), ' basic');

  const wrong = new RegistryClient({ host, credentials: { username: 'alice', password: 'hunter2' } });
  t.after(() => wrong.close());
  await assert.rejects(wrong.ping(), (e: unknown) => isShaleError(e, 'UNAUTHORIZED') && !e.message.includes('hunter2'));
});

test('a blob download that breaks off resumes with a Range request and yields the exact bytes', async (t) => {
  const blob = randomBytes(300_000);
  const d = { digest: digestOf(blob), size: blob.length };
  let gets = 0;
  const { host, log } = await fakeRegistry(t, (req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': String(blob.length) }).end();
      return;
    }
    gets++;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (gets === 1) {
      // half the blob, then the connection drops
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(blob.subarray(0, 100_000), () => res.socket?.destroy());
      return;
    }
    const start = range ? Number(range[1]) : 0;
    res.writeHead(range ? 206 : 200, { 'content-length': String(blob.length - start), ...(range ? { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}) });
    res.end(blob.subarray(start));
  });
  const client = new RegistryClient({ host, backoffMs: 1 });
  t.after(() => client.close());
  assert.equal(await hasBlob(client, 'a', d), true);
  const parts: Buffer[] = [];
  for await (const c of fetchBlob(client, 'a', d)) parts.push(c);
  assert.ok(Buffer.concat(parts).equals(blob));
  assert.ok(log.some((l) => /range=bytes=\d+-/.test(l)), log.join('\n'));
});

test('5xx replies are retried with backoff; a manifest whose bytes do not match its digest is DIGEST_MISMATCH', async (t) => {
  const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:' + '0'.repeat(64) + '","size":1},"layers":[]}');
  let calls = 0;
  const { host } = await fakeRegistry(t, (req, res) => {
    if (req.url === '/v2/a/manifests/1' && ++calls < 3) return void res.writeHead(503).end();
    if (req.url === '/v2/a/manifests/1') return void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': digestOf(manifest) }).end(manifest);
    if (req.url === '/v2/a/manifests/bad') return void res.writeHead(200, { 'docker-content-digest': `sha256:${'1'.repeat(64)}` }).end(manifest);
    res.writeHead(200).end('{}');
  });
  const client = new RegistryClient({ host, backoffMs: 1 });
  t.after(() => client.close());
  const m = await getManifest(client, 'a', '1');
  assert.equal(m.digest, digestOf(manifest));
  assert.equal(calls, 3);
  await assert.rejects(getManifest(client, 'a', 'bad'), (e: unknown) => isShaleError(e, 'DIGEST_MISMATCH'));
});

test('chunked upload: PATCHes with consecutive Content-Ranges to each returned Location, then PUT ?digest=', async (t) => {
  const blob = randomBytes(2_500_000);
  const d = { digest: digestOf(blob), size: blob.length };
  const received: Buffer[] = [];
  let n = 0;
  const { host, log } = await fakeRegistry(t, (req, res, body) => {
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'POST') return void res.writeHead(202, { location: `/upload/${n++}?_state=s` }).end();
    if (req.method === 'PATCH') {
      received.push(body);
      return void res.writeHead(202, { location: `/upload/${n++}?_state=s` }).end();
    }
    if (req.method === 'PUT') {
      const ok = url.searchParams.get('digest') === digestOf(Buffer.concat(received)) && url.searchParams.get('_state') === 's';
      return void res.writeHead(ok ? 201 : 400).end();
    }
    res.writeHead(200).end('{}');
  });
  const client = new RegistryClient({ host });
  t.after(() => client.close());
  const start = await startUpload(client, 'a', []);
  assert.equal(start.mounted, false);
  if (start.mounted) return;
  async function* source() {
    for (let i = 0; i < blob.length; i += 65_536) yield blob.subarray(i, i + 65_536);
  }
  await patchBlob(client, start.location, d, source, [], 1_000_000);
  assert.ok(Buffer.concat(received).equals(blob));
  assert.deepEqual(
    log.filter((l) => l.startsWith('PATCH')).map((l) => l.replace(/^PATCH \S+ /, '')),
    ['content-range=0-999999', 'content-range=1000000-1999999', 'content-range=2000000-2499999'],
  );
});
