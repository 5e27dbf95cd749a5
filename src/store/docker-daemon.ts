import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { ShaleError } from '../internal/errors.js';

/** Where the Docker Engine API listens: $DOCKER_HOST (unix:// or tcp://) or /var/run/docker.sock. */
function engineEndpoint(): { socketPath?: string; host?: string; port?: number } {
  const h = process.env.DOCKER_HOST;
  if (!h) return { socketPath: '/var/run/docker.sock' };
  if (h.startsWith('unix://')) return { socketPath: h.slice('unix://'.length) };
  const u = new URL(h.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port || 2375) };
}

/** `docker-daemon:REF`: the image as a docker-archive stream, straight from the Engine's API (no docker CLI). */
export function exportFromDockerDaemon(ref: string): Promise<IncomingMessage> {
  const endpoint = engineEndpoint();
  return new Promise((resolve, reject) => {
    const req = request({ ...endpoint, method: 'GET', path: `/images/${encodeURIComponent(ref)}/get` }, (res) => {
      if (res.statusCode === 200) return resolve(res);
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const msg = Buffer.concat(parts).toString('utf8').trim();
        let text = msg;
        try {
          text = (JSON.parse(msg) as { message?: string }).message ?? msg;
        } catch {
          /* plain text body */
        }
        reject(new ShaleError(res.statusCode === 404 ? 'NOT_FOUND' : 'FAILED_PRECONDITION', `docker-daemon:${ref}: ${text}`));
      });
    });
    req.on('error', (e) =>
      reject(new ShaleError('FAILED_PRECONDITION', `docker-daemon:${ref}: cannot reach the Docker Engine (${e.message})`, { hint: 'is dockerd running? set DOCKER_HOST' })),
    );
    req.end();
  });
}
