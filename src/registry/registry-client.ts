import { setTimeout as sleep } from 'node:timers/promises';
import { ShaleError } from '../internal/errors.js';
import { Authenticator } from './auth.js';
import type { Credentials } from './credentials.js';
import { isLocalHost, registryApiHost } from './registry-reference.js';
import { drain, isPlainHttpReply, isRetryableNetworkError, readBody, Transport, type HttpResponse, type RequestBody } from './transport.js';

export interface RegistryClientOptions {
  /** The registry as written (`127.0.0.1:5000`). */
  host: string;
  credentials?: Credentials;
  /** Allow plain HTTP and accept any TLS certificate (localhost and 127.0.0.0/8 allow plain HTTP anyway). */
  insecure?: boolean;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer;
  /** Attempts per request on 5xx and dropped connections (default 4), with doubling backoff. */
  attempts?: number;
  /** The first backoff delay (default 250 ms). */
  backoffMs?: number;
}

export interface RegistryRequest {
  method: string;
  /** A path under the registry (`/v2/...`) or an absolute URL (an upload location). */
  path: string | URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Bearer scopes the request needs. */
  scopes: string[];
  /** Statuses that are an answer, not an error (others raise with the registry's error text). */
  ok: number[];
}

/** The registry's JSON error body, as one line. */
function errorText(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (Array.isArray(doc.errors) && doc.errors.length > 0) return doc.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    /* not JSON */
  }
  return body.toString('utf8').trim().slice(0, 200);
}

const describeNetworkError = (e: unknown): string => {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
};

/**
 * One registry's distribution API: scheme discovery (HTTPS, or plain HTTP where allowed), auth challenges,
 * and retries with backoff on 5xx replies and dropped connections for requests that can be repeated.
 */
export class RegistryClient {
  readonly host: string;
  readonly apiHost: string;
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly allowHttp: boolean;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private base?: Promise<URL>;

  constructor(options: RegistryClientOptions) {
    this.host = options.host;
    this.apiHost = registryApiHost(options.host);
    this.transport = new Transport({ ca: options.ca, skipTlsVerify: options.insecure });
    this.auth = new Authenticator(options.host, this.transport, options.credentials);
    this.allowHttp = options.insecure === true || isLocalHost(this.apiHost);
    this.attempts = Math.max(1, options.attempts ?? 4);
    this.backoffMs = options.backoffMs ?? 250;
  }

  close(): void {
    this.transport.close();
  }

  /** The delay before attempt `n` (1-based) is repeated. */
  backoff(n: number): Promise<void> {
    return sleep(this.backoffMs * 2 ** (n - 1));
  }

  get maxAttempts(): number {
    return this.attempts;
  }

  /** `https://HOST`, or `http://HOST` when plain HTTP is allowed and the server does not speak TLS. */
  baseUrl(): Promise<URL> {
    this.base ??= this.discoverBase();
    return this.base;
  }

  private async discoverBase(): Promise<URL> {
    const https = new URL(`https://${this.apiHost}`);
    if (!this.allowHttp) return https;
    for (let attempt = 1; ; attempt++) {
      try {
        await drain(await this.transport.send('GET', new URL('/v2/', https), { 'user-agent': 'shale' }));
        return https;
      } catch (e) {
        if (isPlainHttpReply(e)) return new URL(`http://${this.apiHost}`);
        if (!isRetryableNetworkError(e)) throw this.networkError('GET', '/v2/', e, attempt);
        // a refused TLS connection says nothing of the scheme: try plain HTTP, which reports its own errors
        if ((e as { code?: string }).code === 'ECONNRESET') return new URL(`http://${this.apiHost}`);
        if (attempt >= this.attempts) throw this.networkError('GET', '/v2/', e, attempt);
        await this.backoff(attempt);
      }
    }
  }

  private networkError(method: string, path: string, e: unknown, attempts: number): ShaleError {
    const tls = /certificate|self.signed|unable to verify|CERT_|DEPTH_ZERO/i.test(`${(e as { code?: string })?.code ?? ''} ${e instanceof Error ? e.message : ''}`);
    if (tls) {
      return new ShaleError('UNAVAILABLE', `registry ${this.host}: TLS certificate not trusted (${describeNetworkError(e)})`, {
        hint: 'give its CA with --ca-cert FILE or SHALE_REGISTRY_CA=FILE (PEM), or use --insecure',
        cause: e,
      });
    }
    return new ShaleError('UNAVAILABLE', `registry ${this.host}: ${method} ${path} failed: ${describeNetworkError(e)}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`, {
      hint: 'is the registry running and reachable? shale retries dropped connections and 5xx replies with backoff',
      cause: e,
    });
  }

  private async resolve(path: string | URL): Promise<URL> {
    return typeof path === 'string' ? new URL(path, await this.baseUrl()) : path;
  }

  /**
   * Sends a request with auth; repeats it on 5xx and dropped connections (bodies given as bytes or as an
   * opener; an opener is reopened for each attempt, so only pass one whose target accepts a repeat).
   * Follows redirects for GET and HEAD (without the Authorization header on another host).
   */
  async request(r: RegistryRequest & { retry?: boolean }): Promise<HttpResponse> {
    let url = await this.resolve(r.path);
    const retry = r.retry ?? true;
    let authAttempts = 0;
    let redirects = 0;
    for (let attempt = 1; ; ) {
      const headers: Record<string, string> = { 'user-agent': 'shale', ...r.headers };
      const sameHost = url.host === this.apiHost;
      const authorization = sameHost ? this.auth.header(r.scopes) : undefined;
      if (authorization) headers.authorization = authorization;
      let res: HttpResponse;
      try {
        res = await this.transport.send(r.method, url, headers, r.body);
      } catch (e) {
        if (!retry || !isRetryableNetworkError(e) || attempt >= this.attempts) throw this.networkError(r.method, url.pathname, e, attempt);
        await this.backoff(attempt++);
        continue;
      }
      if (res.status === 401 && sameHost && authAttempts++ < 2) {
        const body = await readBody(res).catch(() => Buffer.alloc(0));
        if (await this.auth.answer(header(res, 'www-authenticate'), r.scopes, authorization)) continue;
        throw this.auth.refused(401, errorText(body));
      }
      if ((res.status === 301 || res.status === 302 || res.status === 303 || res.status === 307 || res.status === 308) && (r.method === 'GET' || r.method === 'HEAD')) {
        const location = header(res, 'location');
        await drain(res);
        if (!location || redirects++ > 5) throw new ShaleError('UNAVAILABLE', `registry ${this.host}: too many redirects for ${r.method} ${url.pathname}`);
        url = new URL(location, url);
        continue;
      }
      if (res.status >= 500 && res.status !== 501 && retry && attempt < this.attempts) {
        await drain(res);
        await this.backoff(attempt++);
        continue;
      }
      if (r.ok.includes(res.status)) return res;
      const body = r.method === 'HEAD' ? Buffer.alloc(0) : await readBody(res).catch(() => Buffer.alloc(0));
      if (r.method === 'HEAD') await drain(res);
      const text = errorText(body);
      const what = `registry ${this.host}: ${r.method} ${url.pathname} answered HTTP ${res.status}${text ? `: ${text}` : ''}`;
      if (res.status === 401 || res.status === 403) throw this.auth.refused(res.status, text);
      if (res.status === 404) throw new ShaleError('NOT_FOUND', what);
      if (res.status >= 500) throw new ShaleError('UNAVAILABLE', `${what}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`);
      throw new ShaleError('FAILED_PRECONDITION', what);
    }
  }

  /** `GET /v2/`: checks the registry speaks the API and that the credentials (if any) are accepted. */
  async ping(scopes: string[] = []): Promise<void> {
    const res = await this.request({ method: 'GET', path: '/v2/', scopes, ok: [200] });
    await drain(res);
  }
}

export const header = (res: HttpResponse, name: string): string | undefined => {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
};
