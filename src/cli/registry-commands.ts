import { readFile } from 'node:fs/promises';
import { hasErrno, ShaleError } from '../internal/errors.js';
import { formatPlatform, ManifestSchema, parseJson, parseReference, type Digest } from '../oci/index.js';
import type { BasePuller } from '../build/index.js';
import {
  dockerConfigPath,
  parseRegistryHost,
  parseRegistryReference,
  pullImage,
  pushImage,
  readCredentials,
  RegistryClient,
  writeCredentials,
  type PullResult,
  type TransferEvent,
} from '../registry/index.js';
import { BlobStaging, type RegistrySourceLoader, type Store } from '../store/index.js';
import { humanSize } from '../report/index.js';
import type { CommandResult } from './output.js';

export interface RegistryFlags {
  /** Allow plain HTTP and any TLS certificate. */
  insecure?: boolean;
  /** A PEM file of CA certificates to trust (else $SHALE_REGISTRY_CA). */
  caCert?: string;
}

const positiveInt = (raw: string | undefined, name: string): number | undefined => {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new ShaleError('INVALID_ARGUMENT', `${name} must be a positive integer, got "${raw}"`);
  return n;
};

/** A client for `host` with the stored credentials and the CA of --ca-cert / $SHALE_REGISTRY_CA. */
export async function openClient(host: string, flags: RegistryFlags, credentials?: { username: string; password: string }): Promise<RegistryClient> {
  const caPath = flags.caCert ?? (process.env.SHALE_REGISTRY_CA || undefined);
  let ca: Buffer | undefined;
  if (caPath) {
    ca = await readFile(caPath).catch((e: unknown) => {
      throw hasErrno(e, 'ENOENT') ? new ShaleError('NOT_FOUND', `CA certificate file ${caPath} does not exist`) : e;
    });
  }
  return new RegistryClient({
    host,
    credentials: credentials ?? (await readCredentials(host)),
    insecure: flags.insecure,
    ca,
    attempts: positiveInt(process.env.SHALE_REGISTRY_RETRIES, 'SHALE_REGISTRY_RETRIES'),
  });
}

/** Progress of a transfer on stderr: a line per blob as it starts and ends, and every quarter of a big one. */
function progressPrinter(verb: string): (e: TransferEvent) => void {
  const moved = new Map<string, number>();
  const short = (d: string) => d.slice(7, 19);
  const say = (s: string) => process.stderr.write(`${s}\n`);
  return (e) => {
    const name = `${e.kind} ${short(e.digest)}`;
    switch (e.state) {
      case 'exists':
        say(`${name}: already there (${humanSize(e.size)})`);
        break;
      case 'mounted':
        say(`${name}: mounted from ${e.from}`);
        break;
      case 'start':
        moved.set(e.digest, 0);
        say(`${name}: ${verb} ${humanSize(e.size)}`);
        break;
      case 'bytes': {
        const before = moved.get(e.digest) ?? 0;
        const after = before + (e.bytes ?? 0);
        moved.set(e.digest, after);
        const quarter = (n: number) => Math.floor((4 * n) / Math.max(1, e.size));
        if (e.size >= 8e6 && quarter(after) > quarter(before) && after < e.size) say(`${name}: ${humanSize(after)} of ${humanSize(e.size)}`);
        break;
      }
      case 'retry':
        moved.set(e.digest, 0);
        say(`${name}: connection lost, retrying`);
        break;
      case 'done':
        say(`${name}: done`);
        break;
    }
  };
}

/** Pulls `ref` into `store` through a staging area (all or nothing). */
async function pullInto(store: Store, raw: string, flags: RegistryFlags & { platform?: string; quiet?: boolean }): Promise<PullResult> {
  const ref = parseRegistryReference(raw);
  const client = await openClient(ref.host, flags);
  try {
    return await pullImage(client, ref, new BlobStaging(store), { platform: flags.platform, onEvent: flags.quiet ? undefined : progressPrinter('downloading') });
  } finally {
    client.close();
  }
}

/** The pull behind a build's FROM (`shale build`, `--pull`): as `shale pull --platform`, tagging the reference; `quiet` prints no progress. */
export const basePuller =
  (store: Store, flags: RegistryFlags & { quiet?: boolean } = {}): BasePuller =>
  async (ref, platform) =>
    pullInto(store, ref, { ...flags, platform: formatPlatform(platform) });

/** Reads `docker://` SOURCEs for analyze, inspect and history: a pull into their scratch store. */
export const registrySource: RegistrySourceLoader = async (scratch, ref, options) => {
  const r = await pullInto(scratch, ref, { platform: options.platform });
  return { ref: r.ref, id: r.id };
};

/** `shale pull REF`: manifest (through an index by platform), config and missing layers; tags REF. */
export async function pullCommand(store: Store, raw: string, flags: RegistryFlags & { platform?: string }): Promise<CommandResult> {
  const r = await pullInto(store, raw, flags);
  const text = [`${r.ref}: pulled ${r.blobs.filter((b) => b.action === 'downloaded').length} blobs (${humanSize(r.downloadedBytes)})`, `Digest: ${r.manifestDigest}`, r.id].join('\n');
  return { data: r, text };
}

/** Repositories of `host` that the store's images come from, by blob digest: sources for blob mounts. */
async function knownRepositories(store: Store, host: string, exceptRepository: string): Promise<Map<Digest, string>> {
  const out = new Map<Digest, string>();
  for (const entry of await store.readIndex()) {
    if (!entry.ref) continue;
    let r;
    try {
      r = parseReference(entry.ref);
    } catch {
      continue;
    }
    if (r.host !== host) continue;
    const repository = r.repository.slice(host.length + 1);
    if (repository === exceptRepository) continue;
    try {
      const m = parseJson(ManifestSchema, await store.content.readBytes(entry.descriptor.digest), 'manifest');
      for (const d of [m.config, ...m.layers]) if (!out.has(d.digest)) out.set(d.digest, repository);
    } catch {
      /* not an image manifest: no mount sources from it */
    }
  }
  return out;
}

/** `shale push REF`: the stored image to its registry; only missing blobs are sent, the manifest last. */
export async function pushCommand(store: Store, raw: string, flags: RegistryFlags): Promise<CommandResult> {
  const ref = parseRegistryReference(raw);
  const { image } = await store.resolve(raw);
  const mounts = await knownRepositories(store, ref.host, ref.repository);
  const client = await openClient(ref.host, flags);
  try {
    const r = await pushImage(client, ref, image, {
      mountFrom: (d) => mounts.get(d),
      chunkSize: positiveInt(process.env.SHALE_REGISTRY_CHUNK_SIZE, 'SHALE_REGISTRY_CHUNK_SIZE'),
      onEvent: progressPrinter('uploading'),
    });
    const count = (a: string) => r.blobs.filter((b) => b.action === a).length;
    const text = [
      `${r.ref}: uploaded ${count('uploaded')} blobs (${humanSize(r.uploadedBytes)}), ${count('exists')} already there, ${count('mounted')} mounted`,
      `Digest: ${r.manifestDigest}`,
    ].join('\n');
    return { data: { ...r, id: image.id }, text };
  } finally {
    client.close();
  }
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/**
 * `shale login HOST -u USER --password-stdin`: checks the credentials against the registry (its Basic or
 * Bearer challenge), then stores them in Docker's config.json (mode 0600). The password is never printed.
 */
export async function loginCommand(rawHost: string, flags: RegistryFlags & { username?: string; passwordStdin?: boolean }): Promise<CommandResult> {
  const host = parseRegistryHost(rawHost);
  if (!flags.username) throw new ShaleError('INVALID_ARGUMENT', 'login needs a username (-u USER)');
  if (!flags.passwordStdin) throw new ShaleError('INVALID_ARGUMENT', 'login reads the password from stdin only', { hint: 'echo "$PASSWORD" | shale login HOST -u USER --password-stdin' });
  const password = (await readStdin()).replace(/\r?\n$/, '');
  if (password === '') throw new ShaleError('INVALID_ARGUMENT', 'no password on stdin');
  const credentials = { username: flags.username, password };
  const client = await openClient(host, flags, credentials);
  try {
    await client.ping();
  } finally {
    client.close();
  }
  const path = await writeCredentials(host, credentials, dockerConfigPath());
  return { data: { host, username: flags.username, config: path }, text: 'Login Succeeded' };
}
