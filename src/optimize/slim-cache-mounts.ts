/**
 * Which package-manager caches a RUN can keep in `RUN --mount=type=cache` mounts (out of the layer,
 * reused by the next build), and the clean-ups that become pointless once they are mounted. A mount is
 * planned only where it keeps what the RUN does: apt's lists only when the RUN fetches them itself
 * (`apt-get update`) and no later RUN of the stage reads them from the layer; root's caches (pip, npm,
 * yarn) only when the RUN runs as root.
 */
import { aptSub, isCacheClean, isNpmInstall, isRpmClean, isRpmInstall, isYarnInstall, pipInstall, RPM_CACHE_DIRS, RPM_MANAGERS } from './package-commands.js';
import { commandName, type SimpleCommand } from './shell-commands.js';
import type { ShellCommand } from './shell-script.js';

export interface CacheMount {
  manager: string;
  targets: string[];
  /** `locked` for managers that hold a lock on their cache (apt, dnf, ...): one build at a time uses it. */
  sharing: 'locked' | 'shared';
}

export function cacheMountPlan(cmds: SimpleCommand[], where: { root: boolean; listsNeededLater: boolean; text: string }): CacheMount[] {
  const plan: CacheMount[] = [];
  const apt = cmds.map(aptSub);
  if (apt.some((s) => s === 'install' || s === 'upgrade' || s === 'dist-upgrade') && apt.includes('update') && !where.listsNeededLater) {
    plan.push({ manager: 'apt', targets: ['/var/cache/apt', '/var/lib/apt/lists'], sharing: 'locked' });
  }
  for (const pm of RPM_MANAGERS) if (cmds.some((c) => isRpmInstall(c, pm))) plan.push({ manager: pm, targets: [...RPM_CACHE_DIRS[pm]], sharing: 'locked' });
  if (!where.root) return plan;
  if (cmds.some((c) => pipInstall(c) !== undefined) && !where.text.includes('--no-cache-dir')) plan.push({ manager: 'pip', targets: ['/root/.cache/pip'], sharing: 'shared' });
  if (cmds.some(isNpmInstall)) plan.push({ manager: 'npm', targets: ['/root/.npm'], sharing: 'shared' });
  if (cmds.some(isYarnInstall)) plan.push({ manager: 'yarn', targets: ['/usr/local/share/.cache/yarn'], sharing: 'shared' });
  return plan;
}

/** The `--mount` flags of a plan, in its order. */
export const mountFlags = (plan: CacheMount[]): string =>
  plan.flatMap((p) => p.targets.map((t) => `--mount=type=cache,target=${t}${p.sharing === 'locked' ? ',sharing=locked' : ''}`)).join(' ');

const under = (path: string, targets: string[]): boolean => targets.some((t) => path === t || path.startsWith(`${t}/`));

/** A command that only cleans mounted caches: `apt-get clean`, `npm cache clean`, `dnf clean all`, `rm -rf` of paths in them. */
function cleansOnlyMounted(c: SimpleCommand, targets: string[]): boolean {
  if (c.redirects.length > 0 || c.assignments.length > 0) return false;
  const sub = aptSub(c);
  if (sub === 'clean' || sub === 'autoclean') return under('/var/cache/apt', targets);
  if (isCacheClean(c, 'npm')) return under('/root/.npm', targets);
  if (isCacheClean(c, 'yarn')) return under('/usr/local/share/.cache/yarn', targets);
  for (const pm of RPM_MANAGERS) if (isRpmClean(c, pm)) return RPM_CACHE_DIRS[pm].every((d) => under(d, targets));
  if (commandName(c) !== 'rm') return false;
  const operands = c.argv.slice(1).filter((a) => !a.startsWith('-'));
  return operands.length > 0 && operands.every((a) => !a.includes('$') && under(a, targets));
}

/**
 * Drops, from `&&` chains, the top-level commands that only clean mounted caches (in the layer they
 * removed what the mount now keeps out; on the mount they would throw the next build's cache away).
 * `cont` is the line continuation. Returns whether any was dropped; a script left empty, or not one `&&` chain, is kept as it was.
 */
export function dropCacheCleanups(scripts: { text: string; commands: ShellCommand[] }[], targets: string[], cont: string): boolean {
  let dropped = false;
  for (const s of scripts) {
    if (s.commands.slice(0, -1).some((item) => item.next !== '&&')) continue;
    const kept = s.commands.filter((item) => !(item.group === undefined && item.commands.length === 1 && cleansOnlyMounted(item.commands[0]!, targets)));
    if (kept.length === s.commands.length || kept.length === 0) continue;
    s.commands = kept.map((item, i) => ({ ...item, next: i < kept.length - 1 ? '&&' : '' }));
    s.text = kept.map((item) => item.text.trim()).join(`${cont} && `);
    dropped = true;
  }
  return dropped;
}
