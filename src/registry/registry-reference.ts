import { ShaleError } from '../internal/errors.js';
import { normalizeReference, parseReference, type Digest } from '../oci/index.js';

/** Docker Hub's names: what users write, where its API answers, and the key its credentials go under. */
export const DOCKER_HUB = { host: 'docker.io', apiHost: 'registry-1.docker.io', authKey: 'https://index.docker.io/v1/' } as const;

/** An image reference split for the distribution API. */
export interface RegistryReference {
  /** The registry as written (`127.0.0.1:5000`, `docker.io`). */
  host: string;
  /** The host whose `/v2/` API is called (Docker Hub's differs from its name). */
  apiHost: string;
  /** The repository inside the registry (`busybox`, `library/debian`). */
  repository: string;
  tag?: string;
  digest?: Digest;
  /** The reference as shale names it in the store (`127.0.0.1:5000/busybox:1`). */
  name: string;
}

/** Parses `HOST/REPO[:TAG][@DIGEST]`; a name without a host means Docker Hub, as in Docker. */
export function parseRegistryReference(raw: string): RegistryReference {
  const r = parseReference(raw);
  const host = r.host ?? DOCKER_HUB.host;
  let repository = r.host ? r.repository.slice(r.host.length + 1) : r.repository;
  if (host === DOCKER_HUB.host && !repository.includes('/')) repository = `library/${repository}`;
  const tag = r.tag ?? (r.digest ? undefined : 'latest');
  return { host, apiHost: registryApiHost(host), repository, tag, digest: r.digest, name: normalizeReference(raw) };
}

export const registryApiHost = (host: string): string => (host === DOCKER_HUB.host || host === 'index.docker.io' ? DOCKER_HUB.apiHost : host);

/** The tag or digest a manifest is fetched by. */
export function manifestReference(ref: RegistryReference): string {
  const r = ref.digest ?? ref.tag;
  if (!r) throw new ShaleError('INVALID_ARGUMENT', `${ref.name} names no tag or digest`);
  return r;
}

/** A registry host as `login` takes it: `HOST[:PORT]`, maybe written as a URL. */
export function parseRegistryHost(raw: string): string {
  const host = raw.replace(/^https?:\/\//, '').replace(/\/+$/, '').replace(/\/v[12]\/?$/, '');
  if (!/^(?:\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+)(?::\d+)?$/.test(host)) {
    throw new ShaleError('INVALID_ARGUMENT', `"${raw}" is not a registry host`, { hint: 'use HOST[:PORT], e.g. 127.0.0.1:5000' });
  }
  return host === 'index.docker.io' || host === DOCKER_HUB.apiHost ? DOCKER_HUB.host : host;
}

/** Hosts where plain HTTP is allowed without `--insecure`, as Docker allows 127.0.0.0/8. */
export function isLocalHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '');
  return name === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(name) || name === '[::1]';
}
