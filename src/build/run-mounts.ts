/**
 * The mounts of `RUN --mount` for one step: cache directories kept in the store across builds, bind
 * mounts of the context or of a stage/image (rw writes thrown away), tmpfs, secrets (files in the step's
 * bundle directory, removed with it, never in a layer) and ssh-agent sockets (a proxy socket owned as the
 * mount asks). Mount points the step needed are removed afterwards when still empty, as BuildKit does,
 * so they leave nothing in the layer but their parent directory's change.
 */
import { cp, chmod, chown, lstat, mkdir, open, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import { ShaleError, hasErrno } from '../internal/errors.js';
import { isProcessAlive, withFileLock } from '../internal/lock.js';
import type { RunMount } from '../dockerfile/run-mount.js';
import type { RuntimeSpec } from '../runtime/index.js';
import { resolveInRoot } from '../snapshot/index.js';
import type { SourceTree } from './build-context.js';
import type { BuildSecrets } from './build-secrets.js';
import { MountStubs } from './mount-stubs.js';

/** Where cache mounts live in the store: one directory per cache (id and seed), instances below it. */
export const cacheMountsDir = (storeRoot: string): string => join(storeRoot, 'shale', 'cache-mounts');

/** A `from=` of a mount made ready: its root filesystem (a throwaway snapshot). */
export interface MountSource {
  rootfs: string;
  remove: () => Promise<void>;
}

export interface RunMountInputs {
  storeRoot: string;
  context: SourceTree;
  secrets: BuildSecrets;
  /** The root filesystem of a mount's `from=` (stage or image). */
  source: (from: string) => Promise<MountSource>;
  /** The cache key of a mount's `from=` without making its root filesystem. */
  sourceKey: (from: string) => Promise<string>;
  where: string;
  /** The directory names (below cacheMountsDir) of the cache mounts this build opened: filled in as they are. */
  usedCaches: Set<string>;
}

/**
 * The part of a RUN's cache key its mounts make, as BuildKit keys them: every spec, plus the content of
 * a bind mount's source (the context's files, or the stage/image it comes from); never a cache's or a
 * secret's content.
 */
export async function mountsCacheKey(mounts: readonly RunMount[], inputs: RunMountInputs): Promise<string> {
  if (mounts.length === 0) return '';
  const parts: unknown[] = [];
  for (const m of mounts) {
    let content = '';
    if (m.type === 'bind' && m.from === undefined) content = await inputs.context.sourceName(await inputs.context.resolve([m.source || '.']));
    else if (m.from !== undefined) content = await inputs.sourceKey(m.from);
    parts.push({ ...m, content });
  }
  return JSON.stringify(parts);
}

/**
 * Runs `fn` with the mounts of one RUN in place (what the runtime spec gets and the extra environment);
 * `dir` is the step's bundle directory (removed by the caller). Afterwards the mount points made are
 * removed and caches, sockets and snapshots freed.
 */
export async function withRunMounts<T>(
  mounts: readonly RunMount[],
  rootfs: string,
  dir: string,
  inputs: RunMountInputs,
  fn: (p: { mounts: RuntimeSpec['mounts']; env: string[] }) => Promise<T>,
): Promise<T> {
  const out: RuntimeSpec['mounts'] = [];
  const env: string[] = [];
  const releases: (() => Promise<void>)[] = [];
  const stubs = new MountStubs(rootfs);
  try {
    for (const [i, m] of mounts.entries()) {
      const bind = (source: string, readonly: boolean) => out.push({ destination: m.target, type: 'bind', source, options: ['rbind', readonly ? 'ro' : 'rw'] });
      switch (m.type) {
        case 'tmpfs':
          await stubs.make(m.target, 'dir');
          out.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.size !== undefined ? [`size=${m.size}`] : [])] });
          break;
        case 'bind': {
          const host = join(dir, `bind-${i}`);
          let isDir: boolean;
          if (m.from === undefined) {
            // the context as the build sees it (.dockerignore applied), copied so rw writes are thrown away
            const [src] = await inputs.context.resolve([m.source || '.']);
            isDir = (await stat(src!.hostPath)).isDirectory();
            const root = inputs.context.root;
            await cp(src!.hostPath, host, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, filter: (p) => p === src!.hostPath || !inputs.context.excluded(relative(root, p)) });
          } else {
            const source = await inputs.source(m.from);
            releases.push(source.remove);
            const path = await resolveInRoot(source.rootfs, m.source || '/');
            const st = await stat(path).catch(() => {
              throw new ShaleError('NOT_FOUND', `${inputs.where}: RUN --mount from=${m.from}: ${m.source || '/'} not found`);
            });
            isDir = st.isDirectory();
            // a snapshot of its own: rw writes there go with it
            await cp(path, host, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
          }
          await stubs.make(m.target, isDir ? 'dir' : 'file');
          bind(host, m.readonly);
          break;
        }
        case 'cache': {
          const cache = await openCache(m, inputs);
          releases.push(cache.release);
          await stubs.make(m.target, 'dir');
          bind(cache.path, m.readonly);
          break;
        }
        case 'secret': {
          const value = inputs.secrets.get(m.id);
          if (value === undefined) {
            if (m.required) throw new ShaleError('NOT_FOUND', `${inputs.where}: secret ${m.id}: not found`, { hint: `give it with --secret id=${m.id},src=FILE or id=${m.id},env=VAR` });
            break;
          }
          if (m.env !== undefined) env.push(`${m.env}=${value.toString('utf8')}`);
          if (m.target === '') break;
          const host = join(dir, `secret-${i}`);
          await writeFile(host, value, { mode: 0o600 });
          await chown(host, m.uid ?? 0, m.gid ?? 0);
          await chmod(host, m.mode ?? 0o400);
          await stubs.make(m.target, 'file');
          bind(host, true);
          break;
        }
        case 'ssh': {
          const agent = inputs.secrets.sshAgent(m.id);
          if (agent === undefined) {
            if (m.required) throw new ShaleError('NOT_FOUND', `${inputs.where}: no SSH agent socket was given for id "${m.id}"`, { hint: m.id === 'default' ? 'build with --ssh default (forwards $SSH_AUTH_SOCK)' : `build with --ssh ${m.id}=/path/to/agent.sock` });
            break;
          }
          const socket = join(dir, `ssh-${i}.sock`);
          const server = await proxySocket(socket, agent);
          releases.push(() => new Promise<void>((r) => server.close(() => r())));
          await chown(socket, m.uid ?? 0, m.gid ?? 0);
          await chmod(socket, m.mode ?? 0o600);
          await stubs.make(m.target, 'file');
          bind(socket, false);
          if (!env.some((e) => e.startsWith('SSH_AUTH_SOCK='))) env.push(`SSH_AUTH_SOCK=${m.target}`);
          break;
        }
      }
    }
    return await fn({ mounts: out, env });
  } finally {
    await stubs.remove();
    for (const r of releases.reverse()) await r().catch(() => undefined);
  }
}

/**
 * Mount points made in the root filesystem for a step, each missing path component noted (deepest
 * first); afterwards each is removed when it is still an empty directory or file, and its parent gets
 * back its times.
 */
/** A socket at `path` whose connections are passed to the agent at `agent`. */
function proxySocket(path: string, agent: string): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(agent);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).pipe(upstream.on('error', close)).pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/**
 * A cache mount's directory, made on first use (mode, uid, gid; seeded from `from`/`source` when given).
 * shared: every user at once; locked: one step at a time (others wait); private: a step finding the
 * cache in use gets another instance of it (a new, empty one when every instance is busy), as BuildKit does.
 */
async function openCache(m: RunMount, inputs: RunMountInputs): Promise<{ path: string; release: () => Promise<void> }> {
  const seed = m.from !== undefined ? await inputs.sourceKey(m.from) : '';
  const name = createHash('sha256').update(JSON.stringify([m.id, seed, m.from === undefined ? '' : m.source])).digest('hex').slice(0, 32);
  const base = join(cacheMountsDir(inputs.storeRoot), name);
  inputs.usedCaches.add(name);
  await mkdir(base, { recursive: true });
  await writeFile(join(base, 'id'), `${m.id}\n`);
  const make = async (path: string) => {
    if (await lstat(path).then(() => true, () => false)) return;
    const tmp = `${path}.new-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    if (m.from !== undefined) {
      const src = await inputs.source(m.from);
      try {
        await cp(await resolveInRoot(src.rootfs, m.source || '/'), tmp, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      } finally {
        await src.remove();
      }
    } else await mkdir(tmp);
    await chown(tmp, m.uid ?? 0, m.gid ?? 0);
    await chmod(tmp, m.mode ?? 0o755);
    await rename(tmp, path).catch(async (e) => {
      await rm(tmp, { recursive: true, force: true });
      if (!hasErrno(e, 'ENOTEMPTY') && !hasErrno(e, 'EEXIST')) throw e;
    });
  };
  if (m.sharing === 'private') {
    for (let i = 0; ; i++) {
      const busy = join(base, `instance-${i}.busy`);
      if (!(await claim(busy))) continue;
      const path = join(base, `instance-${i}`);
      await make(path);
      return { path, release: () => unlink(busy).catch(() => undefined) };
    }
  }
  const path = join(base, 'instance-0');
  await make(path);
  if (m.sharing !== 'locked') return { path, release: async () => undefined };
  // held until release: the lock's callback waits on a promise the release resolves
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let acquired!: () => void;
  const held = new Promise<void>((r) => (acquired = r));
  const done = withFileLock(join(base, 'instance-0.lock'), async () => {
    acquired();
    await released;
  }, 24 * 3600_000);
  await Promise.race([held, done]);
  return {
    path,
    release: async () => {
      release();
      await done;
    },
  };
}

/** Takes the busy marker of a private cache instance unless a live process holds it. */
async function claim(path: string): Promise<boolean> {
  try {
    const f = await open(path, 'wx');
    await f.writeFile(String(process.pid));
    await f.close();
    return true;
  } catch (e) {
    if (!hasErrno(e, 'EEXIST')) throw e;
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && isProcessAlive(pid)) return false;
    await unlink(path).catch(() => undefined);
    return claim(path);
  }
}
