/**
 * Property tests of how a registry's manifests and indexes are decoded: whatever document a registry
 * serves (any JSON, any shape, any content type), a pull either picks its manifest or fails with a
 * coded error; the schemas and the platform choice never throw anything else.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectParsedOrRefused, expectParsedOrRefusedAsync, fuzzParameters } from '../internal/fuzz-fixtures.js';
import type { ErrorCode } from '../internal/errors.js';
import { digestOf, ImageConfigSchema, IndexSchema, ManifestSchema, MediaType, parseJson, type Digest } from '../oci/index.js';
import { selectPlatform } from '../oci/index.js';
import { pullImage, type PullTarget } from './pull.js';
import { parseRegistryReference } from './registry-reference.js';
import { RegistryClient } from './registry-client.js';

const DECODE_ERRORS: ErrorCode[] = ['CORRUPT_INPUT', 'DIGEST_MISMATCH', 'NOT_FOUND', 'UNSUPPORTED', 'INVALID_ARGUMENT', 'LIMIT_EXCEEDED'];

const MEDIA_TYPES = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList, 'application/json', 'text/plain; charset=utf-8', ''];
const digestArb = fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`), fc.constantFrom('sha256:', 'sha512:abc', 'x', ''));
const odd = fc.oneof(fc.constant(null), fc.integer(), fc.double(), fc.boolean(), fc.string({ maxLength: 8 }), fc.constant([]), fc.constant({}));

const platformArb = fc.record(
  { os: fc.oneof(fc.constantFrom('linux', 'windows', 'unknown'), odd), architecture: fc.oneof(fc.constantFrom('amd64', 'arm64', 'unknown'), odd), variant: fc.oneof(fc.constantFrom('v8', 'v7'), odd) },
  { requiredKeys: [] },
);
const descriptorArb = fc.record(
  {
    mediaType: fc.oneof(fc.constantFrom(...MEDIA_TYPES), odd),
    digest: fc.oneof(digestArb, odd),
    size: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, 2 ** 64), odd),
    platform: fc.oneof(platformArb, odd),
    annotations: fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })), odd),
  },
  { requiredKeys: [] },
);
const documentArb = fc.oneof(
  fc.record({ schemaVersion: fc.oneof(fc.constant(2), odd), mediaType: fc.oneof(fc.constantFrom(...MEDIA_TYPES), odd), manifests: fc.oneof(fc.array(descriptorArb, { maxLength: 4 }), odd) }, { requiredKeys: [] }),
  fc.record(
    { schemaVersion: fc.oneof(fc.constant(2), odd), mediaType: fc.oneof(fc.constantFrom(...MEDIA_TYPES), odd), config: fc.oneof(descriptorArb, odd), layers: fc.oneof(fc.array(descriptorArb, { maxLength: 3 }), odd) },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
);
const goodDescriptorArb = fc.record({ mediaType: fc.constantFrom(...MEDIA_TYPES), digest: digestArb.filter((d) => d.length === 71), size: fc.nat() });
const goodManifestArb = fc.record({ schemaVersion: fc.constant(2), mediaType: fc.constantFrom(MediaType.ociManifest, MediaType.dockerManifest), config: goodDescriptorArb, layers: fc.array(goodDescriptorArb, { maxLength: 3 }) });
/** A document as bytes: a good manifest, JSON of a generated shape, or anything at all. */
const bodyArb = fc.oneof(
  { weight: 2, arbitrary: goodManifestArb.map((d) => Buffer.from(JSON.stringify(d))) },
  { weight: 4, arbitrary: documentArb.map((d) => Buffer.from(JSON.stringify(d) ?? 'null')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
);
const platformTextArb = fc.oneof(fc.constantFrom('linux/amd64', 'linux/arm64/v8', 'unknown/unknown', '', '/', 'a/b/c/d', 'linux'), fc.string({ maxLength: 12 }));

test('manifest, index and config schemas, and the platform choice: any document decodes or is a coded error', () => {
  fc.assert(
    fc.property(bodyArb, fc.option(platformTextArb, { nil: undefined }), (raw, platform) => {
      expectParsedOrRefused(() => parseJson(ManifestSchema, raw, 'manifest'), ['CORRUPT_INPUT']);
      expectParsedOrRefused(() => parseJson(ImageConfigSchema, raw, 'config'), ['CORRUPT_INPUT']);
      const index = expectParsedOrRefused(() => parseJson(IndexSchema, raw, 'index'), ['CORRUPT_INPUT']);
      if (index) {
        const chosen = expectParsedOrRefused(() => selectPlatform(index, platform || undefined, 'index'), ['NOT_FOUND', 'INVALID_ARGUMENT', 'CORRUPT_INPUT']);
        if (chosen) assert.ok(index.manifests.includes(chosen));
      }
    }),
    fuzzParameters(2000),
  );
});

test('pull: whatever a registry serves as the manifest (and as the manifest an index names), the pull picks a manifest or fails with a coded error', async (t) => {
  let top: { body: Buffer; type: string } = { body: Buffer.alloc(0), type: '' };
  let child: { body: Buffer; type: string } = top;
  const server = createServer((req, res) => {
    req.resume();
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    const m = /^\/v2\/fuzz\/manifests\/(.+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    const doc = m[1] === 'latest' ? top : child;
    res.writeHead(200, doc.type ? { 'content-type': doc.type } : {}).end(doc.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const client = new RegistryClient({ host, attempts: 1 });
  const ref = parseRegistryReference(`${host}/fuzz:latest`);
  const target: PullTarget = {
    has: async () => true,
    stage: async () => assert.fail('nothing is downloaded: every blob is "stored"'),
    commit: async (manifest) => ({ id: manifest.digest }),
    discard: async () => {},
  };

  const outcomes = { pulled: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(bodyArb, bodyArb, fc.constantFrom(...MEDIA_TYPES), fc.constantFrom(...MEDIA_TYPES), fc.boolean(), async (a, b, typeA, typeB, linked) => {
      child = { body: b, type: typeB };
      // an index that names the child by its real digest, so the pull goes on to decode it
      const body = linked
        ? Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: typeB || MediaType.ociManifest, digest: digestOf(b), size: b.length, platform: { os: 'linux', architecture: 'amd64' } }] }))
        : a;
      top = { body, type: typeA };
      const result = await expectParsedOrRefusedAsync(() => pullImage(client, ref, target, { platform: 'linux/amd64' }), DECODE_ERRORS);
      if (result) assert.ok([digestOf(body), digestOf(b)].includes(result.manifestDigest as Digest));
      outcomes[result ? 'pulled' : 'refused']++;
    }),
    fuzzParameters(200),
  );
  // both ends were reached: generated documents are not all refused at the first check
  assert.ok(outcomes.pulled > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});
