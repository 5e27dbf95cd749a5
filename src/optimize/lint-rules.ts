/**
 * The size rules of `shale lint`: each a shale ID (SL10xx), the hadolint ID where hadolint has the
 * same check, a default severity and a check over the LintModel. Rules about what ends up in the
 * image look at the shipping stages only (the last stage and the stages it is built FROM); the
 * cache-busting rule (SL1013) looks at every stage.
 */
import { posix } from 'node:path';
import type { AddInstruction, CopyInstruction, Instruction, RunInstruction } from '../dockerfile/index.js';
import { isUnder, resolveIn, type CommandAt, type LintModel, type StageModel, type Step } from './lint-model.js';
import { commandName, hasFlag, operandsOf, subcommandOf, type SimpleCommand } from './shell-commands.js';
import {
  APK_VALUED,
  aptPackages,
  aptSub,
  cleanedAfterLast,
  isApkAdd,
  isCacheClean,
  isNpmInstall,
  isRpmClean,
  isRpmInstall,
  isYarnInstall,
  lastIndexOf,
  named,
  pipInstall,
  RPM_CACHE_DIRS,
  RPM_MANAGERS,
  RPM_VALUED,
  rpmManagerOf,
  type RpmManager,
} from './package-commands.js';

/** hadolint's levels; shale's own rules use error, warning and info, a config `override` may give style. */
export type Severity = 'error' | 'warning' | 'info' | 'style';

/** One finding: the rule, where (1-based line of the instruction), how bad, what and how to fix it. */
export interface Finding {
  rule: string;
  /** hadolint's ID for the same check, when it has one. */
  hadolint?: string;
  line: number;
  /** Every line the finding involves, ascending, when it is more than one (`line` is among them). */
  lines?: number[];
  severity: Severity;
  message: string;
  fix: string;
}

export interface LintRule {
  id: string;
  /** hadolint IDs of the same check (some rules map to one per package manager). */
  hadolint?: readonly string[];
  severity: Severity;
  /** One line: what the rule looks for. */
  title: string;
  check: (model: LintModel) => Finding[];
}

// ---------------------------------------------------------------------------------------------
// Helpers over commands

const runSteps = (steps: readonly Step[]): (Step & { inst: RunInstruction })[] =>
  steps.filter((s): s is Step & { inst: RunInstruction } => s.inst.kind === 'RUN');

/** The absolute paths a command removes (`rm`), resolved against its directory. */
const removedBy = (c: CommandAt): string[] => (named(c, 'rm') ? operandsOf(c, 1).map((p) => resolveIn(c.cwd, p)) : []);

/** True when the command removes one of `dirs` or something below it (`rm -rf /var/lib/apt/lists/*`). */
const removesUnder = (c: CommandAt, dirs: readonly string[]): boolean => removedBy(c).some((p) => dirs.some((d) => isUnder(p, d)));

/**
 * True when, after the last command that fills a cache, a command cleans it: `clean` or an `rm` of one
 * of `dirs`. A clean before the install cleans nothing that stays.
 */
const cleansAfter = (commands: readonly CommandAt[], fills: (c: CommandAt) => boolean, dirs: readonly string[], clean: (c: CommandAt) => boolean = () => false): boolean =>
  cleanedAfterLast(commands, fills, (c) => clean(c) || removesUnder(c, dirs));

/**
 * The targets of a RUN's cache and tmpfs mounts (`--mount=type=cache,target=...`, `type=tmpfs`): what
 * the RUN writes there never reaches its layer.
 */
function cacheMounts(run: RunInstruction): string[] {
  return run.mounts.flatMap((spec) => {
    const kv = new Map(spec.split(',').map((p) => [p.split('=')[0]!.trim(), p.slice(p.indexOf('=') + 1)] as [string, string]));
    const target = kv.get('target') ?? kv.get('dst') ?? kv.get('destination');
    return (kv.get('type') === 'cache' || kv.get('type') === 'tmpfs') && target ? [target] : [];
  });
}
const mountsCache = (run: RunInstruction, test: (target: string) => boolean): boolean => cacheMounts(run).some(test);

const shipping = (m: LintModel) => runSteps(m.shippingSteps);

const finding = (
  rule: { id: string; severity: Severity },
  line: number,
  message: string,
  fix: string,
  extra: { hadolint?: string; lines?: number[]; severity?: Severity } = {},
): Finding => {
  const lines = [...new Set(extra.lines ?? [])].sort((a, b) => a - b);
  return {
    rule: rule.id,
    ...(extra.hadolint ? { hadolint: extra.hadolint } : {}),
    line,
    ...(lines.length > 1 ? { lines } : {}),
    severity: extra.severity ?? rule.severity,
    message,
    fix,
  };
};

const listLines = (lines: readonly number[]): string =>
  lines.length <= 2 ? lines.join(' and ') : `${lines.slice(0, -1).join(', ')} and ${lines[lines.length - 1]}`;

// ---------------------------------------------------------------------------------------------
// Rule 1: consecutive RUNs

const runFlags = (r: RunInstruction): string => JSON.stringify([r.mounts, r.network ?? null, r.security ?? null]);

const consecutiveRuns: LintRule = {
  id: 'SL1001',
  hadolint: ['DL3059'],
  severity: 'info',
  title: 'Consecutive RUN instructions that can be chained into one',
  check(m) {
    const out: Finding[] = [];
    let group: RunInstruction[] = [];
    let prev: Step | undefined;
    const close = () => {
      if (group.length > 1) {
        const lines = group.map((r) => r.line);
        out.push(
          finding(this, group[1]!.line, `RUN instructions at lines ${listLines(lines)} make ${group.length} layers; what an early one writes and a later one deletes stays in the image`, 'chain them into one RUN with && (or a heredoc), deleting temporary files in the same RUN', { hadolint: 'DL3059', lines }),
        );
      }
      group = [];
    };
    // ONBUILD triggers run one after another in the images built FROM this one: a sequence of their own
    for (const steps of [m.shippingSteps.filter((s) => !s.onbuild), m.shippingSteps.filter((s) => s.onbuild)]) {
      prev = undefined;
      for (const step of steps) {
        const adjacent = prev !== undefined && prev.stage === step.stage && prev.inst.kind === 'RUN';
        if (step.inst.kind === 'RUN') {
          if (!(adjacent && runFlags(prev!.inst as RunInstruction) === runFlags(step.inst))) close();
          group.push(step.inst);
        } else close();
        prev = step;
      }
      close();
    }
    return out.sort((a, b) => a.line - b.line);
  },
};

// ---------------------------------------------------------------------------------------------
// Rules 2 and 3: apt-get

const APT_LISTS = '/var/lib/apt/lists';

const aptUpdateAlone: LintRule = {
  id: 'SL1002',
  severity: 'warning',
  title: 'apt-get update in a RUN that installs nothing',
  check(m) {
    return shipping(m).flatMap((s) => {
      const subs = s.commands.map(aptSub);
      if (!subs.includes('update') || subs.includes('install')) return [];
      return [finding(this, s.inst.line, 'apt-get update runs in a RUN without apt-get install: its package lists (tens of MB) stay in this layer, and a cached layer gives later installs stale lists', 'run apt-get update && apt-get install ... && rm -rf /var/lib/apt/lists/* in one RUN')];
    });
  },
};

const aptListsKept: LintRule = {
  id: 'SL1003',
  hadolint: ['DL3009'],
  severity: 'warning',
  title: 'apt lists not removed in the RUN that runs apt-get update/install',
  check(m) {
    return shipping(m).flatMap((s) => {
      const subs = s.commands.map(aptSub);
      if (!subs.includes('update') && !subs.includes('install')) return [];
      if (cleansAfter(s.commands, (c) => ['update', 'install'].includes(aptSub(c) ?? ''), [APT_LISTS]) || mountsCache(s.inst, (t) => isUnder(APT_LISTS, t) || isUnder(t, APT_LISTS))) return [];
      return [finding(this, s.inst.line, `apt-get ${subs.includes('update') ? 'update' : 'install'} leaves ${APT_LISTS} in the layer`, 'end the same RUN with && rm -rf /var/lib/apt/lists/*', { hadolint: 'DL3009' })];
    });
  },
};

// Rule 3
const aptRecommends: LintRule = {
  id: 'SL1004',
  hadolint: ['DL3015'],
  severity: 'info',
  title: 'apt-get install without --no-install-recommends',
  check(m) {
    return shipping(m).flatMap((s) =>
      s.commands
        .filter((c) => aptSub(c) === 'install' && !hasFlag(c, '--no-install-recommends') && !c.argv.some((a) => /^APT::Install-Recommends=(false|0|no)$/i.test(a)))
        .slice(0, 1)
        .map(() => finding(this, s.inst.line, 'apt-get install without --no-install-recommends also installs recommended packages', 'add --no-install-recommends (then add back any package really needed)', { hadolint: 'DL3015' })),
    );
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 4: apk

const apkCache: LintRule = {
  id: 'SL1005',
  hadolint: ['DL3019'],
  severity: 'info',
  title: 'apk add without --no-cache',
  check(m) {
    return shipping(m).flatMap((s) => {
      const adds = s.commands.filter((c) => isApkAdd(c) && !hasFlag(c, '--no-cache'));
      if (adds.length === 0 || cleansAfter(s.commands, (c) => adds.includes(c), ['/var/cache/apk']) || mountsCache(s.inst, (t) => isUnder(t, '/var/cache/apk') || isUnder('/var/cache/apk', t))) return [];
      return [finding(this, s.inst.line, 'apk add without --no-cache keeps the package index in /var/cache/apk', 'use apk add --no-cache (no apk update needed)', { hadolint: 'DL3019' })];
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 5: pip

/**
 * pip disables its cache when PIP_NO_CACHE_DIR is set to any non-empty value, `false`/`0`/`off`/`no`
 * included (pip keeps that reading for backward compatibility; a value that is not a truth value makes
 * pip fail). The value a pip command sees: ENV/ARG, an earlier `export`, or its own prefix.
 */
const pipCacheDisabled = (c: CommandAt): boolean => (c.env.get('PIP_NO_CACHE_DIR') ?? '') !== '';

const pipCache: LintRule = {
  id: 'SL1006',
  hadolint: ['DL3042'],
  severity: 'warning',
  title: 'pip install without --no-cache-dir',
  check(m) {
    return shipping(m).flatMap((s) => {
      const home = s.env.get('HOME') ?? '/root';
      const cacheDirs = ['/root/.cache/pip', `${home}/.cache/pip`, '/root/.cache', `${home}/.cache`];
      if (mountsCache(s.inst, (t) => t.includes('.cache/pip') || cacheDirs.includes(t))) return [];
      const keeps = (c: CommandAt): boolean => {
        const pip = pipInstall(c);
        return pip !== undefined && !hasFlag(pip, '--no-cache-dir') && !pipCacheDisabled(c);
      };
      if (!s.commands.some(keeps) || cleansAfter(s.commands, keeps, cacheDirs)) return [];
      return [finding(this, s.inst.line, 'pip install keeps its download and wheel cache (~/.cache/pip) in the layer', 'use pip install --no-cache-dir, or set ENV PIP_NO_CACHE_DIR=1 before it', { hadolint: 'DL3042' })];
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 6: npm and yarn

const npmCache: LintRule = {
  id: 'SL1007',
  severity: 'warning',
  title: 'npm install/ci without npm cache clean --force in the same RUN',
  check(m) {
    return shipping(m).flatMap((s) => {
      const i = lastIndexOf(s.commands, isNpmInstall);
      if (i < 0) return [];
      const home = s.env.get('HOME') ?? '/root';
      if (cleansAfter(s.commands, isNpmInstall, ['/root/.npm', `${home}/.npm`], (c) => isCacheClean(c, 'npm'))) return [];
      if (mountsCache(s.inst, (t) => t.endsWith('/.npm') || t.includes('.npm/'))) return [];
      return [finding(this, s.inst.line, `npm ${subcommandOf(s.commands[i]!)?.name} leaves its package cache (~/.npm) in the layer`, 'end the same RUN with && npm cache clean --force')];
    });
  },
};

const yarnCache: LintRule = {
  id: 'SL1008',
  hadolint: ['DL3060'],
  severity: 'warning',
  title: 'yarn install without yarn cache clean in the same RUN',
  check(m) {
    return shipping(m).flatMap((s) => {
      if (!s.commands.some(isYarnInstall)) return [];
      const home = s.env.get('HOME') ?? '/root';
      if (cleansAfter(s.commands, isYarnInstall, ['/usr/local/share/.cache/yarn', `${home}/.cache/yarn`], (c) => isCacheClean(c, 'yarn'))) return [];
      if (mountsCache(s.inst, (t) => t.includes('yarn'))) return [];
      return [finding(this, s.inst.line, 'yarn install leaves its package cache in the layer', 'end the same RUN with && yarn cache clean', { hadolint: 'DL3060' })];
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 7: yum, dnf, microdnf, zypper

const RPM_CLEAN: Record<RpmManager, { hadolint: string; clean: string }> = {
  yum: { hadolint: 'DL3032', clean: 'yum clean all' },
  dnf: { hadolint: 'DL3040', clean: 'dnf clean all' },
  microdnf: { hadolint: 'DL3040', clean: 'microdnf clean all' },
  zypper: { hadolint: 'DL3036', clean: 'zypper clean --all' },
};

const rpmCache: LintRule = {
  id: 'SL1009',
  hadolint: ['DL3032', 'DL3040', 'DL3036'],
  severity: 'warning',
  title: 'yum/dnf/microdnf/zypper install without the matching clean after it in the same RUN',
  check(m) {
    return shipping(m).flatMap((s) => {
      const managers = RPM_MANAGERS.filter((manager) => s.commands.some((c) => isRpmInstall(c, manager)));
      return managers.flatMap((manager) => {
        const { hadolint, clean } = RPM_CLEAN[manager];
        const cacheDirs = RPM_CACHE_DIRS[manager];
        if (cleansAfter(s.commands, (c) => isRpmInstall(c, manager), cacheDirs, (c) => isRpmClean(c, manager))) return [];
        if (mountsCache(s.inst, (t) => cacheDirs.some((d) => isUnder(t, d) || isUnder(d, t)))) return [];
        const verb = subcommandOf(s.commands[lastIndexOf(s.commands, (c) => isRpmInstall(c, manager))]!, RPM_VALUED)?.name;
        return [finding(this, s.inst.line, `${manager} ${verb} leaves its metadata and package cache (${cacheDirs[0]}) in the layer`, `end the same RUN with && ${clean}`, { hadolint })];
      });
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 8: created in one RUN, removed in a later one

/**
 * `tree`: a new directory whose whole content the command wrote (`git clone`): removing anything inside
 * it leaves waste too. Other outputs (a file, a made directory, a directory extracted into) match only
 * a removal of the path itself or of a directory above it.
 */
type OutputKind = 'file' | 'dir' | 'tree';
interface Output {
  path: string;
  kind: OutputKind;
}

/** The value of an option: `-o X`, `-oX`, `-abo X`, `--output X`, `--output=X`. */
function optionValues(c: SimpleCommand, short: string | undefined, long: string | undefined): string[] {
  const out: string[] = [];
  for (let i = 1; i < c.argv.length; i++) {
    const a = c.argv[i]!;
    if (long && a === long) out.push(c.argv[++i] ?? '');
    else if (long && a.startsWith(`${long}=`)) out.push(a.slice(long.length + 1));
    else if (short && /^-[A-Za-z0-9]/.test(a) && !a.startsWith('--')) {
      const at = a.indexOf(short[1]!, 1);
      if (at < 0 || !/^[A-Za-z0-9]*$/.test(a.slice(1, at))) continue;
      const rest = a.slice(at + 1);
      out.push(rest !== '' ? rest : (c.argv[++i] ?? ''));
    }
  }
  return out.filter((v) => v !== '');
}

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
const urlBasename = (u: string): string => posix.basename(u.replace(/[?#].*$/, '').replace(/\/+$/, ''));

/** The paths a command writes, resolved against its directory. */
export function outputsOf(c: CommandAt): Output[] {
  const out: Output[] = [];
  const add = (p: string | undefined, kind: OutputKind = 'file') => {
    if (!p || p === '-' || p.startsWith('/dev/') || p.startsWith('/proc/') || /[`]|\$\(/.test(p)) return;
    out.push({ path: resolveIn(c.cwd, p), kind });
  };
  for (const r of c.redirects) if (['>', '>>', '>|', '&>', '&>>'].includes(r.op) && !/^&?\d*$/.test(r.target)) add(r.target);
  const name = commandName(c);
  if (name === 'dd') for (const a of c.argv.slice(1)) if (a.startsWith('of=')) add(a.slice(3));
  if (name === 'touch') for (const p of operandsOf(c, 1, ['-d', '-t', '-r', '--date', '--reference'])) add(p);
  if (name === 'mkdir') for (const p of operandsOf(c, 1, ['-m', '--mode'])) add(p, 'dir');
  if (name === 'curl') {
    const dir = optionValues(c, undefined, '--output-dir')[0];
    const inDir = (p: string) => (dir && !p.startsWith('/') ? posix.join(dir, p) : p);
    for (const o of optionValues(c, '-o', '--output')) add(inDir(o));
    if (hasFlag(c, '-O', '--remote-name', '--remote-name-all')) for (const u of c.argv.filter(isUrl)) add(inDir(urlBasename(u)));
  }
  if (name === 'wget') {
    const doc = optionValues(c, '-O', '--output-document');
    if (doc.length > 0) doc.forEach((d) => add(d));
    else {
      const prefix = optionValues(c, '-P', '--directory-prefix')[0];
      for (const u of c.argv.filter(isUrl)) add(prefix ? posix.join(prefix, urlBasename(u)) : urlBasename(u));
    }
  }
  if (name === 'git' && subcommandOf(c, ['-C', '-c'])?.name === 'clone') {
    const sub = subcommandOf(c, ['-C', '-c'])!;
    const ops = operandsOf(c, sub.index + 1, ['-b', '--branch', '--depth', '-o', '--origin', '-c', '--config', '--reference', '--separate-git-dir', '-j', '--jobs', '--filter', '-u', '--upload-pack', '--template', '--shallow-since', '--shallow-exclude']);
    if (ops[0]) add(ops[1] ?? urlBasename(ops[0]).replace(/\.git$/, ''), 'tree');
  }
  if (name === 'tar') {
    const first = c.argv[1] ?? '';
    const oldStyle = first !== '' && !first.startsWith('-') ? first : '';
    const extract = oldStyle.includes('x') || hasFlag(c, '-x', '--extract', '--get');
    const create = oldStyle.includes('c') || hasFlag(c, '-c', '--create');
    if (extract) for (const d of optionValues(c, '-C', '--directory')) add(d, 'dir');
    if (create) {
      const file = oldStyle.includes('f') ? c.argv[2] : optionValues(c, '-f', '--file')[0];
      add(file);
    }
  }
  if (name === 'unzip') for (const d of optionValues(c, '-d', undefined)) add(d, 'dir');
  if (name === 'cp' || name === 'mv') {
    const ops = operandsOf(c, 1, ['-t', '--target-directory', '-S', '--suffix']);
    if (ops.length >= 2) add(ops[ops.length - 1], 'file');
  }
  return out;
}

/** A glob in an rm operand as a test of paths (the match covers what lies below it). */
function removes(removed: string, created: Output): boolean {
  if (/[*?[]/.test(removed)) {
    const re = new RegExp(
      `^${removed
        .split('')
        .map((ch) => (ch === '*' ? '[^/]*' : ch === '?' ? '[^/]' : /[.+^${}()|\\[\]]/.test(ch) ? `\\${ch}` : ch))
        .join('')}(/.*)?$`,
    );
    return re.test(created.path);
  }
  return isUnder(created.path, removed) || (created.kind === 'tree' && isUnder(removed, created.path) && removed !== created.path);
}

const createdThenRemoved: LintRule = {
  id: 'SL1010',
  severity: 'error',
  title: 'A path created in one RUN and removed in a later one',
  check(m) {
    const created = new Map<string, { line: number; kind: OutputKind }>();
    const out: Finding[] = [];
    for (const s of shipping(m).filter((step) => !step.onbuild)) {
      // per creating line: what this RUN removes of it (the removed path, or the created one below it)
      const hits = new Map<number, string[]>();
      const mine = new Map<string, OutputKind>();
      for (const c of s.commands) {
        for (const r of removedBy(c)) {
          for (const [p, kind] of mine) if (removes(r, { path: p, kind })) mine.delete(p);
          for (const [p, info] of created) {
            if (!removes(r, { path: p, kind: info.kind })) continue;
            const inside = r !== p && isUnder(r, p);
            hits.set(info.line, [...(hits.get(info.line) ?? []), inside ? `${r} (inside ${p})` : p]);
            if (!inside) created.delete(p);
          }
        }
        for (const o of outputsOf(c)) mine.set(o.path, o.kind);
      }
      for (const [line, paths] of hits) {
        const what = paths.length === 1 ? paths[0]! : `${paths.slice(0, 3).join(', ')}${paths.length > 3 ? `, and ${paths.length - 3} more` : ''}`;
        const path = paths[0]!.replace(/ \(inside .*\)$/, '');
        out.push(
          finding(this, s.inst.line, `${what} is created by the RUN at line ${line} and removed by the RUN at line ${s.inst.line}: the removal only hides it, its bytes stay in line ${line}'s layer`, `remove it in the RUN at line ${line} that creates it (... && rm -rf ${path}), or chain both RUNs into one`, { lines: [line, s.inst.line] }),
        );
      }
      for (const [p, kind] of mine) if (!created.has(p)) created.set(p, { line: s.inst.line, kind });
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 9: chmod/chown of copied files

interface Copied {
  path: string;
  line: number;
  kind: 'COPY' | 'ADD';
}

/**
 * What a COPY/ADD puts where: into a directory destination (`dir/`, `.`, several sources) each source
 * lands under its own name, except that a directory's content (`.`, `src/`) lands in the destination
 * itself; a single source copied to a plain destination becomes that path.
 */
function copiedPaths(s: Step & { inst: CopyInstruction | AddInstruction }): string[] {
  const inst = s.inst;
  const dest = resolveIn(s.workdir, inst.dest);
  const sources = [...inst.sources, ...inst.heredocs.map((h) => h.name)];
  const intoDir = /(^|\/)\.{0,2}$/.test(inst.dest) || sources.length > 1;
  return sources.map((src) => {
    if (!intoDir || /(^|\/)\.?\/?$/.test(src) || src.endsWith('/') || isUrl(src)) return dest;
    return posix.join(dest, posix.basename(src));
  });
}

const permissionAfterCopy: LintRule = {
  id: 'SL1011',
  severity: 'warning',
  title: 'chmod/chown in a RUN of files a COPY/ADD put there',
  check(m) {
    const copied: Copied[] = [];
    const out: Finding[] = [];
    for (const s of m.shippingSteps.filter((step) => !step.onbuild)) {
      if (s.inst.kind === 'COPY' || s.inst.kind === 'ADD') {
        for (const p of copiedPaths(s as Step & { inst: CopyInstruction | AddInstruction })) copied.push({ path: p, line: s.inst.line, kind: s.inst.kind });
        continue;
      }
      if (s.inst.kind !== 'RUN') continue;
      const madeHere = new Set<string>();
      for (const c of s.commands) {
        for (const o of outputsOf(c)) madeHere.add(o.path);
        const tool = commandName(c);
        if (tool !== 'chmod' && tool !== 'chown' && tool !== 'chgrp') continue;
        const ops = operandsOf(c, 1, ['--reference']);
        const spec = c.argv.slice(1).some((a) => a.startsWith('--reference=')) ? undefined : ops.shift();
        const recursive = hasFlag(c, '-R', '--recursive');
        // what this RUN made itself is not a copy
        const targets = ops.map((p) => resolveIn(c.cwd, p)).filter((t) => !madeHere.has(t));
        const hit = copied.find((cp) => targets.some((t) => isUnder(t, cp.path) || (recursive && isUnder(cp.path, t))));
        if (!hit) continue;
        const flag = tool === 'chmod' ? `--chmod=${spec ?? 'MODE'}` : `--chown=${spec ?? 'USER:GROUP'}`;
        out.push(
          finding(this, s.inst.line, `${tool} of ${hit.path} (put there by the ${hit.kind} at line ${hit.line}) writes a second copy of every file it touches into this layer`, `set it in the ${hit.kind} itself: ${hit.kind} ${flag} ...`, { lines: [hit.line, s.inst.line] }),
        );
        break;
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 10: ADD

/** Names of what ADD may unpack: Docker unpacks a local tar, plain or compressed, whatever its name, so a `.gz` may be one. */
const ARCHIVE = /\.(tar|gz|tgz|bz2|tbz2?|xz|txz|zst|tzst)$/i;

const addInstead: LintRule = {
  id: 'SL1012',
  hadolint: ['DL3020'],
  severity: 'warning',
  title: 'ADD of a URL or a local archive; ADD where COPY does',
  check(m) {
    return m.shippingSteps.flatMap((s) => {
      if (s.inst.kind !== 'ADD' || s.inst.sources.length === 0) return [];
      const urls = s.inst.sources.filter((p) => isUrl(p) || p.startsWith('git@'));
      if (urls.length > 0) {
        return [finding(this, s.inst.line, `ADD ${urls[0]} stores the download in its own layer: unpacking or deleting it later cannot shrink the image`, 'download, extract and delete in one RUN (RUN curl -fsSL URL | tar -xz -C DIR), or git clone --depth 1 ... && rm -rf .git for a repository')];
      }
      const archives = s.inst.sources.filter((p) => ARCHIVE.test(p));
      if (archives.length > 0) {
        return [finding(this, s.inst.line, `ADD unpacks the local archive ${archives[0]} implicitly (when it is a tar), with everything in it`, 'use COPY when the archive should stay packed; to keep only part of it, extract what you need in a build stage and COPY --from it', { severity: 'info' })];
      }
      return [finding(this, s.inst.line, `ADD of local files (${s.inst.sources[0]}) does what COPY does, plus implicit unpacking and URL fetching`, 'use COPY', { hadolint: 'DL3020', severity: 'info' })];
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 11: COPY of the whole context before a dependency install

interface Installer {
  test: (c: SimpleCommand) => boolean;
  manifests: string;
}
const INSTALLERS: Installer[] = [
  { test: isNpmInstall, manifests: 'package.json package-lock.json' },
  { test: isYarnInstall, manifests: 'package.json yarn.lock' },
  { test: (c) => named(c, 'pnpm') && ['install', 'i'].includes(subcommandOf(c)?.name ?? ''), manifests: 'package.json pnpm-lock.yaml' },
  { test: (c) => (pipInstall(c) ? hasFlag(pipInstall(c)!, '-r', '--requirement') : false), manifests: 'requirements.txt' },
  { test: (c) => named(c, 'poetry') && subcommandOf(c)?.name === 'install', manifests: 'pyproject.toml poetry.lock' },
  { test: (c) => named(c, 'pipenv') && subcommandOf(c)?.name === 'install', manifests: 'Pipfile Pipfile.lock' },
  { test: (c) => named(c, 'bundle') && subcommandOf(c)?.name === 'install', manifests: 'Gemfile Gemfile.lock' },
  { test: (c) => named(c, 'go') && c.argv[1] === 'mod' && c.argv[2] === 'download', manifests: 'go.mod go.sum' },
  { test: (c) => named(c, 'cargo') && subcommandOf(c)?.name === 'fetch', manifests: 'Cargo.toml Cargo.lock' },
  { test: (c) => named(c, 'composer') && subcommandOf(c)?.name === 'install', manifests: 'composer.json composer.lock' },
];

const WHOLE_CONTEXT = new Set(['.', './', '*', './*', '/']);

const contextBeforeInstall: LintRule = {
  id: 'SL1013',
  severity: 'info',
  title: 'COPY of the whole context before a dependency install',
  check(m) {
    const out: Finding[] = [];
    for (const stage of m.stages) {
      let whole: Instruction | undefined;
      for (const s of stage.steps.filter((step) => !step.onbuild)) {
        const inst = s.inst;
        if ((inst.kind === 'COPY' && inst.from === undefined) || inst.kind === 'ADD') {
          if (!whole && inst.sources.some((p) => WHOLE_CONTEXT.has(p))) whole = inst;
          continue;
        }
        if (inst.kind !== 'RUN' || !whole) continue;
        const c = s.commands.find((cmd) => INSTALLERS.some((i) => i.test(cmd)));
        if (!c) continue;
        const installer = INSTALLERS.find((i) => i.test(c))!;
        out.push(
          finding(this, whole.line, `${whole.kind} of the whole context at line ${whole.line} comes before the dependency install at line ${inst.line}: any source change invalidates the cached install`, `copy the manifests first (COPY ${installer.manifests} ./), install, then ${whole.kind} the rest`, { lines: [whole.line, inst.line] }),
        );
        whole = undefined;
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 12: a big base image with a slim variant

/** Splits `[registry/]name[:tag][@digest]` into the Docker Hub short name and tag. */
function splitReference(ref: string): { name: string; tag?: string } {
  const noDigest = ref.replace(/@.*$/, '');
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const name = colon > slash ? noDigest.slice(0, colon) : noDigest;
  const tag = colon > slash ? noDigest.slice(colon + 1) : undefined;
  return { name: name.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, ''), tag };
}

const SKIP_VARIANT = /slim|alpine|distroless|windowsservercore|nanoserver|jre/;
const DEBIAN_SUITE = /^(bookworm|bullseye|buster|trixie|sid)$/;
/** `3.12` -> `3.12-slim`, `3.12-bookworm` -> `3.12-slim-bookworm` (python, ruby, perl tag style). */
const slimBeforeSuite = (tag: string): string => {
  if (DEBIAN_SUITE.test(tag)) return `slim-${tag}`;
  const m = /^(.*)-(bookworm|bullseye|buster|trixie)$/.exec(tag);
  return m ? `${m[1]}-slim-${m[2]}` : `${tag}-slim`;
};

/** The smaller variant of a base image, from a small table; undefined when none is known. */
export function slimVariant(ref: string): string | undefined {
  const { name, tag } = splitReference(ref);
  if (tag !== undefined && SKIP_VARIANT.test(tag)) return undefined;
  switch (name) {
    case 'debian':
      if (tag === undefined || tag === 'latest') return 'debian:stable-slim';
      return /^([a-z]+|\d+(\.\d+)*)$/.test(tag) ? `debian:${tag}-slim` : undefined;
    case 'python':
    case 'ruby':
    case 'perl':
      return `${name}:${tag === undefined || tag === 'latest' ? 'slim' : slimBeforeSuite(tag)}`;
    case 'node':
      return `node:${tag === undefined || tag === 'latest' ? 'slim' : `${tag}-slim`}`;
    case 'eclipse-temurin':
      if (tag === undefined || tag === 'latest') return undefined;
      return `eclipse-temurin:${tag.includes('jdk') ? tag.replace('jdk', 'jre') : `${tag}-jre`}`;
    case 'openjdk': {
      const major = /^(\d+)/.exec(tag ?? '')?.[1];
      return major ? `eclipse-temurin:${major}-jre` : undefined;
    }
    default:
      return undefined;
  }
}

const slimBase: LintRule = {
  id: 'SL1014',
  severity: 'info',
  title: 'A large base image where a slim variant exists',
  check(m) {
    const root = m.shippingRoot;
    if (!root || root.parent !== undefined) return [];
    const slim = slimVariant(root.image);
    if (!slim) return [];
    const jdk = /jre$/.test(slim);
    return [
      finding(this, root.from.line, `the image ships on ${root.image}, ${jdk ? 'a full JDK where a runtime (JRE) runs the application' : 'the full variant with compilers and headers'}`, `use ${slim}${jdk ? ' (build with the JDK in a build stage)' : ' and install only the packages the application needs'}`),
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Rule 13: build toolchains in the final stage

const TOOLCHAIN_PACKAGES = new Set(['build-essential', 'build-base', 'alpine-sdk', 'gcc', 'g++', 'gcc-c++', 'clang', 'make', 'cmake', 'golang', 'golang-go', 'go', 'rustc', 'cargo', 'rust', 'gfortran']);
const TOOLCHAIN_IMAGES = new Set(['golang', 'rust', 'gcc', 'maven', 'gradle']);
const isToolchainPackage = (p: string): boolean => {
  const bare = p.replace(/[=<>~].*$/, '').replace(/:[a-z0-9]+$/, '');
  return TOOLCHAIN_PACKAGES.has(bare) || /-(dev|devel)$/.test(bare);
};

function installedPackages(c: SimpleCommand): string[] {
  if (aptSub(c) === 'install') return aptPackages(c);
  if (isApkAdd(c)) {
    const sub = subcommandOf(c, APK_VALUED)!;
    return operandsOf(c, sub.index + 1, APK_VALUED);
  }
  if (isRpmInstall(c)) return operandsOf(c, subcommandOf(c, RPM_VALUED)!.index + 1, RPM_VALUED);
  return [];
}

const removesPackages = (c: SimpleCommand): boolean =>
  ['remove', 'purge', 'autoremove', 'del', 'erase'].includes(
    (aptSub(c) ?? (named(c, 'apk') ? subcommandOf(c, APK_VALUED)?.name : rpmManagerOf(c) ? subcommandOf(c, RPM_VALUED)?.name : undefined)) ?? '',
  );

const toolchainInFinal: LintRule = {
  id: 'SL1015',
  severity: 'warning',
  title: 'Build toolchain left in the final stage',
  check(m) {
    const out: Finding[] = [];
    const root: StageModel | undefined = m.shippingRoot;
    const base = root && root.parent === undefined ? splitReference(root.image).name : undefined;
    if (root && base && TOOLCHAIN_IMAGES.has(base)) {
      out.push(finding(this, root.from.line, `the final image is built on ${root.image}, a whole toolchain image`, `build in a stage (FROM ${root.image} AS build), then start the final stage from a small runtime base and COPY --from=build only the artifacts`));
    }
    for (const s of shipping(m)) {
      if (s.commands.some(removesPackages)) continue;
      const tools = [...new Set(s.commands.flatMap(installedPackages).filter(isToolchainPackage))];
      if (tools.length === 0) continue;
      out.push(
        finding(this, s.inst.line, `build tools (${tools.join(', ')}) are installed in the final stage and stay in the image`, 'install and use them in a build stage (FROM ... AS build), then COPY --from=build only what it produces into the final stage'),
      );
    }
    return out;
  },
};

/** Every rule, in ID order. */
export const LINT_RULES: readonly LintRule[] = [
  consecutiveRuns,
  aptUpdateAlone,
  aptListsKept,
  aptRecommends,
  apkCache,
  pipCache,
  npmCache,
  yarnCache,
  rpmCache,
  createdThenRemoved,
  permissionAfterCopy,
  addInstead,
  contextBeforeInstall,
  slimBase,
  toolchainInFinal,
];
