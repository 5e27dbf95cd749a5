import { ShaleError } from '../internal/errors.js';
import type { Descriptor } from '../oci/index.js';
import { drain } from './transport.js';
import { header, type RegistryClient } from './registry-client.js';

/** Where an upload session continues, or that the blob was mounted from another repository. */
export type UploadStart = { mounted: true } | { mounted: false; location: URL };

async function locationOf(client: RegistryClient, value: string | undefined, what: string): Promise<URL> {
  if (!value) throw new ShaleError('FAILED_PRECONDITION', `registry ${client.host}: ${what} answered without a Location`);
  return new URL(value, await client.baseUrl());
}

/**
 * `POST /v2/NAME/blobs/uploads/`: opens an upload session; with `mountFrom`, first asks the registry to
 * mount the blob from that repository (201 = mounted, nothing to send; 202 = a plain upload session).
 */
export async function startUpload(client: RegistryClient, repository: string, scopes: string[], mount?: { digest: string; from: string }): Promise<UploadStart> {
  const q = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : '';
  const res = await client.request({ method: 'POST', path: `/v2/${repository}/blobs/uploads/${q}`, headers: { 'content-length': '0' }, scopes, ok: [201, 202] });
  await drain(res);
  if (res.status === 201) return { mounted: true };
  return { mounted: false, location: await locationOf(client, header(res, 'location'), 'upload start') };
}

const withDigest = (location: URL, digest: string): URL => {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u;
};

/** Monolithic upload: the whole blob in one `PUT LOCATION?digest=`. */
export async function putBlob(client: RegistryClient, location: URL, d: Pick<Descriptor, 'digest' | 'size'>, open: () => AsyncIterable<Uint8Array>, scopes: string[]): Promise<void> {
  const res = await client.request({
    method: 'PUT',
    path: withDigest(location, d.digest),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(d.size) },
    body: open,
    scopes,
    ok: [201],
    retry: false,
  });
  await drain(res);
}

/** Cuts a stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* chunksOf(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const raw of source) {
    let c = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    while (c.length > 0) {
      const take = Math.min(size - have, c.length);
      parts.push(c.subarray(0, take));
      have += take;
      c = c.subarray(take);
      if (have === size) {
        yield Buffer.concat(parts, have);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts, have);
}

/**
 * Chunked upload: `PATCH` with `Content-Range: START-END` per chunk (each to the Location the last reply
 * gave), then `PUT LOCATION?digest=` with no body. Holds one chunk in memory at a time.
 */
export async function patchBlob(
  client: RegistryClient,
  start: URL,
  d: Pick<Descriptor, 'digest' | 'size'>,
  open: () => AsyncIterable<Uint8Array>,
  scopes: string[],
  chunkSize: number,
  onBytes?: (n: number) => void,
): Promise<void> {
  let location = start;
  let offset = 0;
  for await (const chunk of chunksOf(open(), chunkSize)) {
    const res = await client.request({
      method: 'PATCH',
      path: location,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(chunk.length), 'content-range': `${offset}-${offset + chunk.length - 1}` },
      body: chunk,
      scopes,
      ok: [202],
      retry: false,
    });
    await drain(res);
    location = await locationOf(client, header(res, 'location'), 'chunk upload');
    offset += chunk.length;
    onBytes?.(chunk.length);
  }
  if (offset !== d.size) throw new ShaleError('SIZE_MISMATCH', `blob ${d.digest}: read ${offset} bytes, its descriptor says ${d.size}`);
  const res = await client.request({ method: 'PUT', path: withDigest(location, d.digest), headers: { 'content-length': '0' }, body: Buffer.alloc(0), scopes, ok: [201], retry: false });
  await drain(res);
}
