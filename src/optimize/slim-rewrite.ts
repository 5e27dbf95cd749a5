import { statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseDockerfile, type Instruction } from '../dockerfile/index.js';
import { aptSub, isApkAdd, isNpmInstall, isRpmInstall, isYarnInstall, pipInstall } from './package-commands.js';
import { cacheMountPlan, dropCacheCleanups, mountFlags } from './slim-cache-mounts.js';
import { commandName, hasFlag, type SimpleCommand } from './shell-commands.js';
import { changesShellState, hasListOperators, shellQuote, splitShellScript, type ShellCommand } from './shell-script.js';

/** One rewrite: what it did, where, and whether it was applied or only proposed. */
export interface SlimChange {
  kind: 'chain-runs' | 'move-rm' | 'package-cleanup' | 'cache-mount' | 'copy-chmod' | 'no-install-recommends' | 'slim-base';
  /** Dockerfile lines of the instructions involved. */
  lines: number[];
  description: string;
  applied: boolean;
  /** cache-mount: the mounts' targets. */
  cacheTargets?: string[];
}

export interface SlimRewrite {
  text: string;
  changes: SlimChange[];
}

export interface RewriteOptions {
  /** Names the file in errors. */
  file?: string;
  /** Where COPY sources live, to compute `--chmod` from a symbolic chmod; none: only octal modes. */
  contextDir?: string;
  /** Also apply the changes that can change behaviour (`--no-install-recommends`). */
  risky?: boolean;
  /** Apply the proposed `RUN --mount=type=cache` mounts for package-manager caches (instead of cleaning them). */
  cacheMounts?: boolean;
}

/** An instruction as the rewrite goes: its current text, or deleted. */
interface Block {
  inst: Instruction;
  stage: number;
  text: string;
  deleted: boolean;
  /** Whether it runs as root (no USER other than root in force): root's caches live in /root. */
  root: boolean;
  /** For a RUN that can take part in chaining: its script(s) and their parsed commands. */
  scripts?: { text: string; commands: ShellCommand[] }[];
}

/** Instructions between a RUN and a later `rm` that cannot change what the `rm` does. */
const INERT = new Set(['LABEL', 'EXPOSE', 'MAINTAINER', 'STOPSIGNAL', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT', 'ENV', 'ARG']);
const POSIX_SHELLS = ['["/bin/sh","-c"]', '["/bin/bash","-c"]', '["sh","-c"]', '["bash","-c"]'];

/**
 * Rewrites a Dockerfile for size, keeping what it builds: chains consecutive RUNs (each part in a
 * subshell when it changes shell state, or when it is more than one `&&` chain), moves a lone later `rm`
 * into the RUN before it, cleans package-manager caches in the RUN that fills them, and turns a `RUN chmod`
 * or `RUN chown` of what the COPY before it copied into `COPY --chmod/--chown`. Lines it does not touch stay
 * as written, comments included.
 */
export function rewriteDockerfile(source: string, options: RewriteOptions = {}): SlimRewrite {
  const dockerfile = parseDockerfile(source, { file: options.file });
  const escape = dockerfile.escape;
  const changes: SlimChange[] = [];
  let stage = -1;
  let shellOk = true;
  let root = true;
  const blocks: Block[] = dockerfile.instructions.map((inst) => {
    if (inst.kind === 'FROM') {
      stage++;
      shellOk = true;
      root = true;
    }
    if (inst.kind === 'SHELL') shellOk = POSIX_SHELLS.includes(JSON.stringify(inst.shell));
    if (inst.kind === 'USER') root = /^(root|0)(:|$)/.test(inst.user);
    const block: Block = { inst, stage, text: inst.original, deleted: false, root };
    if (inst.kind === 'RUN' && shellOk && inst.heredocs.length === 0 && inst.mounts.length === 0 && !inst.network && !inst.security) {
      const script = inst.command.form === 'shell' ? runScript(inst.original) : inst.command.args.map(shellQuote).join(' ');
      // read what the shell runs (continuations joined, comment lines dropped, as lint reads it); write the source as it was
      const commands = script === undefined ? undefined : splitShellScript(inst.command.form === 'shell' ? inst.command.script : script);
      if (script !== undefined && commands && commands.length > 0) block.scripts = [{ text: script.trim(), commands }];
    }
    return block;
  });
  const cont = ` ${escape}\n`;
  const runText = (b: Block): string => {
    const parts = b.scripts!.map((s, i, all) => {
      const wrap = (i < all.length - 1 && changesShellState(s.commands)) || (i > 0 && hasListOperators(s.commands));
      return wrap ? `( ${s.text} )` : s.text;
    });
    return `RUN ${parts.join(`${cont} && `)}`;
  };

  foldChmodIntoCopy(blocks, changes, options.contextDir);
  moveLoneRemovals(blocks, changes, runText);
  chainConsecutiveRuns(blocks, changes, runText);
  cleanPackageCaches(blocks, changes, cont, { risky: options.risky === true, cacheMounts: options.cacheMounts === true }, runText);
  proposeSlimBases(blocks, changes);

  return { text: render(source, blocks), changes };
}

/** The script of a shell-form RUN as written: the source after `RUN` and its flags. */
function runScript(original: string): string | undefined {
  const m = /^\s*RUN\s+((?:--\S+\s+)*)([\s\S]*)$/i.exec(original);
  return m?.[2];
}

/** A top-level item that is one plain `rm` (no group, no expansion in its operands). */
const isRm = (item: ShellCommand): boolean => {
  const [c, ...more] = item.commands;
  return item.group === undefined && more.length === 0 && c !== undefined && commandName(c) === 'rm' && c.argv.every((w) => !w.includes('$'));
};

/** `RUN a` … inert instructions … `RUN rm x`: the `rm` joins `RUN a`, and its own RUN goes. */
function moveLoneRemovals(blocks: Block[], changes: SlimChange[], runText: (b: Block) => string): void {
  blocks.forEach((b, i) => {
    const cmds = b.scripts?.[0]?.commands;
    if (!cmds || b.scripts!.length !== 1 || !cmds.every(isRm) || hasListOperators(cmds)) return;
    let j = i - 1;
    while (j >= 0 && blocks[j]!.stage === b.stage && (blocks[j]!.deleted || INERT.has(blocks[j]!.inst.kind))) j--;
    const target = blocks[j];
    if (!target || j === i - 1 || target.stage !== b.stage || !target.scripts || target.deleted) return; // next to it: chaining does it
    target.scripts.push(...b.scripts!);
    target.text = runText(target);
    b.deleted = true;
    changes.push({ kind: 'move-rm', lines: [target.inst.line, b.inst.line], description: `moved \`${cmds.map((c) => c.text).join(' && ')}\` into the RUN that creates what it removes`, applied: true });
  });
}

/** Consecutive RUNs of one stage (comments between them allowed) become one RUN. */
function chainConsecutiveRuns(blocks: Block[], changes: SlimChange[], runText: (b: Block) => string): void {
  let head: Block | undefined;
  let lines: number[] = [];
  const flush = () => {
    if (head && lines.length > 1) {
      head.text = runText(head);
      changes.push({ kind: 'chain-runs', lines, description: `chained the RUNs of lines ${lines.join(', ')} into one (one layer: what one step deletes is never stored)`, applied: true });
    }
    head = undefined;
    lines = [];
  };
  for (const b of blocks) {
    if (b.deleted) continue;
    if (!b.scripts || (head && head.stage !== b.stage)) {
      flush();
      if (!b.scripts) continue;
    }
    if (!head) {
      head = b;
      lines = [b.inst.line];
      continue;
    }
    head.scripts!.push(...b.scripts);
    lines.push(b.inst.line);
    b.deleted = true;
  }
  flush();
}

/** The simple commands of a RUN's scripts, as lint reads them. */
const simpleCommands = (b: Block): SimpleCommand[] => (b.scripts ?? []).flatMap((s) => s.commands.flatMap((item) => item.commands));

/**
 * Package-manager caches cleaned in the RUN that fills them; or, proposed (applied with `cacheMounts`),
 * kept out of the layer in `RUN --mount=type=cache` mounts that the next build reuses, with the clean-ups
 * of the mounted caches dropped (they would empty the cache and change nothing in the layer).
 */
function cleanPackageCaches(blocks: Block[], changes: SlimChange[], cont: string, opts: { risky: boolean; cacheMounts: boolean }, runText: (b: Block) => string): void {
  const { risky } = opts;
  const live = blocks.filter((b) => !b.deleted);
  live.forEach((b, i) => {
    if (!b.scripts) return;
    let cmds = simpleCommands(b);
    const aptInstall = cmds.some((c) => aptSub(c) === 'install');
    // a later RUN of the stage that installs without its own update still needs these lists
    const listsNeededLater = live.slice(i + 1).some((l) => {
      const later = simpleCommands(l);
      return l.stage === b.stage && l.scripts && later.some((c) => aptSub(c) === 'install') && !later.some((c) => aptSub(c) === 'update');
    });
    const plan = cacheMountPlan(cmds, { root: b.root, listsNeededLater, text: b.text });
    const mounted = new Set(opts.cacheMounts ? plan.map((p) => p.manager) : []);
    if (mounted.size > 0 && dropCacheCleanups(b.scripts, plan.flatMap((p) => p.targets), cont)) {
      b.text = runText(b);
      cmds = simpleCommands(b);
    }
    const add: string[] = [];
    if (aptInstall && !mounted.has('apt') && !b.text.includes('/var/lib/apt/lists') && !listsNeededLater) add.push('apt-get clean', 'rm -rf /var/lib/apt/lists/*');
    if (cmds.some((c) => isApkAdd(c) && !hasFlag(c, '--no-cache')) && !b.text.includes('/var/cache/apk')) add.push('rm -rf /var/cache/apk/*');
    if (cmds.some(isNpmInstall) && !mounted.has('npm') && !b.text.includes('npm cache clean')) add.push('npm cache clean --force');
    if (cmds.some(isYarnInstall) && !mounted.has('yarn') && !b.text.includes('yarn cache clean')) add.push('yarn cache clean');
    for (const pm of ['yum', 'dnf', 'microdnf'] as const) if (cmds.some((c) => isRpmInstall(c, pm)) && !mounted.has(pm) && !b.text.includes(`${pm} clean`)) add.push(`${pm} clean all`);
    if (cmds.some((c) => isRpmInstall(c, 'zypper')) && !mounted.has('zypper') && !b.text.includes('zypper clean')) add.push('zypper clean -a');
    // an exec-form RUN is written in shell form before anything is appended to it
    let text = b.inst.kind === 'RUN' && b.inst.command.form === 'exec' && b.text === b.inst.original ? runText(b) : b.text;
    const before = text;
    const pipFixed = !cmds.some((c) => pipInstall(c) !== undefined) || mounted.has('pip') ? text : text.replace(/\b(pip3?|python3? -m pip) install\b(?![^\n&;|]*--no-cache-dir)/g, '$1 install --no-cache-dir');
    if (pipFixed !== text) {
      text = pipFixed;
      changes.push({ kind: 'package-cleanup', lines: [b.inst.line], description: 'pip install --no-cache-dir (no wheel cache kept in the layer)', applied: true });
    }
    if (add.length > 0) {
      text = `${text.replace(/\s+$/, '')}${add.map((a) => `${cont} && ${a}`).join('')}`;
      changes.push({ kind: 'package-cleanup', lines: [b.inst.line], description: `cleaned package caches in the same RUN: ${add.join(', ')}`, applied: true });
    }
    if (aptInstall && !b.text.includes('--no-install-recommends')) {
      if (risky) text = text.replace(/\b(apt-get|apt) install\b/g, '$1 install --no-install-recommends');
      changes.push({ kind: 'no-install-recommends', lines: [b.inst.line], description: 'apt-get install --no-install-recommends (installs fewer packages: can change behaviour)', applied: risky });
    }
    if (plan.length > 0) {
      const what = plan.map((p) => `${p.manager} (${p.targets.join(', ')})`).join(', ');
      changes.push({ kind: 'cache-mount', lines: [b.inst.line], description: `RUN --mount=type=cache for ${what}: the caches stay out of the layer and the next build reuses them (needs BuildKit's frontend)`, applied: opts.cacheMounts, cacheTargets: plan.flatMap((p) => p.targets) });
      if (opts.cacheMounts) text = text.replace(/^(\s*RUN)(\s)/i, `$1 ${mountFlags(plan)}$2`);
    }
    if (text !== before) b.text = text;
  });
}

/** An octal mode for `--chmod`, from `chmod MODE` and the source's own mode; undefined when unsure. */
function chmodMode(mode: string, sourcePath: string | undefined): string | undefined {
  if (/^[0-7]{3,4}$/.test(mode)) return mode;
  const m = /^([ugoa]*)([+-])([rwx]+)$/.exec(mode);
  if (!m || sourcePath === undefined) return undefined;
  let current: number;
  try {
    current = statSync(sourcePath).mode & 0o7777;
  } catch {
    return undefined;
  }
  if (m[1] === '' && m[3]!.includes('w')) return undefined; // then the umask decides
  const who = m[1] === '' || m[1]!.includes('a') ? 'ugo' : m[1]!;
  let bits = 0;
  for (const w of who) for (const p of m[3]!) bits |= { r: 4, w: 2, x: 1 }[p as 'r' | 'w' | 'x'] << { u: 6, g: 3, o: 0 }[w as 'u' | 'g' | 'o'];
  return (m[2] === '+' ? current | bits : current & ~bits).toString(8).padStart(3, '0');
}

/** `COPY a /x` then `RUN chmod 755 /x` (or chown): the COPY takes `--chmod`/`--chown` and the RUN goes. */
function foldChmodIntoCopy(blocks: Block[], changes: SlimChange[], contextDir: string | undefined): void {
  let workdir = '/';
  let prev: Block | undefined;
  for (const b of blocks) {
    if (b.deleted) continue;
    const inst = b.inst;
    if (inst.kind === 'FROM') workdir = '/';
    if (inst.kind === 'WORKDIR') workdir = posix.resolve(workdir, inst.path);
    const copy = prev?.inst;
    if (inst.kind === 'RUN' && b.scripts?.length === 1 && prev && prev.stage === b.stage && (copy?.kind === 'COPY' || copy?.kind === 'ADD') && copy.heredocs.length === 0) {
      const fold = chmodFold(b.scripts[0]!.commands, copy, workdir, contextDir);
      if (fold) {
        prev.text = prev.text.replace(/^(\s*(?:COPY|ADD))(\s)/i, `$1${fold.flags.map((f) => ` ${f}`).join('')}$2`);
        b.deleted = true;
        changes.push({ kind: 'copy-chmod', lines: [copy.line, inst.line], description: `${copy.kind} ${fold.flags.join(' ')} instead of a RUN that changes what it copied (no second copy of the files)`, applied: true });
      }
    }
    if (inst.kind !== 'ARG' && inst.kind !== 'LABEL') prev = b;
  }
}

function chmodFold(cmds: ShellCommand[], copy: Extract<Instruction, { kind: 'COPY' | 'ADD' }>, workdir: string, contextDir: string | undefined): { flags: string[] } | undefined {
  if (hasListOperators(cmds) || copy.sources.length !== 1 || copy.sources[0]!.includes('$') || copy.dest.includes('$') || copy.chmod || copy.chown) return undefined;
  if (copy.kind === 'ADD' && /^https?:/.test(copy.sources[0]!)) return undefined;
  const source = copy.sources[0]!;
  const sourcePath = contextDir !== undefined && !('from' in copy && copy.from) ? join(contextDir, source) : undefined;
  const sourceIsDir = sourcePath !== undefined ? statSync(sourcePath, { throwIfNoEntry: false })?.isDirectory() : undefined;
  if (sourceIsDir === undefined) return undefined;
  const destDir = copy.dest.endsWith('/');
  const dest = posix.resolve(workdir, sourceIsDir || !destDir ? copy.dest : posix.join(copy.dest, posix.basename(source)));
  const flags: string[] = [];
  for (const item of cmds) {
    if (item.group !== undefined || item.commands.length !== 1 || item.commands[0]!.assignments.length > 0 || item.commands[0]!.redirects.length > 0) return undefined;
    const [tool, ...args] = item.commands[0]!.argv;
    const recursive = args[0] === '-R';
    const rest = recursive ? args.slice(1) : args;
    if ((tool !== 'chmod' && tool !== 'chown') || rest.length !== 2 || rest.some((a) => a.startsWith('-') || a.includes('$'))) return undefined;
    if (posix.resolve(workdir, rest[1]!) !== dest || recursive !== sourceIsDir) return undefined;
    if (tool === 'chown') flags.push(`--chown=${rest[0]}`);
    else {
      if (sourceIsDir && !/^[0-7]{3,4}$/.test(rest[0]!)) return undefined;
      const mode = chmodMode(rest[0]!, sourcePath);
      if (!mode) return undefined;
      flags.push(`--chmod=${mode}`);
    }
  }
  return flags.length > 0 && new Set(flags.map((f) => f.split('=')[0])).size === flags.length ? { flags } : undefined;
}

/** Bases with a slim variant: proposed only (a different base can change behaviour). */
const SLIM_BASES: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^(debian):([a-z]+|\d+(?:\.\d+)?)$/, (m) => `${m[1]}:${m[2]}-slim`],
  [/^(python|node|ruby|perl|php|golang|rust|openjdk):([\w.]+)$/, (m) => (/-(slim|alpine)/.test(m[2]!) ? '' : `${m[1]}:${m[2]}-slim`)],
  [/^(debian|python|node)$/, (m) => `${m[1]}:stable-slim`.replace('python:stable-slim', 'python:slim').replace('node:stable-slim', 'node:slim')],
];

function proposeSlimBases(blocks: Block[], changes: SlimChange[]): void {
  for (const b of blocks) {
    if (b.inst.kind !== 'FROM') continue;
    for (const [re, slim] of SLIM_BASES) {
      const m = re.exec(b.inst.image);
      const suggestion = m ? slim(m) : '';
      if (suggestion) {
        changes.push({ kind: 'slim-base', lines: [b.inst.line], description: `FROM ${suggestion} is a smaller variant of ${b.inst.image} (proposed only: check that it has what you need)`, applied: false });
        break;
      }
    }
  }
}

/** The source with each changed instruction's lines replaced by its new text, other lines as they were. */
function render(source: string, blocks: Block[]): string {
  const lines = source.split('\n');
  const out: string[] = [];
  const byLine = new Map(blocks.map((b) => [b.inst.line, b]));
  for (let n = 1; n <= lines.length; n++) {
    const b = byLine.get(n);
    if (!b) {
      out.push(lines[n - 1]!);
      continue;
    }
    if (!b.deleted) out.push(b.text === b.inst.original ? lines.slice(n - 1, b.inst.endLine).join('\n') : b.text);
    n = b.inst.endLine;
  }
  return out.join('\n');
}
