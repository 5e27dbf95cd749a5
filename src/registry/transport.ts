import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { Readable } from 'node:stream';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

export interface TransportOptions {
  /** Extra trusted CA certificates (PEM), added to Node's roots. */
  ca?: string | Buffer;
  /** Accept any server certificate (`--insecure`). */
  skipTlsVerify?: boolean;
  /** Idle socket timeout. */
  timeoutMs?: number;
}

/** A request body: bytes, or an opener of a stream (sent with the Content-Length given in headers). */
export type RequestBody = Buffer | (() => AsyncIterable<Uint8Array>);

/** Network errors after which the same request may succeed: the connection dropped or was refused. */
export function isRetryableNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code)) return true;
  const message = e instanceof Error ? e.message : '';
  return /socket hang up|aborted|timed out/i.test(message);
}

/** True when a TLS handshake failed because the server speaks plain HTTP. */
export function isPlainHttpReply(e: unknown): boolean {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  const message = e instanceof Error ? e.message : '';
  return code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long|http request/i.test(message);
}

/** HTTP/1.1 over node:http and node:https with keep-alive agents; no retries or auth here. */
export class Transport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;

  constructor(options: TransportOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ca: options.ca ? [...rootCertificates, options.ca.toString()] : undefined,
      rejectUnauthorized: !options.skipTlsVerify,
    });
  }

  send(method: string, url: URL, headers: Record<string, string>, body?: RequestBody): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const lib = url.protocol === 'https:' ? https : http;
      const agent = url.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
      const req = lib.request(url, { method, headers, agent }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`${method} ${url.host} timed out`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        const source = Readable.from(body(), { objectMode: false });
        source.on('error', (e) => req.destroy(e));
        source.pipe(req);
      }
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Reads a whole (small) response body, failing beyond `limit` bytes. */
export async function readBody(res: HttpResponse, limit = 8 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.body.destroy();
      throw new Error(`response body larger than ${limit} bytes`);
    }
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

/** Drops a response body so its socket can be reused. */
export function drain(res: HttpResponse): Promise<void> {
  return new Promise((resolve) => {
    res.body.on('end', resolve).on('error', () => resolve()).on('close', resolve);
    res.body.resume();
  });
}
