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

/**
 * Reads a stream as consecutive slices of `size` bytes (the last may be shorter), each an iterable that
 * must be read to its end before the next is asked for. Nothing is buffered beyond the chunk in hand.
 */
class Slicer {
  private readonly it: AsyncIterator<Uint8Array>;
  private rest?: Uint8Array;
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Whether another slice has bytes. */
  async more(): Promise<boolean> {
    while (!this.rest?.length && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.rest = r.value;
    }
    return (this.rest?.length ?? 0) > 0;
  }

  async *slice(size: number): AsyncGenerator<Uint8Array> {
    let left = size;
    while (left > 0 && (await this.more())) {
      const c = this.rest!;
      const take = Math.min(left, c.length);
      this.rest = c.subarray(take);
      left -= take;
      yield c.subarray(0, take);
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * Chunked upload: `PATCH` with `Content-Range: START-END` per chunk (each to the Location the last reply
 * gave), then `PUT LOCATION?digest=` with no body. Chunks are streamed from the blob, never held whole.
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
  const slicer = new Slicer(open());
  try {
    while (await slicer.more()) {
      const length = Math.min(chunkSize, d.size - offset);
      if (length <= 0) throw new ShaleError('SIZE_MISMATCH', `blob ${d.digest} is longer than its descriptor's ${d.size} bytes`);
      const chunk = slicer.slice(length);
      const res = await client.request({
        method: 'PATCH',
        path: location,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), 'content-range': `${offset}-${offset + length - 1}` },
        body: () => chunk,
        scopes,
        ok: [202],
        retry: false,
      });
      await drain(res);
      location = await locationOf(client, header(res, 'location'), 'chunk upload');
      offset += length;
      onBytes?.(length);
    }
  } finally {
    await slicer.close();
  }
  if (offset !== d.size) throw new ShaleError('SIZE_MISMATCH', `blob ${d.digest}: read ${offset} bytes, its descriptor says ${d.size}`);
  const res = await client.request({ method: 'PUT', path: withDigest(location, d.digest), headers: { 'content-length': '0' }, body: Buffer.alloc(0), scopes, ok: [201], retry: false });
  await drain(res);
}

/** A blob whose digest is known only once its bytes have all been produced (a layer compressed as it is sent). */
export interface StreamedBlob {
  /** The bytes; called again for a retried upload. */
  open(): AsyncGenerator<Uint8Array>;
  /** Digest and size of what the last `open()` gave, after it was read to its end. */
  result(): Promise<{ digest: string; size: number }>;
}

/**
 * Streamed upload: one `PATCH` whose body is the blob as it is made (chunked transfer encoding, no
 * Content-Range: the distribution API's stream upload), then `PUT LOCATION?digest=` once the digest is
 * known. The stream is closed whatever happens, so its producer never waits on a dead request.
 */
export async function streamBlob(
  client: RegistryClient,
  start: URL,
  blob: StreamedBlob,
  scopes: string[],
  onBytes?: (n: number) => void,
): Promise<{ digest: string; size: number }> {
  const source = blob.open();
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const c of source) {
      onBytes?.(c.byteLength);
      yield c;
    }
  }
  let location: URL;
  try {
    const res = await client.request({ method: 'PATCH', path: start, headers: { 'content-type': 'application/octet-stream' }, body: counted, scopes, ok: [202], retry: false });
    await drain(res);
    location = await locationOf(client, header(res, 'location'), 'stream upload');
  } finally {
    await source.return(undefined);
  }
  const d = await blob.result();
  const res = await client.request({ method: 'PUT', path: withDigest(location, d.digest), headers: { 'content-length': '0' }, body: Buffer.alloc(0), scopes, ok: [201], retry: false });
  await drain(res);
  return d;
}
