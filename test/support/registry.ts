/**
 * A real registry for the tests: Debian's docker-registry (CNCF distribution) serving filesystem storage
 * from a temp dir on 127.0.0.1:<free port>, optionally with htpasswd users and TLS from a test CA.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export interface RegistryOptions {
  /** `user: password` pairs served with htpasswd (bcrypt) auth. */
  users?: Record<string, string>;
  /** TLS certificate and key files (see `makeTestCa`). */
  tls?: { cert: string; key: string };
}

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** The registry's storage root. */
  dataDir: string;
  start(): Promise<void>;
  /** Kills the registry at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** The data file of a blob in the registry's storage. */
  blobPath(digest: string): string;
  /** Every blob digest the registry stores. */
  blobs(): string[];
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Starts a registry in `work` (stopped when `t` ends). */
export async function startRegistry(t: Pick<TestContext, 'after'>, work: string, options: RegistryOptions = {}): Promise<TestRegistry> {
  const port = await freePort();
  const dataDir = join(work, 'registry-data');
  mkdirSync(dataDir, { recursive: true });
  const lines = ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${dataDir}`, '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`];
  if (options.tls) lines.push('  tls:', `    certificate: ${options.tls.cert}`, `    key: ${options.tls.key}`);
  if (options.users) {
    const htpasswd = join(work, 'htpasswd');
    const entries = Object.entries(options.users).map(([u, p]) => execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim());
    writeFileSync(htpasswd, `${entries.join('\n')}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: shale-test', `    path: ${htpasswd}`);
  }
  const config = join(work, 'registry.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start on port ${port}:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  t.after(kill);
  await start();
  const blobRoot = join(dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256');
  return {
    host: `127.0.0.1:${port}`,
    dataDir,
    start,
    kill,
    blobPath: (digest) => join(blobRoot, digest.slice(7, 9), digest.slice(7), 'data'),
    blobs: () => readdirSync(blobRoot).flatMap((p) => readdirSync(join(blobRoot, p)).map((h) => `sha256:${h}`)),
  };
}

/** A test CA and a server certificate for 127.0.0.1/localhost signed by it; `caDir` holds `ca.crt` (for skopeo --cert-dir). */
export function makeTestCa(dir: string): { caCert: string; caDir: string; cert: string; key: string } {
  const caDir = join(dir, 'ca');
  mkdirSync(caDir, { recursive: true });
  const caCert = join(caDir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '2', '-subj', '/CN=shale test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { caCert, caDir, cert, key };
}
