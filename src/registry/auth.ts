import { ShaleError } from '../internal/errors.js';
import type { Credentials } from './credentials.js';
import { readBody, type Transport } from './transport.js';

/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`; other schemes give undefined. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme, params };
}

/** `repository:NAME:ACTIONS`, the scope a Bearer token is asked for. */
export const repositoryScope = (repository: string, actions: 'pull' | 'pull,push'): string => `repository:${repository}:${actions}`;

const basicHeader = (c: Credentials): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

/**
 * Answers a registry's auth challenges: Basic with the stored credentials, or Bearer tokens fetched from the
 * challenge's realm for the scopes a request needs (anonymously when there are no credentials). Tokens are
 * kept per scope set for the life of the client. Credentials never appear in errors.
 */
export class Authenticator {
  private challenge?: Challenge;
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly host: string,
    private readonly transport: Transport,
    private readonly credentials?: Credentials,
  ) {}

  get hasCredentials(): boolean {
    return this.credentials !== undefined;
  }

  /** The Authorization header for a request needing `scopes`, when one is known before asking. */
  header(scopes: string[]): string | undefined {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.credentials ? basicHeader(this.credentials) : undefined;
    const token = this.tokens.get(scopes.join(' '));
    return token ? `Bearer ${token}` : undefined;
  }

  /**
   * Handles a 401: records the challenge and gets what answers it. Returns true when the request is worth
   * repeating with the new header; false when what was sent was already the answer (wrong credentials).
   */
  async answer(wwwAuthenticate: string | undefined, scopes: string[], sent: string | undefined): Promise<boolean> {
    const challenge = parseChallenge(wwwAuthenticate);
    if (!challenge) {
      throw new ShaleError('UNAUTHORIZED', `registry ${this.host} refused the request and sent no usable auth challenge`);
    }
    this.challenge = challenge;
    if (challenge.scheme === 'basic') {
      if (!this.credentials) throw this.loginNeeded();
      return sent !== basicHeader(this.credentials);
    }
    // a scope in the challenge (e.g. insufficient_scope) is what the server wants: ask for it too
    const wanted = [...scopes];
    if (challenge.params.scope && !wanted.includes(challenge.params.scope)) wanted.push(challenge.params.scope);
    const token = await this.fetchToken(challenge, wanted);
    const previous = this.tokens.get(scopes.join(' '));
    this.tokens.set(scopes.join(' '), token);
    return sent === undefined || previous !== token || sent !== `Bearer ${token}`;
  }

  /** The error for a request refused even with what we sent. */
  refused(status: number, detail: string): ShaleError {
    if (!this.credentials) return this.loginNeeded(detail);
    return new ShaleError('UNAUTHORIZED', `registry ${this.host} refused the credentials (HTTP ${status}${detail ? `: ${detail}` : ''})`, {
      hint: `check the username and password, then \`shale login ${this.host} -u USER --password-stdin\``,
    });
  }

  private loginNeeded(detail = ''): ShaleError {
    return new ShaleError('UNAUTHORIZED', `registry ${this.host} requires authentication${detail ? ` (${detail})` : ''}`, {
      hint: `run \`shale login ${this.host} -u USER --password-stdin\``,
    });
  }

  private async fetchToken(challenge: Challenge, scopes: string[]): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new ShaleError('UNAUTHORIZED', `registry ${this.host} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ShaleError('UNAUTHORIZED', `registry ${this.host} sent a Bearer realm that is not a URL`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { 'user-agent': 'shale' };
    if (this.credentials) {
      headers.authorization = basicHeader(this.credentials);
      url.searchParams.set('account', this.credentials.username);
    }
    const res = await this.transport.send('GET', url, headers);
    const body = await readBody(res, 1 << 20);
    if (res.status === 401 || res.status === 403) throw this.refused(res.status, 'token server');
    if (res.status !== 200) throw new ShaleError('UNAUTHORIZED', `token server ${url.host} answered HTTP ${res.status}`);
    let token: unknown;
    try {
      const doc = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
      token = doc.token ?? doc.access_token;
    } catch {
      /* reported below */
    }
    if (typeof token !== 'string' || token === '') throw new ShaleError('UNAUTHORIZED', `token server ${url.host} sent no token`);
    return token;
  }
}
