/**
 * Remote operations against a real registry (Debian's docker-registry) through a byte-counting proxy:
 * `digest`, `manifest`, `config`, `inspect docker://` and `history docker://` read documents only (no
 * layer blob is requested) and agree with skopeo; `analyze docker://` streams the layers; `ls` follows
 * every tags page; `logout` edits Docker's config.json as `docker logout` does; an index with --platform.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { busyboxBase } from './support/build.js';
import { appendLayer, oneFileLayer } from './support/append-layer.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { assertCliError, shaleOk, spawnShale, tempDir, tempStore, type ShaleOptions, type ShaleResult } from './support/shale.js';
import { requireTool } from './support/tools.js';

interface Hit {
  method: string;
  path: string;
  status: number;
  bytes: number;
}

/**
 * The page of a tag list the distribution spec describes for `?n=N&last=T`: up to N tags after T, and a
 * `Link` to the next page when more follow. docker-registry 2.8 answers tags/list whole (paging came with
 * distribution 3), so the proxy pages the registry's own list this way.
 */
function pageTags(url: URL, body: Buffer): { body: Buffer; link?: string } {
  const n = Number(url.searchParams.get('n'));
  const doc = JSON.parse(body.toString('utf8')) as { name: string; tags: string[] };
  const last = url.searchParams.get('last');
  const from = last === null ? 0 : doc.tags.indexOf(last) + 1;
  const tags = doc.tags.slice(from, from + n);
  const more = from + n < doc.tags.length;
  return { body: Buffer.from(JSON.stringify({ name: doc.name, tags })), link: more ? `<${url.pathname}?n=${n}&last=${encodeURIComponent(tags[tags.length - 1]!)}>; rel="next"` : undefined };
}

/**
 * An HTTP proxy in front of the registry that records each request's method, path, status and response
 * bytes; tags/list with `n` is paged as the spec says (see pageTags).
 */
async function startProxy(t: Pick<TestContext, 'after'>, target: string): Promise<{ host: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const paged = url.pathname.endsWith('/tags/list') && url.searchParams.has('n');
    const upstream = http.request({ host: targetHost, port: Number(targetPort), method: req.method, path: paged ? url.pathname : req.url, headers: req.headers }, (up) => {
      const hit: Hit = { method: req.method ?? '', path: req.url ?? '', status: up.statusCode ?? 0, bytes: 0 };
      hits.push(hit);
      if (paged && up.statusCode === 200) {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => {
          const page = pageTags(url, Buffer.concat(parts));
          hit.bytes = page.body.length;
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(page.body.length), ...(page.link ? { link: page.link } : {}) });
          res.end(page.body);
        });
        return;
      }
      up.on('data', (c: Buffer) => (hit.bytes += c.length));
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, hits };
}

/** Runs shale without blocking this process (the proxy answers from it). */
function shaleAsync(args: readonly string[], opts: ShaleOptions): Promise<ShaleResult & { raw: Buffer }> {
  const child = spawnShale(args, opts);
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      const raw = Buffer.concat(out);
      resolve({ status, signal, stdout: raw.toString('utf8'), stderr, raw });
    });
  });
}

async function shaleAsyncOk(args: readonly string[], opts: ShaleOptions): Promise<ShaleResult & { raw: Buffer }> {
  const r = await shaleAsync(args, opts);
  assert.equal(r.status, 0, `shale ${args.join(' ')} -> ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

const skopeo = (...args: string[]): Buffer => execFileSync('skopeo', args, { maxBuffer: 64 << 20 });
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface ManifestDoc {
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

/** The layer digests the requests asked for (any method). */
const layerHits = (hits: Hit[], layers: string[]): Hit[] => hits.filter((h) => layers.some((d) => h.path.endsWith(`/blobs/${d}`)));

test('remote operations read documents only; analyze streams layers; tags paging; logout; an index with --platform', async (t) => {
  if (!requireTool(t, 'registry') || !requireTool(t, 'skopeo')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const registry: TestRegistry = await startRegistry(t, work);
  const proxy = await startProxy(t, registry.host);

  // two images of two layers each, pushed straight to the registry
  const base = busyboxBase(t, work, root, 'remote/base:1');
  await appendLayer(root, base.ref, 'remote/app:1', await oneFileLayer('app/one.txt', Buffer.from('one\n'.repeat(1000))));
  await appendLayer(root, base.ref, 'remote/app:2', await oneFileLayer('app/two.txt', Buffer.from('two\n'.repeat(2000))));
  const direct = `${registry.host}/remote/app`;
  for (const tag of ['1', '2']) {
    shaleOk(['tag', `remote/app:${tag}`, `${direct}:${tag}`], { root });
    shaleOk(['push', `${direct}:${tag}`], { root });
  }
  const pushed = JSON.parse(shaleOk(['push', `${direct}:1`, '--format', 'json'], { root }).stdout) as { manifestDigest: string; id: string };
  const rawManifest = skopeo('inspect', '--tls-verify=false', '--raw', `docker://${direct}:1`);
  const rawConfig = skopeo('inspect', '--tls-verify=false', '--config', '--raw', `docker://${direct}:1`);
  const manifest = JSON.parse(rawManifest.toString('utf8')) as ManifestDoc;
  const layers = manifest.layers.map((l) => l.digest);
  assert.equal(layers.length, 2);
  const ref = `${proxy.host}/remote/app:1`;
  const opts = { root };

  await t.test('digest, manifest, config: the documents as served, no layer requested', async () => {
    proxy.hits.length = 0;
    const digest = await shaleAsyncOk(['digest', ref], opts);
    assert.equal(digest.stdout, `${pushed.manifestDigest}\n`);
    assert.equal(sha256(rawManifest), pushed.manifestDigest);
    assert.deepEqual(
      proxy.hits.filter((h) => h.path.startsWith('/v2/remote')).map((h) => h.method),
      ['HEAD'],
      'digest is one HEAD',
    );
    const m = await shaleAsyncOk(['manifest', ref], opts);
    assert.ok(m.raw.equals(rawManifest), 'manifest: the bytes skopeo inspect --raw gives');
    const c = await shaleAsyncOk(['config', ref], opts);
    assert.ok(c.raw.equals(rawConfig), 'config: the bytes skopeo inspect --config --raw gives');
    assert.equal(sha256(c.raw), pushed.id);
    assert.deepEqual(layerHits(proxy.hits, layers), [], 'no layer blob was requested');
    const bytes = proxy.hits.reduce((n, h) => n + h.bytes, 0);
    t.diagnostic(`digest + manifest + config: ${proxy.hits.length} requests, ${bytes} response bytes (layers: ${manifest.layers.reduce((n, l) => n + l.size, 0)} bytes)`);
    assert.ok(bytes < rawManifest.length * 2 + rawConfig.length + 4096);
  });

  await t.test('inspect and history of docker:// read manifest and config only', async () => {
    proxy.hits.length = 0;
    const inspect = JSON.parse((await shaleAsyncOk(['inspect', `docker://${ref}`, '--format', 'json'], opts)).stdout) as { id: string; manifestDigest: string; config: unknown; repoTags: string[] };
    assert.equal(inspect.id, pushed.id);
    assert.equal(inspect.manifestDigest, pushed.manifestDigest);
    assert.deepEqual(inspect.config, JSON.parse(rawConfig.toString('utf8')));
    assert.deepEqual(inspect.repoTags, [ref]);
    const history = JSON.parse((await shaleAsyncOk(['history', `docker://${ref}`, '--format', 'json'], opts)).stdout) as { size: number; createdBy: string; emptyLayer: boolean }[];
    const local = JSON.parse(shaleOk(['history', 'remote/app:1', '--format', 'json'], opts).stdout) as { createdBy: string }[];
    assert.deepEqual(
      history.map((h) => h.createdBy),
      local.map((h) => h.createdBy),
    );
    // a registry image's layer sizes are its blobs' (these are uncompressed: equal to the content sizes)
    assert.deepEqual(
      history.filter((h) => !h.emptyLayer).map((h) => h.size),
      manifest.layers.map((l) => l.size).reverse(),
    );
    assert.deepEqual(layerHits(proxy.hits, layers), [], 'no layer blob was requested');
    assert.deepEqual(
      proxy.hits.filter((h) => h.method === 'GET' && h.path.includes('/blobs/')).map((h) => h.path),
      [`/v2/remote/app/blobs/${manifest.config.digest}`, `/v2/remote/app/blobs/${manifest.config.digest}`],
      'one config fetch per command',
    );
  });

  await t.test('analyze docker:// streams each layer from the registry and agrees with the stored image', async () => {
    proxy.hits.length = 0;
    const remote = JSON.parse((await shaleAsyncOk(['analyze', `docker://${ref}`, '--format', 'json'], opts)).stdout) as { sizeBytes: number; layers: unknown[]; dive: unknown };
    const local = JSON.parse(shaleOk(['analyze', 'remote/app:1', '--format', 'json'], opts).stdout) as typeof remote;
    assert.equal(remote.sizeBytes, local.sizeBytes);
    assert.deepEqual(remote.dive, local.dive);
    for (const d of layers) {
      const gets = proxy.hits.filter((h) => h.method === 'GET' && h.path.endsWith(`/blobs/${d}`));
      assert.equal(gets.length, 1, `layer ${d} fetched once`);
      assert.equal(gets[0]!.bytes, manifest.layers.find((l) => l.digest === d)!.size);
    }
    const tmp = join(root, 'shale', 'tmp');
    assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], [], 'nothing was staged in the store');
  });

  await t.test('a missing tag or repository: exit 2 naming the reference, with the registry error', async () => {
    proxy.hits.length = 0;
    const missing = `${proxy.host}/remote/app:nope`;
    for (const args of [['digest', missing], ['manifest', missing], ['config', missing], ['inspect', `docker://${missing}`]]) {
      const line = assertCliError(await shaleAsync(args, opts), args.join(' '));
      assert.ok(line.includes(missing), `${args[0]}: names ${missing}: ${line}`);
      assert.match(line, /MANIFEST_UNKNOWN/);
    }
    // digest: the HEAD's 404 has no body; the GET after it gives the registry's words
    assert.deepEqual(
      proxy.hits.slice(0, 2).map((h) => `${h.method} ${h.status}`),
      ['HEAD 404', 'GET 404'],
    );
    const repo = `${proxy.host}/remote/none`;
    const line = assertCliError(await shaleAsync(['ls', repo], opts), 'ls');
    assert.ok(line.includes(repo), line);
    assert.match(line, /NAME_UNKNOWN/);
    assertCliError(await shaleAsync(['ls', `${proxy.host}/remote/app:1`], opts), 'ls with a tag');
  });

  await t.test('ls/tags follow every Link page and list tags in the registry order', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `v${i}`);
    for (const tag of names) {
      const res = await fetch(`http://${registry.host}/v2/remote/app/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: new Uint8Array(rawManifest) });
      assert.equal(res.status, 201);
    }
    const whole = (await (await fetch(`http://${registry.host}/v2/remote/app/tags/list`)).json()) as { tags: string[] };
    assert.equal(whole.tags.length, 14);
    proxy.hits.length = 0;
    const env = { SHALE_REGISTRY_PAGE_SIZE: '5' };
    const text = await shaleAsyncOk(['ls', `${proxy.host}/remote/app`], { ...opts, env });
    assert.deepEqual(text.stdout.trimEnd().split('\n'), whole.tags);
    const pages = proxy.hits.filter((h) => h.path.includes('/tags/list'));
    assert.equal(pages.length, 3, `three pages of 5: ${pages.map((p) => p.path).join(', ')}`);
    assert.ok(pages.every((p) => /[?&]n=5\b/.test(p.path)));
    const json = JSON.parse((await shaleAsyncOk(['tags', `${proxy.host}/remote/app`, '--format', 'json'], { ...opts, env })).stdout) as { repository: string; tags: string[] };
    assert.deepEqual(json, { repository: `${proxy.host}/remote/app`, tags: whole.tags });
    const listed = JSON.parse(skopeo('list-tags', '--tls-verify=false', `docker://${direct}`).toString('utf8')) as { Tags: string[] };
    assert.deepEqual([...json.tags].sort(), [...listed.Tags].sort());
    assertCliError(await shaleAsync(['ls', `${proxy.host}/remote/app`], { ...opts, env: { SHALE_REGISTRY_PAGE_SIZE: '0' } }), 'page size 0');
  });

  await t.test('logout removes only that host from config.json, as docker logout', async () => {
    const dockerConfig = join(work, 'docker-config');
    mkdirSync(dockerConfig, { recursive: true });
    const path = join(dockerConfig, 'config.json');
    const auth = (s: string) => ({ auth: Buffer.from(s).toString('base64') });
    writeFileSync(path, JSON.stringify({ auths: { [registry.host]: auth('alice:secret'), 'other.example:5000': auth('bob:pw') }, psFormat: 'table {{.ID}}' }));
    const env = { DOCKER_CONFIG: dockerConfig };
    const out = await shaleAsyncOk(['logout', registry.host], { ...opts, env });
    assert.equal(out.stdout, `Removing login credentials for ${registry.host}\n`);
    const after = JSON.parse(readFileSync(path, 'utf8')) as { auths: Record<string, unknown>; psFormat: string };
    assert.deepEqual(after, { auths: { 'other.example:5000': auth('bob:pw') }, psFormat: 'table {{.ID}}' });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const again = await shaleAsyncOk(['logout', registry.host], { ...opts, env });
    assert.equal(again.stdout, `Not logged in to ${registry.host}\n`);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), after, 'not logged in: nothing changed');
    const hub = await shaleAsyncOk(['logout'], { ...opts, env });
    assert.equal(hub.stdout, 'Not logged in to https://index.docker.io/v1/\n');
    assertCliError(await shaleAsync(['logout', 'not a host'], { ...opts, env }), 'logout of a bad host');
  });

  await t.test('an index pushed by skopeo --all: digest, manifest, config by --platform', async () => {
    // an OCI layout whose one entry is an index of the two images, as linux/amd64 and linux/arm64
    const layout = join(work, 'layout');
    skopeo('copy', '--src-tls-verify=false', `docker://${direct}:1`, `oci:${layout}:a`);
    skopeo('copy', '--src-tls-verify=false', `docker://${direct}:2`, `oci:${layout}:b`);
    const entries = (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[] }).manifests;
    const byName = (n: string) => entries.find((e) => e.annotations['org.opencontainers.image.ref.name'] === n)!;
    const platforms = { a: { architecture: 'amd64', os: 'linux' }, b: { architecture: 'arm64', os: 'linux' } };
    const rawIndex = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: (['a', 'b'] as const).map((n) => ({ mediaType: byName(n).mediaType, digest: byName(n).digest, size: byName(n).size, platform: platforms[n] })),
      }),
    );
    writeFileSync(join(layout, 'blobs', 'sha256', sha256(rawIndex).slice(7)), rawIndex);
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(rawIndex), size: rawIndex.length }] }));
    skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}`, `docker://${registry.host}/remote/multi:1`);

    const multi = `${proxy.host}/remote/multi:1`;
    proxy.hits.length = 0;
    assert.equal((await shaleAsyncOk(['digest', multi], opts)).stdout.trim(), sha256(rawIndex), 'the index digest');
    assert.equal((await shaleAsyncOk(['digest', multi, '--platform', 'linux/arm64'], opts)).stdout.trim(), byName('b').digest);
    assert.ok((await shaleAsyncOk(['manifest', multi], opts)).raw.equals(rawIndex), 'the index as pushed');
    const armManifest = readFileSync(join(layout, 'blobs', 'sha256', byName('b').digest.slice(7)));
    assert.ok((await shaleAsyncOk(['manifest', multi, '--platform', 'linux/arm64'], opts)).raw.equals(armManifest));
    const armConfig = skopeo('inspect', '--tls-verify=false', '--config', '--raw', `docker://${direct}:2`);
    assert.ok((await shaleAsyncOk(['config', multi, '--platform', 'linux/arm64'], opts)).raw.equals(armConfig));
    assert.ok((await shaleAsyncOk(['config', multi, '--platform', 'linux/amd64'], opts)).raw.equals(rawConfig));
    const armLayers = (JSON.parse(armManifest.toString('utf8')) as ManifestDoc).layers.map((l) => l.digest);
    assert.deepEqual(layerHits(proxy.hits, [...layers, ...armLayers]), [], 'no layer blob was requested');
    const none = assertCliError(await shaleAsync(['manifest', multi, '--platform', 'linux/s390x'], opts), 'a platform the index lacks');
    assert.match(none, /linux\/s390x/);
  });
});
