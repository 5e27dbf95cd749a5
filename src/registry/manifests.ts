import { ShaleError } from '../internal/errors.js';
import { digestOf, isDigest, isIndexMediaType, IndexSchema, MediaType, parseJson, type Digest, type Index } from '../oci/index.js';
import { repositoryScope } from './auth.js';
import { drain, readBody } from './transport.js';
import { header, type RegistryClient } from './registry-client.js';

/** What `GET /v2/NAME/manifests/REF` asks for: image manifests and indexes, OCI and Docker schema 2. */
export const MANIFEST_ACCEPT = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList].join(', ');

export interface FetchedManifest {
  raw: Buffer;
  mediaType: string;
  digest: Digest;
}

/** The media type a manifest document declares, else the one the registry sent. */
function mediaTypeOf(raw: Buffer, contentType: string | undefined): string {
  try {
    const doc = JSON.parse(raw.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    if (Array.isArray(doc.manifests)) return MediaType.ociIndex;
  } catch {
    /* parsed and reported by the caller */
  }
  return contentType?.split(';')[0]?.trim() || MediaType.ociManifest;
}

/**
 * A manifest or index by tag or digest. Its digest is computed from the bytes and must equal the digest
 * asked for and the registry's `Docker-Content-Digest` (else DIGEST_MISMATCH).
 */
export async function getManifest(client: RegistryClient, repository: string, reference: string): Promise<FetchedManifest> {
  const res = await client.request({
    method: 'GET',
    path: `/v2/${repository}/manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(repository, 'pull')],
    ok: [200],
  });
  const raw = await readBody(res, 4 << 20);
  const digest = digestOf(raw);
  const claimed = header(res, 'docker-content-digest');
  const what = `registry ${client.host}: manifest ${repository}:${reference}`;
  if (isDigest(reference) && digest !== reference) throw new ShaleError('DIGEST_MISMATCH', `${what} has digest ${digest}`);
  if (claimed && isDigest(claimed) && claimed !== digest) throw new ShaleError('DIGEST_MISMATCH', `${what} has digest ${digest}, the registry says ${claimed}`);
  return { raw, mediaType: mediaTypeOf(raw, header(res, 'content-type')), digest };
}

/** `PUT /v2/NAME/manifests/REF` with the manifest's own media type; returns its digest. */
export async function putManifest(client: RegistryClient, repository: string, reference: string, raw: Buffer, mediaType: string): Promise<Digest> {
  const res = await client.request({
    method: 'PUT',
    path: `/v2/${repository}/manifests/${reference}`,
    headers: { 'content-type': mediaType, 'content-length': String(raw.length) },
    body: raw,
    scopes: [repositoryScope(repository, 'pull,push')],
    ok: [201],
  });
  await drain(res);
  const digest = digestOf(raw);
  const claimed = header(res, 'docker-content-digest');
  if (claimed && claimed !== digest) throw new ShaleError('DIGEST_MISMATCH', `registry ${client.host} stored manifest ${repository}:${reference} as ${claimed}, shale sent ${digest}`);
  return digest;
}

/** Parses an index document. */
export const parseIndex = (m: FetchedManifest, what: string): Index => parseJson(IndexSchema, m.raw, what);

export { isIndexMediaType };

/**
 * `GET /v2/NAME/tags/list`, following `Link` pages to the last; `pageSize` asks for pages of that many
 * tags (`?n=`), else the registry's own page size. Tags come in the order the registry lists them.
 */
export async function listTags(client: RegistryClient, repository: string, options: { pageSize?: number } = {}): Promise<string[]> {
  const tags: string[] = [];
  let path: string | URL = `/v2/${repository}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ''}`;
  const seen = new Set<string>();
  for (;;) {
    const res = await client.request({ method: 'GET', path, scopes: [repositoryScope(repository, 'pull')], ok: [200] });
    const body = await readBody(res);
    let doc: { tags?: unknown };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      throw new ShaleError('CORRUPT_INPUT', `registry ${client.host}: the tag list of ${repository} is not JSON`);
    }
    if (Array.isArray(doc.tags)) tags.push(...doc.tags.filter((t): t is string => typeof t === 'string'));
    const next = /<([^>]+)>;\s*rel="?next"?/.exec(header(res, 'link') ?? '');
    if (!next) return tags;
    path = new URL(next[1]!, await client.baseUrl());
    if (seen.has(path.href)) throw new ShaleError('CORRUPT_INPUT', `registry ${client.host}: the tag list of ${repository} links back to a page already read (${path.pathname}${path.search})`);
    seen.add(path.href);
  }
}
