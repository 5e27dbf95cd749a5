import { parseGoDuration } from './go-format.js';
import type { ArgDeclaration, Command, HealthConfig, Heredoc, Instruction, KeyValue, SourceSpan } from './instructions.js';
import { jsonArrayOrNull, parseHeredocDelimiter, type LogicalLine, type RawNode } from './line-parser.js';
import type { EscapeChar } from './shell-lexer.js';
import { DockerfileSyntaxError, SyntaxFailure } from './syntax-error.js';
import { parseWords, splitFields } from './words.js';

/**
 * The second layer of the parser: one function per instruction kind, each turning a logical line
 * (its builder flags, arguments and heredocs) into its typed Instruction with values as written.
 * Each declares the builder flags it allows; `parseFlags` applies BuildKit's flag rules.
 */

/** What an instruction parser gets besides its line. */
interface Context {
  escape: EscapeChar;
  heredocs: Heredoc[];
  span: SourceSpan;
}

type InstructionParser = (node: RawNode, ctx: Context) => Instruction;

/**
 * The typed instruction of one logical line. Errors are DockerfileSyntaxError at the instruction's
 * first line (an unknown instruction included).
 */
export function parseInstruction(logical: LogicalLine, options: { file: string; escape: EscapeChar }): Instruction {
  const { node, heredocs, span } = logical;
  try {
    return toInstruction(node, { escape: options.escape, heredocs, span });
  } catch (e) {
    if (e instanceof SyntaxFailure) throw new DockerfileSyntaxError(options.file, span.line, e.message);
    throw e;
  }
}

function toInstruction(node: RawNode, ctx: Context): Instruction {
  const parse = Object.hasOwn(PARSERS, node.cmd) ? PARSERS[node.cmd] : undefined;
  if (!parse) throw new SyntaxFailure(`unknown instruction: ${node.cmd.toUpperCase()}`);
  return parse(node, ctx);
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const MINIMUM_DURATION = 1_000_000; // 1ms, Docker's container.MinimumDuration

/** The instruction parsers, keyed by the lowercased instruction word. */
const PARSERS: Record<string, InstructionParser> = {
  from(node, { span }) {
    const f = parseFlags(node.flags, { platform: 'string' });
    const args = splitFields(node.rest);
    let stageName: string | undefined;
    if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
      stageName = args[2]!.toLowerCase();
      if (!STAGE_NAME.test(stageName)) {
        throw new SyntaxFailure(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
      }
    } else if (args.length !== 1) {
      throw new SyntaxFailure('FROM requires either one or three arguments');
    }
    return { kind: 'FROM', ...span, image: args[0]!, stageName, platform: f.string('platform') };
  },

  run(node, { span, heredocs }) {
    const f = parseFlags(node.flags, { mount: 'strings', network: 'string', security: 'string' });
    const network = f.string('network');
    if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
      throw new SyntaxFailure(`unsupported network mode "${network}"`);
    }
    const security = f.string('security');
    if (security !== undefined && !['sandbox', 'insecure'].includes(security)) {
      throw new SyntaxFailure(`unsupported security mode "${security}"`);
    }
    const command = parseCommand(node.rest, 'RUN');
    if (command.form === 'exec' && command.args.length === 0) throw new SyntaxFailure('RUN requires at least one argument');
    return {
      kind: 'RUN',
      ...span,
      command,
      heredocs,
      network: network as 'default' | 'none' | 'host' | undefined,
      security: security as 'sandbox' | 'insecure' | undefined,
      mounts: f.strings('mount'),
    };
  },

  cmd(node, { span }) {
    parseFlags(node.flags, {});
    return { kind: 'CMD', ...span, command: parseCommand(node.rest, 'CMD') };
  },

  entrypoint(node, { span }) {
    parseFlags(node.flags, {});
    return { kind: 'ENTRYPOINT', ...span, command: parseCommand(node.rest, 'ENTRYPOINT') };
  },

  env(node, { span, escape }) {
    parseFlags(node.flags, {});
    return { kind: 'ENV', ...span, pairs: parseNameVal(node.rest, 'ENV', escape) };
  },

  label(node, { span, escape }) {
    parseFlags(node.flags, {});
    return { kind: 'LABEL', ...span, pairs: parseNameVal(node.rest, 'LABEL', escape) };
  },

  maintainer(node, { span }) {
    parseFlags(node.flags, {});
    return { kind: 'MAINTAINER', ...span, maintainer: exactlyOne(node.rest, 'MAINTAINER') };
  },

  user(node, { span }) {
    parseFlags(node.flags, {});
    return { kind: 'USER', ...span, user: exactlyOne(node.rest, 'USER') };
  },

  workdir(node, { span }) {
    parseFlags(node.flags, {});
    return { kind: 'WORKDIR', ...span, path: exactlyOne(node.rest, 'WORKDIR') };
  },

  stopsignal(node, { span }) {
    parseFlags(node.flags, {});
    return { kind: 'STOPSIGNAL', ...span, signal: exactlyOne(node.rest, 'STOPSIGNAL') };
  },

  expose(node, { span }) {
    parseFlags(node.flags, {});
    const ports = splitFields(node.rest);
    if (ports.length === 0) throw new SyntaxFailure('EXPOSE requires at least one argument');
    return { kind: 'EXPOSE', ...span, ports: [...ports].sort() };
  },

  volume(node, { span }) {
    parseFlags(node.flags, {});
    const { args } = parseMaybeJsonList(node.rest);
    if (args.length === 0) throw new SyntaxFailure('VOLUME requires at least one argument');
    const paths = args.map((v) => v.trim());
    if (paths.some((p) => p === '')) throw new SyntaxFailure('VOLUME specified can not be an empty string');
    return { kind: 'VOLUME', ...span, paths };
  },

  copy(node, ctx) {
    const f = parseFlags(node.flags, { chown: 'string', chmod: 'string', from: 'string', link: 'bool', parents: 'bool', exclude: 'strings' });
    return { kind: 'COPY', ...copyCommon(node, f, ctx, 'COPY'), from: f.string('from'), parents: f.bool('parents') };
  },

  add(node, ctx) {
    const f = parseFlags(node.flags, { chown: 'string', chmod: 'string', link: 'bool', checksum: 'string', 'keep-git-dir': 'bool', exclude: 'strings' });
    const keepGitDir = f.has('keep-git-dir') ? f.bool('keep-git-dir') : undefined;
    return { kind: 'ADD', ...copyCommon(node, f, ctx, 'ADD'), checksum: f.string('checksum'), keepGitDir };
  },

  arg(node, { span, escape }) {
    parseFlags(node.flags, {});
    const words = parseWords(node.rest, escape);
    if (words.length === 0) throw new SyntaxFailure('ARG requires at least one argument');
    const args: ArgDeclaration[] = words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) return { key: w };
      if (eq === 0) throw new SyntaxFailure('ARG names can not be blank');
      return { key: w.slice(0, eq), value: w.slice(eq + 1) };
    });
    return { kind: 'ARG', ...span, args };
  },

  onbuild(node, ctx) {
    parseFlags(node.flags, {});
    if (!node.child) throw new SyntaxFailure('ONBUILD requires at least one argument');
    const triggerName = node.child.cmd.toUpperCase();
    if (triggerName === 'ONBUILD') throw new SyntaxFailure("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (triggerName === 'MAINTAINER' || triggerName === 'FROM') {
      throw new SyntaxFailure(`${triggerName} isn't allowed as an ONBUILD trigger`);
    }
    const trigger = toInstruction(node.child, ctx);
    let expression = node.line.replace(/^\s*ONBUILD\s*/i, '');
    for (const h of ctx.heredocs) expression += `\n${h.content}${h.name}`;
    return { kind: 'ONBUILD', ...ctx.span, trigger, expression };
  },

  healthcheck(node, { span }) {
    return { kind: 'HEALTHCHECK', ...span, health: parseHealthcheck(node) };
  },

  shell(node, { span }) {
    parseFlags(node.flags, {});
    const json = parseJsonArray(node.rest);
    if (json === null) throw new SyntaxFailure('SHELL requires the arguments to be in JSON form');
    if (json.length === 0) throw new SyntaxFailure('SHELL requires at least one argument');
    return { kind: 'SHELL', ...span, shell: json };
  },
};

/** What COPY and ADD share: sources, heredoc sources, destination and the common flags. */
function copyCommon(node: RawNode, f: ParsedFlags, { heredocs: docs, span }: Context, name: 'COPY' | 'ADD') {
  const { args, json } = parseMaybeJsonList(node.rest);
  if (args.length < 2) {
    throw new SyntaxFailure(`${name} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  const dest = args[args.length - 1]!;
  const byName = new Map(docs.map((d) => [d.name, d]));
  if (!json && parseHeredocDelimiter(dest) !== null) throw new SyntaxFailure(`${name} cannot accept a heredoc as a destination`);
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  for (const src of args.slice(0, -1)) {
    const doc = json ? null : parseHeredocDelimiter(src);
    if (doc) heredocs.push(byName.get(doc.name) ?? { ...doc });
    else sources.push(src);
  }
  return {
    ...span,
    sources,
    heredocs,
    dest,
    chown: f.string('chown'),
    chmod: f.string('chmod'),
    link: f.bool('link'),
    exclude: f.strings('exclude'),
    json,
  };
}

type FlagSpec = Record<string, 'string' | 'bool' | 'strings'>;

interface ParsedFlags {
  has(name: string): boolean;
  string(name: string): string | undefined;
  bool(name: string): boolean;
  strings(name: string): string[];
}

/**
 * Docker's BFlags: only the flags in `spec` are allowed; `--name=value` strings (once),
 * `--name[=true|false]` bools (once), repeatable lists; `--` ends the flags.
 */
function parseFlags(raw: string[], spec: FlagSpec): ParsedFlags {
  const values = new Map<string, string | boolean | string[]>();
  for (const arg of raw) {
    if (!arg.startsWith('--')) throw new SyntaxFailure(`Arg should start with -- : ${arg}`);
    if (arg === '--') break;
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? '' : body.slice(eq + 1);
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!type) throw new SyntaxFailure(`Unknown flag: ${name}`);
    if (values.has(name) && type !== 'strings') throw new SyntaxFailure(`Duplicate flag specified: ${name}`);
    if (type === 'bool') {
      if (eq >= 0 && value === '') throw new SyntaxFailure(`Missing a value on flag: ${name}`);
      const lower = value.toLowerCase();
      if (lower !== '' && lower !== 'true' && lower !== 'false') {
        throw new SyntaxFailure(`Expecting boolean value for flag ${name}, not: ${value}`);
      }
      values.set(name, lower !== 'false');
    } else {
      if (eq < 0) throw new SyntaxFailure(`Missing a value on flag: ${name}`);
      if (type === 'string') values.set(name, value);
      else values.set(name, [...((values.get(name) as string[] | undefined) ?? []), value]);
    }
  }
  return {
    has: (n) => values.has(n),
    string: (n) => values.get(n) as string | undefined,
    bool: (n) => values.get(n) === true,
    strings: (n) => (values.get(n) as string[] | undefined) ?? [],
  };
}

function exactlyOne(rest: string, name: string): string {
  if (rest === '') throw new SyntaxFailure(`${name} requires exactly one argument`);
  return rest;
}

/** The JSON form's strings, null for shell form; an array holding a non-string is an error. */
function parseJsonArray(rest: string): string[] | null {
  const value = jsonArrayOrNull(rest);
  if (value === null) return null;
  if (!value.every((v): v is string => typeof v === 'string')) {
    throw new SyntaxFailure('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value;
}

function parseCommand(rest: string, name: string): Command {
  const json = parseJsonArray(rest);
  if (json !== null) return { form: 'exec', args: json };
  if (rest === '') throw new SyntaxFailure(`${name} requires at least one argument`);
  return { form: 'shell', script: rest };
}

function parseMaybeJsonList(rest: string): { args: string[]; json: boolean } {
  const json = parseJsonArray(rest);
  if (json !== null) return { args: json, json: true };
  return { args: splitFields(rest), json: false };
}

/** ENV and LABEL: `KEY value words` (old form) or `K=V K2="v 2" ...`. Values are unexpanded. */
function parseNameVal(rest: string, name: 'ENV' | 'LABEL', escape: EscapeChar): KeyValue[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) throw new SyntaxFailure(`${name} requires at least one argument`);
  let pairs: KeyValue[];
  if (!words[0]!.includes('=')) {
    const m = /[\t\v\f\r ]+/.exec(rest);
    if (!m) throw new SyntaxFailure(`${name} must have two arguments`);
    pairs = [{ key: rest.slice(0, m.index), value: rest.slice(m.index + m[0].length) }];
  } else {
    pairs = words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) throw new SyntaxFailure(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
      return { key: w.slice(0, eq), value: w.slice(eq + 1) };
    });
  }
  if (pairs.some((p) => p.key === '')) throw new SyntaxFailure(`${name} names can not be blank`);
  return pairs;
}

/** HEALTHCHECK NONE takes no flags or arguments; HEALTHCHECK [flags] CMD command. */
function parseHealthcheck(node: RawNode): HealthConfig {
  const rest = node.rest;
  const m = /\s/.exec(rest);
  const type = (m ? rest.slice(0, m.index) : rest).toUpperCase();
  const args = m ? rest.slice(m.index).replace(/^\s+/, '') : '';
  if (type === '') throw new SyntaxFailure('HEALTHCHECK requires at least one argument');
  const health: HealthConfig = { test: [], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    if (args !== '') throw new SyntaxFailure('HEALTHCHECK NONE takes no arguments');
    health.test = ['NONE'];
    return health;
  }
  const f = parseFlags(node.flags, {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  });
  if (type !== 'CMD') throw new SyntaxFailure(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  if (args === '') throw new SyntaxFailure('Missing command after HEALTHCHECK CMD');
  const command = parseCommand(args, 'HEALTHCHECK CMD');
  if (command.form === 'exec') {
    if (command.args.length === 0) throw new SyntaxFailure('Missing command after HEALTHCHECK CMD');
    health.test = ['CMD', ...command.args];
  } else {
    health.test = ['CMD-SHELL', command.script];
  }
  // BuildKit's parseOptInterval: empty or 0 mean "use the default" (0 in the config); otherwise at least 1ms
  const duration = (flag: string): number => {
    const raw = f.string(flag);
    if (raw === undefined || raw === '') return 0;
    const ns = parseGoDuration(raw);
    if (ns === null) throw new SyntaxFailure(`time: invalid duration "${raw}" for --${flag}`);
    if (ns === 0) return 0;
    if (ns < MINIMUM_DURATION) throw new SyntaxFailure(`Interval "${flag}" cannot be less than 1ms`);
    return ns;
  };
  health.interval = duration('interval');
  health.timeout = duration('timeout');
  health.startPeriod = duration('start-period');
  health.startInterval = duration('start-interval');
  // strconv.ParseInt(value, 10, 32); 0 means "use the default", a negative count is refused
  const retries = f.string('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) throw new SyntaxFailure(`strconv.ParseInt: parsing "${retries}": invalid syntax for --retries`);
    const n = Number(retries);
    if (n > 2 ** 31 - 1 || n < -(2 ** 31)) throw new SyntaxFailure(`strconv.ParseInt: parsing "${retries}": value out of range for --retries`);
    if (n < 0) throw new SyntaxFailure(`--retries cannot be negative (${n})`);
    health.retries = n || 0; // -0 is 0
  }
  return health;
}
