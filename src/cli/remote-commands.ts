import { ShaleError } from '../internal/errors.js';
import { parseReference } from '../oci/index.js';
import {
  credentialsServer,
  dockerConfigPath,
  getManifest,
  isIndexMediaType,
  listTags,
  manifestDigest,
  manifestReference,
  openRemoteImage,
  parseIndex,
  parseRegistryHost,
  parseRegistryReference,
  removeCredentials,
  selectPlatform,
  DOCKER_HUB,
  type RegistryClient,
  type RegistryReference,
} from '../registry/index.js';
import type { CommandResult } from './output.js';
import { namingReference, openClient, positiveInt, type RegistryFlags } from './registry-commands.js';

/** What `manifest` and `config` hand back: the document's bytes, written to stdout as they are. */
export interface RawResult {
  raw: Buffer;
}

type PlatformFlags = RegistryFlags & { platform?: string };

/** Runs `fn` with a client for `ref`'s registry; a reference not found is named in the error. */
async function withRegistry<T>(ref: RegistryReference, flags: RegistryFlags, fn: (client: RegistryClient) => Promise<T>): Promise<T> {
  const client = await openClient(ref.host, flags);
  try {
    return await fn(client).catch((e: unknown) => {
      throw namingReference(ref.name, e);
    });
  } finally {
    client.close();
  }
}

/**
 * `shale ls REPO` (and `tags`): the repository's tags in the registry's order, every `Link` page followed;
 * pages of $SHALE_REGISTRY_PAGE_SIZE tags when set, else the registry's own page size.
 */
export async function tagsCommand(raw: string, flags: RegistryFlags): Promise<CommandResult> {
  const parsed = parseReference(raw);
  if (parsed.tag || parsed.digest) throw new ShaleError('INVALID_ARGUMENT', `"${raw}" names a tag or digest; ls takes a repository (HOST/REPO)`);
  const ref = parseRegistryReference(raw);
  const repository = parseReference(ref.name).repository;
  const pageSize = positiveInt(process.env.SHALE_REGISTRY_PAGE_SIZE, 'SHALE_REGISTRY_PAGE_SIZE');
  const tags = await withRegistry({ ...ref, name: repository }, flags, (client) => listTags(client, ref.repository, { pageSize }));
  return { data: { repository, tags }, text: tags.join('\n') };
}

/** `shale digest REF`: the manifest's digest (the index's for a tag naming one; with --platform, the platform's manifest's). */
export async function digestCommand(raw: string, flags: PlatformFlags): Promise<CommandResult> {
  const ref = parseRegistryReference(raw);
  const digest = await withRegistry(ref, flags, (client) => manifestDigest(client, ref, { platform: flags.platform }));
  return { data: { ref: ref.name, digest }, text: digest };
}

/** `shale manifest REF`: the manifest (or index) as the registry serves it; --platform picks one from an index. */
export async function manifestCommand(raw: string, flags: PlatformFlags): Promise<RawResult> {
  const ref = parseRegistryReference(raw);
  return withRegistry(ref, flags, async (client) => {
    const fetched = await getManifest(client, ref.repository, manifestReference(ref));
    if (!flags.platform || !isIndexMediaType(fetched.mediaType)) return { raw: fetched.raw };
    const chosen = selectPlatform(parseIndex(fetched, `${ref.name}: index ${fetched.digest}`), flags.platform);
    return { raw: (await getManifest(client, ref.repository, chosen.digest)).raw };
  });
}

/** `shale config REF`: the image's config blob as stored (through an index by --platform, else this machine's). */
export async function configCommand(raw: string, flags: PlatformFlags): Promise<RawResult> {
  const ref = parseRegistryReference(raw);
  return withRegistry(ref, flags, async (client) => ({ raw: (await openRemoteImage(client, ref, { platform: flags.platform })).rawConfig }));
}

/** `shale logout [HOST]`: forgets the host's credentials (Docker Hub without HOST), as `docker logout` does. */
export async function logoutCommand(rawHost: string | undefined): Promise<CommandResult> {
  const host = rawHost === undefined ? DOCKER_HUB.host : parseRegistryHost(rawHost);
  const server = credentialsServer(host);
  const config = dockerConfigPath();
  const removed = await removeCredentials(host, config);
  return { data: { host, removed, config }, text: removed ? `Removing login credentials for ${server}` : `Not logged in to ${server}` };
}
