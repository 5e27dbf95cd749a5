import { ShaleError } from '../internal/errors.js';
import type { Descriptor } from '../oci/index.js';
import { repositoryScope } from './auth.js';
import { drain } from './transport.js';
import { header, type RegistryClient } from './registry-client.js';
import { isRetryableNetworkError } from './transport.js';

/** `HEAD /v2/NAME/blobs/DIGEST`: whether the registry has the blob (with the size it says). */
export async function hasBlob(client: RegistryClient, repository: string, d: Pick<Descriptor, 'digest' | 'size'>, scopes = [repositoryScope(repository, 'pull')]): Promise<boolean> {
  const res = await client.request({ method: 'HEAD', path: `/v2/${repository}/blobs/${d.digest}`, scopes, ok: [200, 404] });
  await drain(res);
  if (res.status === 404) return false;
  const length = Number(header(res, 'content-length'));
  return !Number.isFinite(length) || length === d.size;
}

/**
 * A blob's bytes as they arrive. A connection that drops mid-blob is resumed from where it stopped (with a
 * Range request; when the registry ignores Range, the bytes already had are skipped). The caller verifies
 * digest and size when the stream ends (the store's ingestion does).
 */
export async function* fetchBlob(
  client: RegistryClient,
  repository: string,
  d: Pick<Descriptor, 'digest' | 'size'>,
  onBytes?: (n: number) => void,
): AsyncGenerator<Buffer> {
  const path = `/v2/${repository}/blobs/${d.digest}`;
  const scopes = [repositoryScope(repository, 'pull')];
  let offset = 0;
  for (let attempt = 1; ; ) {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await client.request({ method: 'GET', path, headers, scopes, ok: [200, 206] });
    let skip = 0;
    if (offset > 0) {
      const range = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '');
      if (res.status === 206 && range && Number(range[1]) === offset) skip = 0;
      else if (res.status === 200) skip = offset;
      else {
        await drain(res);
        throw new ShaleError('UNAVAILABLE', `registry ${client.host}: resuming ${d.digest} at byte ${offset} got an unusable range reply`);
      }
    }
    try {
      for await (const raw of res.body) {
        let c = raw as Buffer;
        if (skip > 0) {
          if (c.length <= skip) {
            skip -= c.length;
            continue;
          }
          c = c.subarray(skip);
          skip = 0;
        }
        offset += c.length;
        if (offset > d.size) throw new ShaleError('SIZE_MISMATCH', `registry ${client.host}: blob ${d.digest} is longer than its descriptor's ${d.size} bytes`);
        onBytes?.(c.length);
        yield c;
      }
      if (offset < d.size && attempt < client.maxAttempts) throw Object.assign(new Error('connection ended early'), { code: 'ECONNRESET' });
      return;
    } catch (e) {
      res.body.destroy();
      if (!isRetryableNetworkError(e) || attempt >= client.maxAttempts) {
        if (isRetryableNetworkError(e)) {
          throw new ShaleError('UNAVAILABLE', `registry ${client.host}: download of ${d.digest} broke off at byte ${offset} (after ${attempt} attempts)`, { cause: e });
        }
        throw e;
      }
      await client.backoff(attempt++);
    }
  }
}
