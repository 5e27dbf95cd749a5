import { execFile } from 'node:child_process';
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

/**
 * The credentials for `host`, as Docker's client finds them: the host's credential helper
 * (`credHelpers`), else what `auths` holds (base64 `user:password`, as `shale login` writes it), else
 * the default credential store (`credsStore`). Undefined when none has any.
 */
export async function readCredentials(host: string, path = dockerConfigPath()): Promise<Credentials | undefined> {
  const config = await readConfig(path);
  const helpers = (config.credHelpers ?? {}) as Record<string, unknown>;
  const helper = [authKey(host), host].map((k) => helpers[k]).find((h): h is string => typeof h === 'string' && h !== '');
  if (helper) return fromHelper(helper, host);
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
  if (typeof config.credsStore === 'string' && config.credsStore !== '') return fromHelper(config.credsStore, host);
  return undefined;
}

/**
 * Asks `docker-credential-NAME get` (Docker's credential helper protocol: the server on stdin, JSON with
 * Username and Secret on stdout). A helper that has nothing for the server gives undefined; an identity
 * token (Username `<token>`) is not supported and gives undefined too.
 */
async function fromHelper(name: string, host: string): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ShaleError('INVALID_ARGUMENT', `credential helper name "${name}" is not valid`);
  const program = `docker-credential-${name}`;
  const server = authKey(host);
  const { code, stdout, stderr, missing } = await runHelper(program, 'get', server);
  if (missing) throw new ShaleError('UNAVAILABLE', `credential helper ${program} is not installed (Docker's config names it for ${server})`);
  if (code !== 0) {
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    throw new ShaleError('UNAVAILABLE', `credential helper ${program} failed for ${server}: ${(stderr || stdout).trim().split('\n')[0]}`);
  }
  let reply: { Username?: unknown; Secret?: unknown };
  try {
    reply = JSON.parse(stdout) as typeof reply;
  } catch {
    throw new ShaleError('CORRUPT_INPUT', `credential helper ${program} did not answer with JSON`);
  }
  if (typeof reply.Username !== 'string' || typeof reply.Secret !== 'string' || reply.Username === '<token>') return undefined;
  return { username: reply.Username, password: reply.Secret };
}

function runHelper(program: string, action: 'get' | 'erase', server: string): Promise<{ code: number; stdout: string; stderr: string; missing: boolean }> {
  return new Promise((resolve, reject) => {
    const child = execFile(program, [action], { timeout: 30_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') return resolve({ code: -1, stdout: '', stderr: '', missing: true });
      if (error && typeof error.code !== 'number') return reject(new ShaleError('UNAVAILABLE', `credential helper ${program} did not answer: ${error.message}`));
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr, missing: false });
    });
    child.stdin?.on('error', () => undefined); // a helper that exits without reading says why on its own
    child.stdin?.end(server);
  });
}

/** Stores credentials for `host` in Docker's format, keeping the rest of the file; the file is mode 0600. */
export async function writeCredentials(host: string, credentials: Credentials, path = dockerConfigPath()): Promise<string> {
  const config = await readConfig(path);
  const auths = { ...((config.auths ?? {}) as Record<string, unknown>) };
  auths[authKey(host)] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  await writeFileAtomic(path, `${JSON.stringify({ ...config, auths }, null, '\t')}\n`, 0o600);
  return path;
}

/** The name `docker login`/`logout` show for a host: Docker Hub's legacy URL, else the host. */
export const credentialsServer = authKey;

/**
 * Forgets `host`'s credentials as `docker logout` does: when `auths` has an entry for it (under the
 * keys Docker reads for a host), those entries are removed from the file (the rest kept, mode 0600) and
 * the credential helper that holds the host's secret (`credHelpers`, else `credsStore`) is asked to erase
 * it. False, and nothing changed, when there is no entry: not logged in.
 */
export async function removeCredentials(host: string, path = dockerConfigPath()): Promise<boolean> {
  const config = await readConfig(path);
  const auths = { ...((config.auths ?? {}) as Record<string, unknown>) };
  const keys = [...new Set([authKey(host), host, `http://${host}`, `https://${host}`])];
  const present = keys.filter((k) => k in auths);
  if (present.length === 0) return false;
  const helpers = (config.credHelpers ?? {}) as Record<string, unknown>;
  for (const k of present) {
    const helper = [helpers[k], config.credsStore].find((h): h is string => typeof h === 'string' && h !== '');
    if (helper) await eraseFromHelper(helper, k);
    delete auths[k];
  }
  await writeFileAtomic(path, `${JSON.stringify({ ...config, auths }, null, '\t')}\n`, 0o600);
  return true;
}

/** `docker-credential-NAME erase` for a server; one that holds nothing for it is no error. */
async function eraseFromHelper(name: string, server: string): Promise<void> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new ShaleError('INVALID_ARGUMENT', `credential helper name "${name}" is not valid`);
  const program = `docker-credential-${name}`;
  const { code, stdout, stderr, missing } = await runHelper(program, 'erase', server);
  if (missing) throw new ShaleError('UNAVAILABLE', `credential helper ${program} is not installed (Docker's config names it for ${server})`);
  if (code !== 0 && !/credentials not found/i.test(stdout + stderr)) {
    throw new ShaleError('UNAVAILABLE', `credential helper ${program} failed to erase ${server}: ${(stderr || stdout).trim().split('\n')[0]}`);
  }
}
