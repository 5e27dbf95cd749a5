import { isShaleError, ShaleError } from '../internal/errors.js';
import { heredocBody, type ArgDeclaration, type Heredoc, type Instruction, type KeyValue } from './instructions.js';
import { expandWord, expandWords, lexWord, lookupFromList, type EnvLookup, type EscapeChar } from './shell-lexer.js';
import { DockerfileSyntaxError } from './syntax-error.js';

/**
 * Build args Docker passes through without an ARG declaration (to RUN's environment, never recorded
 * in history unless declared). ALL_PROXY/all_proxy are in newer Docker's list.
 */
export const BUILTIN_BUILD_ARGS: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
];
const BUILTIN = new Set(BUILTIN_BUILD_ARGS);

/**
 * `--build-arg` values by name, as the docker CLI reads them: `K=V` gives V; `K` alone takes K's
 * value from `env` (the process environment by default), and when K is not set there it stays named
 * with no value (undefined): the ARG's default applies, and an unused K is still warned about.
 * An empty name (`=V`) is INVALID_ARGUMENT.
 */
export function parseBuildArgList(list: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): BuildArgValues {
  const out: BuildArgValues = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '') throw new ShaleError('INVALID_ARGUMENT', `invalid --build-arg ${JSON.stringify(item)}: the name is empty`);
    out[key] = eq < 0 ? env[key] : item.slice(eq + 1);
  }
  return out;
}

/** `--build-arg` values by name; undefined for a name given without a value (Docker's nil). */
export type BuildArgValues = Record<string, string | undefined>;

/**
 * The build args of one build, as Docker's classic builder keeps them: `--build-arg` values, the
 * ARGs declared before the first FROM ("meta args", the only ones FROM lines see), and which
 * overrides some ARG used.
 */
export class BuildArgs {
  private readonly overrides: Map<string, string | undefined>;
  private readonly metaDefaults = new Map<string, string | undefined>();
  /** Names declared by some ARG anywhere (for the unused-args warning). */
  readonly referenced = new Set<string>();

  /**
   * `automatic`: the values BuildKit defines itself (the platform args of platform-args.ts): defaults of
   * the global scope, so FROM sees them and a stage's `ARG NAME` without a value takes them; a global
   * `ARG NAME` without a value empties one (measured on Docker 26), `--build-arg` overrides them.
   */
  constructor(overrides: BuildArgValues | ReadonlyMap<string, string | undefined> = {}, private readonly automatic: ReadonlyMap<string, string> = new Map()) {
    this.overrides = new Map(overrides instanceof Map ? overrides : Object.entries(overrides));
    for (const [k, v] of automatic) this.metaDefaults.set(k, v);
  }

  /** The `--build-arg` value of a name, if given with one. */
  override(name: string): string | undefined {
    return this.overrides.get(name);
  }

  /**
   * Declares the ARGs of an instruction before the first FROM: key and default are expanded with the
   * meta args declared so far (Docker's processMetaArg). Returns the declarations as expanded.
   */
  declareMeta(args: readonly ArgDeclaration[], escape: EscapeChar = '\\'): ArgDeclaration[] {
    const out: ArgDeclaration[] = [];
    for (const arg of args) {
      const lookup = this.metaLookup();
      const key = expandWord(arg.key, lookup, escape);
      const value = arg.value === undefined ? undefined : expandWord(arg.value, lookup, escape);
      this.metaDefaults.set(key, value ?? (this.automatic.has(key) ? '' : undefined));
      this.referenced.add(key);
      out.push({ key, value });
    }
    return out;
  }

  /** The default of a meta arg (undefined when it has none or was not declared). */
  metaDefault(name: string): string | undefined {
    return this.metaDefaults.get(name);
  }

  /** The values FROM lines and `COPY --from` see: meta args and builtins, overrides winning. */
  metaValues(): Map<string, string> {
    const out = new Map<string, string>();
    for (const key of [...this.metaDefaults.keys(), ...BUILTIN_BUILD_ARGS]) {
      if (out.has(key)) continue;
      const v = this.overrides.get(key) ?? this.metaDefaults.get(key);
      if (v !== undefined) out.set(key, v);
    }
    return out;
  }

  metaLookup(): EnvLookup {
    const values = this.metaValues();
    return (name) => values.get(name);
  }

  /** A fresh scope for a stage: no ARG of the stage declared yet (meta args need re-declaring). */
  newStage(): StageArgs {
    return new StageArgs(this);
  }

  /** `--build-arg` names that no ARG declared (Docker warns "were not consumed"); builtins excluded. */
  unusedOverrides(): string[] {
    return [...this.overrides.keys()].filter((k) => !this.referenced.has(k) && !BUILTIN.has(k)).sort();
  }
}

/** What a RUN gets from the build args: its extra environment and what history records. */
export interface RunBuildArgs {
  /** `K=V` for each build arg in effect and not shadowed by ENV: added to the RUN's environment. */
  env: string[];
  /**
   * The sorted `K=V` list Docker records as `|N K=V ...` before the command: args declared in
   * this stage or not builtin. Undefined when no build arg is in effect (then no `|N` prefix).
   */
  recorded?: string[];
}

/** The ARG scope of one stage (Docker resets it at each FROM). */
export class StageArgs {
  private readonly declared = new Map<string, string | undefined>();
  /** Every declared name in order, repeats kept (BuildKit records each declaration). */
  private readonly declarations: string[] = [];

  constructor(private readonly build: BuildArgs) {}

  /** Declares an ARG inside the stage; key and default must already be expanded. */
  declare(args: readonly ArgDeclaration[]): void {
    for (const { key, value } of args) {
      this.declared.set(key, value);
      this.declarations.push(key);
      this.build.referenced.add(key);
    }
  }

  /** True when an ARG of this stage declared the name. */
  isDeclared(name: string): boolean {
    return this.declared.has(name);
  }

  /**
   * The build args in effect: declared ones and builtins, valued by `--build-arg`, else the ARG's
   * default, else (no default) the meta arg's default; names with no value are left out.
   */
  values(): Map<string, string> {
    const out = new Map<string, string>();
    for (const key of [...this.declared.keys(), ...BUILTIN_BUILD_ARGS]) {
      if (out.has(key)) continue;
      const override = this.build.override(key);
      const own = this.declared.get(key);
      const v = override ?? own ?? this.build.metaDefault(key);
      if (v !== undefined) out.set(key, v);
    }
    return out;
  }

  /** Build args not shadowed by a variable of `env` (ENV wins over ARG), as `K=V`. */
  filterAllowed(env: readonly string[]): string[] {
    const envKeys = new Set(env.map((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e)));
    return [...this.values()].filter(([k]) => !envKeys.has(k)).map(([k, v]) => `${k}=${v}`);
  }

  /** The variables instructions expand with: the config's Env first, then the build args. */
  lookup(env: readonly string[]): EnvLookup {
    return lookupFromList([...env, ...this.filterAllowed(env)]);
  }

  /**
   * BuildKit's `|N K=V ...` part of a RUN's history: every ARG declaration of the stage in order (a name
   * declared twice is listed twice), valued as the RUN sees it (an ENV of the same name wins), `K=` when
   * it has no value.
   */
  buildkitRecorded(env: readonly string[]): string[] {
    const lookup = this.lookup(env);
    return this.declarations.map((k) => `${k}=${lookup(k) ?? ''}`);
  }

  /** What a RUN gets from the build args given the stage's current Env. */
  runBuildArgs(env: readonly string[]): RunBuildArgs {
    const extra = this.filterAllowed(env);
    if (extra.length === 0) return { env: [] };
    const recorded = extra
      .filter((kv) => {
        const key = kv.slice(0, kv.indexOf('='));
        return this.declared.has(key) || !BUILTIN.has(key);
      })
      .sort();
    return { env: extra, recorded };
  }
}

export interface ExpandOptions {
  escape?: EscapeChar;
  /** File name for error messages. */
  file?: string;
}

/**
 * A copy of the instruction with Docker's variable expansion applied where Docker applies it:
 * ENV and LABEL keys and values, ARG names and defaults, ADD/COPY sources, destination, --chown,
 * --chmod, --checksum, --exclude and unquoted heredoc bodies, EXPOSE (split into words), FROM image
 * and --platform, STOPSIGNAL, USER, VOLUME, WORKDIR. RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK,
 * MAINTAINER and ONBUILD come back unchanged. `COPY --from` is not expanded here (only meta args
 * apply to it: see plan.ts). A malformed substitution is a DOCKERFILE_SYNTAX error naming the line.
 */
export function expandInstruction<T extends Instruction>(inst: T, lookup: EnvLookup, options: ExpandOptions = {}): T {
  const escape = options.escape ?? '\\';
  const word = (w: string) => expandWord(w, lookup, escape);
  const opt = (w: string | undefined) => (w === undefined ? undefined : word(w));
  const pairs = (list: KeyValue[]) => list.map((p) => ({ key: word(p.key), value: word(p.value) }));
  try {
    switch (inst.kind) {
      case 'ENV':
      case 'LABEL':
        return { ...inst, pairs: pairs(inst.pairs) };
      case 'ARG':
        return { ...inst, args: inst.args.map((a) => ({ key: word(a.key), value: opt(a.value) })) };
      case 'ADD':
      case 'COPY':
        return {
          ...inst,
          sources: inst.sources.map(word),
          dest: word(inst.dest),
          chown: opt(inst.chown),
          chmod: opt(inst.chmod),
          exclude: inst.exclude.map(word),
          heredocs: inst.heredocs.map((h) => expandHeredoc(h, lookup)),
          ...(inst.kind === 'ADD' ? { checksum: opt(inst.checksum) } : {}),
        };
      case 'EXPOSE':
        return { ...inst, ports: inst.ports.flatMap((p) => expandWords(p, lookup, escape)) };
      case 'FROM':
        return { ...inst, image: word(inst.image), platform: opt(inst.platform) };
      case 'STOPSIGNAL':
        return { ...inst, signal: word(inst.signal) };
      case 'USER':
        return { ...inst, user: word(inst.user) };
      case 'VOLUME':
        return { ...inst, paths: inst.paths.map(word) };
      case 'WORKDIR':
        return { ...inst, path: word(inst.path) };
      default:
        return inst;
    }
  } catch (e) {
    if (isShaleError(e, 'INVALID_ARGUMENT')) {
      throw new DockerfileSyntaxError(options.file ?? 'Dockerfile', inst.line, `${inst.kind}: ${e.message}`);
    }
    throw e;
  }
}

/**
 * A heredoc body with `$` expansion applied when its delimiter was unquoted: quotes stay literal,
 * `\` escapes the next character (BuildKit's raw expansion of COPY/ADD heredocs). `<<-` tab
 * stripping is done first, so the result has `chomp: false`.
 */
export function expandHeredoc(h: Heredoc, lookup: EnvLookup): Heredoc {
  if (!h.expand) return h;
  return { ...h, content: lexWord(heredocBody(h), lookup, { skipProcessQuotes: true }).word, chomp: false };
}
