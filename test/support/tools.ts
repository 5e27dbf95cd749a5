/** External tools the interop tests need: a skip locally when missing, a failure in CI. */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export type Tool = 'docker' | 'skopeo' | 'umoci' | 'runc' | 'overlayfs' | 'debootstrap' | 'chromium' | 'registry' | 'newuidmap' | 'useradd' | 'chroot' | 'strace';

const probes: Record<Tool, string[]> = {
  // a real daemon, not just the CLI: the server version needs the Engine to answer
  docker: ['docker', 'version', '--format', '{{.Server.Version}}'],
  skopeo: ['skopeo', '--version'],
  umoci: ['umoci', '--version'],
  runc: ['runc', '--version'],
  // the kernel mounts an overlay here (root, a filesystem that takes overlay upperdirs): what builds use
  overlayfs: [
    'sh',
    '-c',
    'd=$(mktemp -d) && mkdir "$d/l" "$d/u" "$d/w" "$d/m" && mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" && umount "$d/m" && echo overlay; r=$?; rm -rf "$d"; exit $r',
  ],
  debootstrap: ['sh', '-c', 'command -v debootstrap'],
  // Debian's package: renders the analyze HTML report headless
  chromium: ['chromium', '--version'],
  // CNCF distribution from Debian's docker-registry, and htpasswd (apache2-utils) for its bcrypt users
  registry: ['sh', '-c', 'docker-registry --version && command -v htpasswd >/dev/null && command -v openssl >/dev/null'],
  // Debian's uidmap: maps a user's /etc/subuid and /etc/subgid ranges into a user namespace (setuid root)
  newuidmap: ['sh', '-c', 'command -v newuidmap && command -v newgidmap >/dev/null && test -u "$(command -v newuidmap)"'],
  // the rootless tests make ordinary users (as root)
  useradd: ['sh', '-c', 'test "$(id -u)" = 0 && command -v useradd && command -v usermod >/dev/null'],
  // a command run in another root filesystem (coreutils' chroot, as root)
  chroot: ['sh', '-c', 'test "$(id -u)" = 0 && command -v chroot'],
  // Debian's strace: minify traces its probes with it
  strace: ['sh', '-c', 'strace -V | head -n 1'],
};

const cache = new Map<Tool, { ok: boolean; detail: string }>();

/** Whether `name` works here, and its version line or why not. */
export function probeTool(name: Tool): { ok: boolean; detail: string } {
  const hit = cache.get(name);
  if (hit) return hit;
  const [cmd, ...args] = probes[name];
  const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 30_000 });
  const result =
    r.error || r.status !== 0 || r.stdout.trim() === ''
      ? { ok: false, detail: (r.error?.message ?? r.stderr.trim()) || `exit status ${r.status}` }
      : { ok: true, detail: r.stdout.trim() };
  cache.set(name, result);
  return result;
}

/**
 * True when the tool is usable. Otherwise: in CI (CI=true) throws, failing the test, since CI must run the
 * interop tests; elsewhere skips the test and returns false. `optional` tools skip even in CI.
 */
export function requireTool(t: Pick<TestContext, 'skip'>, name: Tool, options: { optional?: boolean } = {}): boolean {
  const { ok, detail } = probeTool(name);
  if (ok) return true;
  if (process.env.CI === 'true' && !options.optional) {
    throw new Error(`${name} is required in CI (CI=true) but is not usable: ${detail}`);
  }
  t.skip(`${name} is not available: ${detail}`);
  return false;
}

/** The Docker Engine's major version (20 for 20.10.24). */
export function dockerServerMajor(): number {
  return Number.parseInt(probeTool('docker').detail, 10);
}
