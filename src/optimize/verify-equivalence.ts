import { isDeepStrictEqual } from 'node:util';
import { compareImages } from '../analyze/index.js';
import type { Image } from '../image/index.js';

/** Caches and temp paths that a slimmer Dockerfile is meant to leave out. */
const REMOVABLE = [
  /^\/var\/lib\/apt\/lists\//,
  /^\/var\/cache\/(apt|apk|yum|dnf|zypp)\//,
  /^\/root\/\.cache\/pip\//,
  /^\/root\/\.npm\//,
  /^\/usr\/local\/share\/\.cache\/yarn\//,
  /^\/(tmp|var\/tmp)\//,
];
/** Files that differ between any two builds of the same Dockerfile (logs and caches stamped with times). */
const VOLATILE = [/^\/var\/log\//, /^\/var\/cache\/ldconfig\/aux-cache$/, /^\/etc\/ld\.so\.cache$/, /^\/var\/cache\/debconf\/[^/]+-old$/, /^\/var\/lib\/dpkg\/[^/]+-old$/];

export interface Equivalence {
  equivalent: boolean;
  /** Caches and temp paths only the original has (what the rewrite is for). */
  removedCaches: string[];
  /** Paths that differ between any two builds (logs, time-stamped caches). */
  volatile: string[];
  /** Paths in the rewrite's cache-mount targets that differ (the mounted caches are not in its layers). */
  cacheDifferences: string[];
  /** Differences that make the images not equivalent. */
  differences: string[];
  /** Config fields that differ. */
  configDifferences: string[];
}

const CONFIG_FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'];

/**
 * Whether `after` (built from the rewritten Dockerfile) is `before` without its caches: the final trees
 * equal path by path (type, mode, owner, link target, content) except for removable caches and temp
 * paths that only `before` has, for volatile files and for anything in `cacheMounts` (the targets of the
 * rewrite's `RUN --mount=type=cache` mounts, kept out of its layers), and the run configuration equal.
 */
export async function compareBuilds(before: Image, after: Image, cacheMounts: string[] = []): Promise<Equivalence> {
  const diff = await compareImages({ name: 'original', image: before }, { name: 'rewritten', image: after });
  const removedCaches: string[] = [];
  const volatile: string[] = [];
  const cacheDifferences: string[] = [];
  const differences: string[] = [];
  const classify = (path: string, what: string, removed: boolean) => {
    if (VOLATILE.some((re) => re.test(path))) volatile.push(path);
    else if (cacheMounts.some((t) => path === t || path.startsWith(`${t}/`))) cacheDifferences.push(path);
    else if (removed && REMOVABLE.some((re) => re.test(path))) removedCaches.push(path);
    else differences.push(`${what} ${path}`);
  };
  for (const r of diff.removed) classify(r.path, 'only in the original:', true);
  for (const a of diff.added) classify(a.path, 'only in the rewrite:', false);
  for (const c of diff.changed) classify(c.path, `changed (${c.what.join(', ')}):`, false);
  const a = (before.config.config ?? {}) as Record<string, unknown>;
  const b = (after.config.config ?? {}) as Record<string, unknown>;
  const configDifferences = CONFIG_FIELDS.filter((f) => !isDeepStrictEqual(a[f], b[f]));
  return { equivalent: differences.length === 0 && configDifferences.length === 0, removedCaches, volatile, cacheDifferences, differences, configDifferences };
}
