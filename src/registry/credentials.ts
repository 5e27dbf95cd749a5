import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { hasErrno, ShaleError } from '../internal/errors.js';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import { DOCKER_HUB } from './registry-reference.js';

export interface Credentials {
  username: string;
  password: string;
}

/** Docker's client config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** The key a host's credentials sit under in `auths` (Docker Hub keeps its legacy URL). */
const authKey = (host: string): string => (host === DOCKER_HUB.host ? DOCKER_HUB.authKey : host);

async function readConfig(path: string): Promise<Record<string, unknown>> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) return {};
    throw e;
  }
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new ShaleError('CORRUPT_INPUT', `${path} is not a JSON object`, { hint: 'fix or remove it, then `shale login` again' });
}

/** The credentials stored for `host` (`auths[HOST].auth`, base64 of `user:password`), if any. */
export async function readCredentials(host: string, path = dockerConfigPath()): Promise<Credentials | undefined> {
  const config = await readConfig(path);
  const auths = (config.auths ?? {}) as Record<string, { auth?: unknown; username?: unknown; password?: unknown } | undefined>;
  const keys = [authKey(host), host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
  for (const k of keys) {
    const entry = auths[k];
    if (!entry) continue;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const text = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i > 0) return { username: text.slice(0, i), password: text.slice(i + 1) };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Stores credentials for `host` in Docker's format, keeping the rest of the file; the file is mode 0600. */
export async function writeCredentials(host: string, credentials: Credentials, path = dockerConfigPath()): Promise<string> {
  const config = await readConfig(path);
  const auths = { ...((config.auths ?? {}) as Record<string, unknown>) };
  auths[authKey(host)] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  await writeFileAtomic(path, `${JSON.stringify({ ...config, auths }, null, '\t')}\n`, 0o600);
  return path;
}
