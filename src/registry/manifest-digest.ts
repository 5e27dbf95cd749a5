import { isDigest, type Digest } from '../oci/index.js';
import { repositoryScope } from './auth.js';
import { getManifest, MANIFEST_ACCEPT } from './manifests.js';
import { resolveImageManifest } from './remote-image.js';
import { manifestReference, type RegistryReference } from './registry-reference.js';
import { header, type RegistryClient } from './registry-client.js';
import { drain } from './transport.js';

/**
 * The digest of the manifest `ref` names, as `crane digest` reports it: that of the index when the tag
 * names an index, or with `platform` that of the platform's manifest as the index lists it. Asked with a
 * HEAD (the registry's `Docker-Content-Digest`); when HEAD does not tell it (an error, or no such header),
 * the manifest is fetched, which reports the registry's error text or computes the digest from the bytes.
 */
export async function manifestDigest(client: RegistryClient, ref: RegistryReference, options: { platform?: string } = {}): Promise<Digest> {
  if (options.platform) return (await resolveImageManifest(client, ref, options.platform)).manifest.digest;
  const reference = manifestReference(ref);
  const res = await client.request({
    method: 'HEAD',
    path: `/v2/${ref.repository}/manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(ref.repository, 'pull')],
    ok: [200, 404],
  });
  await drain(res);
  const claimed = header(res, 'docker-content-digest');
  if (res.status === 200 && claimed && isDigest(claimed) && (!ref.digest || claimed === ref.digest)) return claimed;
  return (await getManifest(client, ref.repository, reference)).digest;
}
