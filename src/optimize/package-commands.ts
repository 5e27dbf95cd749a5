/**
 * What a simple command does with a package manager, decided once for lint's rules and slim's rewrite:
 * `apt-get install`, `apk add`, `dnf upgrade`, `pip install`, `npm ci`, ... and the command that
 * cleans each one's cache. Commands come from the one script reader (shell-commands.ts).
 */
import { commandName, operandsOf, subcommandOf, type SimpleCommand } from './shell-commands.js';

export const named = (c: SimpleCommand, ...names: string[]): boolean => names.includes(commandName(c));

export const APT_VALUED = ['-o', '-c', '-t', '--option', '--config-file', '--target-release', '--default-release'];
/** The apt-get/apt/aptitude subcommand (`install`, `update`, ...). */
export const aptSub = (c: SimpleCommand): string | undefined =>
  named(c, 'apt-get', 'apt', 'aptitude') ? subcommandOf(c, APT_VALUED)?.name : undefined;
export const aptPackages = (c: SimpleCommand): string[] => {
  const sub = subcommandOf(c, APT_VALUED);
  return sub ? operandsOf(c, sub.index + 1, APT_VALUED) : [];
};

export const APK_VALUED = ['--repository', '-X', '--virtual', '-t', '-p', '--root', '--arch', '--keys-dir', '--cache-dir', '--repositories-file'];
export const isApkAdd = (c: SimpleCommand): boolean => named(c, 'apk') && subcommandOf(c, APK_VALUED)?.name === 'add';

export const RPM_MANAGERS = ['yum', 'dnf', 'microdnf', 'zypper'] as const;
export type RpmManager = (typeof RPM_MANAGERS)[number];
export const RPM_VALUED = ['-c', '--config', '--setopt', '--enablerepo', '--disablerepo', '--releasever', '--installroot', '-R', '--root'];
export const rpmManagerOf = (c: SimpleCommand): RpmManager | undefined => RPM_MANAGERS.find((m) => named(c, m));

/** The subcommands that download packages and metadata into the manager's cache (dnf's aliases included). */
const RPM_INSTALLS: Record<RpmManager, readonly string[]> = {
  yum: ['install', 'groupinstall', 'localinstall', 'reinstall'],
  dnf: ['install', 'in', 'upgrade', 'up', 'upgrade-minimal', 'up-min', 'reinstall', 'rei', 'groupinstall', 'localinstall'],
  microdnf: ['install', 'upgrade', 'reinstall'],
  zypper: ['install', 'in'],
};

/** The cache directories of each manager: dnf5 keeps its cache in /var/cache/libdnf5, older dnf and microdnf also in /var/cache/yum. */
export const RPM_CACHE_DIRS: Record<RpmManager, readonly string[]> = {
  yum: ['/var/cache/yum'],
  dnf: ['/var/cache/dnf', '/var/cache/libdnf5', '/var/cache/yum'],
  microdnf: ['/var/cache/yum', '/var/cache/libdnf5', '/var/cache/dnf'],
  zypper: ['/var/cache/zypp'],
};

export const isRpmInstall = (c: SimpleCommand, manager: RpmManager | undefined = rpmManagerOf(c)): boolean =>
  manager !== undefined && named(c, manager) && RPM_INSTALLS[manager].includes(subcommandOf(c, RPM_VALUED)?.name ?? '');

/** `yum clean all`, `dnf clean all`, `microdnf clean all`, `zypper clean`/`zypper cc`. */
export const isRpmClean = (c: SimpleCommand, manager: RpmManager): boolean => {
  if (!named(c, manager)) return false;
  const sub = subcommandOf(c, RPM_VALUED)?.name;
  if (manager === 'zypper') return sub === 'clean' || sub === 'cc';
  return sub === 'clean' && c.argv.includes('all');
};

/** `pip install`, `pip3 install`, `python3 -m pip install`: the pip part of the command. */
export function pipInstall(c: SimpleCommand): SimpleCommand | undefined {
  let pip: SimpleCommand | undefined;
  if (/^pip(\d+(\.\d+)*)?$/.test(commandName(c))) pip = c;
  else if (/^python(\d+(\.\d+)*)?$/.test(commandName(c))) {
    const m = c.argv.indexOf('-m');
    if (m > 0 && c.argv[m + 1] === 'pip') pip = { ...c, argv: c.argv.slice(m + 1) };
  }
  return pip && subcommandOf(pip)?.name === 'install' ? pip : undefined;
}

export const isNpmInstall = (c: SimpleCommand): boolean =>
  named(c, 'npm') && ['install', 'i', 'ci', 'add', 'in', 'isntall'].includes(subcommandOf(c)?.name ?? '');
/** `yarn`, `yarn install`, `yarn add`, `yarn global add`. */
export const isYarnInstall = (c: SimpleCommand): boolean => {
  if (!named(c, 'yarn')) return false;
  const sub = subcommandOf(c, ['--cwd', '--modules-folder', '--cache-folder']);
  return sub === undefined || sub.name === 'install' || sub.name === 'add' || (sub.name === 'global' && c.argv[sub.index + 1] === 'add');
};
export const isCacheClean = (c: SimpleCommand, tool: string): boolean => named(c, tool) && c.argv.includes('cache') && c.argv.includes('clean');

/** The index of the last command that passes `test`, or -1. */
export const lastIndexOf = <T>(items: readonly T[], test: (item: T) => boolean): number => {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i]!)) return i;
  return -1;
};

/** Whether a command after the last one that fills a cache cleans it (a clean before the install cleans nothing). */
export const cleanedAfterLast = <T>(commands: readonly T[], fills: (c: T) => boolean, cleans: (c: T) => boolean): boolean => {
  const last = lastIndexOf(commands, fills);
  return last >= 0 && commands.slice(last + 1).some(cleans);
};
