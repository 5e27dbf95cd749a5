import { ShaleError } from '../internal/errors.js';
import { joinPath } from './go-path.js';
import { DEFAULT_SHELL, isMetadataInstruction, metadataCreatedBy, resolveCommand, workdirCreatedBy } from './history.js';
import type { HealthConfig, Instruction } from './instructions.js';
import { DockerfileSyntaxError } from './syntax-error.js';
import type { BuildMode } from './buildkit-output.js';

/** Docker's default PATH, added when the base image's Env has none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's HealthConfig as stored in an image config (durations in ns; zero fields left out). */
export interface DockerHealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` object of an image config (Docker's container.Config); unknown fields kept. */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object>;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: DockerHealthConfig;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[];
  [field: string]: unknown;
}

/** What a stage's instructions change besides the filesystem. */
export interface StageConfig {
  config: ContainerConfig;
  /** Set by MAINTAINER: the image's `author` and every later history entry's. */
  author?: string;
  /** A CMD of this stage has been seen (then ENTRYPOINT no longer resets Cmd). */
  cmdSet: boolean;
}

export interface StartedStage {
  state: StageConfig;
  /** The base image's OnBuild triggers: the stage must run them first (Docker clears them). */
  triggers: string[];
}

/**
 * The state a stage starts from, given its base image's `config` (undefined/null for scratch): a
 * copy with OnBuild moved out to `triggers`, stdin flags cleared, and PATH defaulted as Docker does.
 */
export function startStage(baseConfig?: ContainerConfig | null, mode: BuildMode = 'classic'): StartedStage {
  // BuildKit starts FROM scratch with PATH and WorkingDir `/`
  const start = baseConfig ?? (mode === 'buildkit' ? { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' } : {});
  const config: ContainerConfig = structuredClone(start);
  const triggers = config.OnBuild ?? [];
  config.OnBuild = null;
  config.OpenStdin = false;
  config.StdinOnce = false;
  const env = config.Env ?? [];
  if (!env.some((e) => e.split('=', 1)[0] === 'PATH')) config.Env = [...env, `PATH=${DEFAULT_PATH}`];
  return { state: { config, cmdSet: false }, triggers };
}

/** The shell `#(nop)` entries and shell-form commands use now. */
export const currentShell = (state: StageConfig): readonly string[] => state.config.Shell ?? DEFAULT_SHELL;

export interface ApplyOptions {
  /** File name for error messages. */
  file?: string;
  /** BuildKit's config changes (the default here is the classic builder's). */
  mode?: BuildMode;
}

export interface Applied {
  state: StageConfig;
  /**
   * created_by of the history entry, for metadata instructions and WORKDIR. Undefined for RUN,
   * COPY and ADD (see runCreatedBy/copyCreatedBy) and for FROM.
   */
  createdBy?: string;
  /** Docker records this entry with `empty_layer: true` (metadata); WORKDIR makes a layer. */
  emptyLayer: boolean;
}

/**
 * Applies one expanded instruction to the stage's config as Docker's classic builder does, without
 * touching the input. ENV replaces or appends `K=V`; ENTRYPOINT resets Cmd unless this stage set
 * CMD; WORKDIR resolves a relative path against the previous one; EXPOSE parses port specs;
 * STOPSIGNAL is validated. RUN, COPY, ADD, ARG and FROM leave the config as it is.
 * Bad values are DOCKERFILE_SYNTAX errors naming the line.
 */
export function applyInstruction(state: StageConfig, inst: Instruction, options: ApplyOptions = {}): Applied {
  const fail = (message: string): never => {
    throw new DockerfileSyntaxError(options.file ?? 'Dockerfile', inst.line, message);
  };
  const next: StageConfig = { ...state, config: structuredClone(state.config) };
  const c = next.config;
  const buildkit = options.mode === 'buildkit';
  switch (inst.kind) {
    case 'ENV': {
      const env = [...(c.Env ?? [])];
      for (const { key, value } of inst.pairs) {
        const i = env.findIndex((e) => e.split('=', 1)[0] === key);
        if (i >= 0) env[i] = `${key}=${value}`;
        else env.push(`${key}=${value}`);
      }
      c.Env = env;
      break;
    }
    case 'LABEL':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const { key, value } of inst.pairs) c.Labels[key] = value;
      break;
    case 'MAINTAINER':
      next.author = inst.maintainer;
      break;
    case 'USER':
      c.User = inst.user;
      break;
    case 'WORKDIR':
      c.WorkingDir = resolveWorkdir(c.WorkingDir ?? '', inst.path, fail);
      break;
    case 'EXPOSE':
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const spec of inst.ports) {
        for (const port of parsePortSpec(spec, fail)) c.ExposedPorts[port] = {};
      }
      break;
    case 'VOLUME':
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of inst.paths) {
        if (v === '') fail('VOLUME specified can not be an empty string');
        c.Volumes[v] = {};
      }
      break;
    case 'STOPSIGNAL':
      if (!isValidSignal(inst.signal)) fail(`Invalid signal: ${inst.signal}`);
      c.StopSignal = inst.signal;
      break;
    case 'HEALTHCHECK':
      c.Healthcheck = toDockerHealthConfig(inst.health);
      break;
    case 'ONBUILD':
      c.OnBuild = [...(c.OnBuild ?? []), inst.expression];
      break;
    case 'SHELL':
      c.Shell = [...inst.shell];
      break;
    case 'CMD':
      c.Cmd = resolveCommand(inst.command, currentShell(state));
      if (inst.command.form === 'shell' || inst.command.args.length > 0) next.cmdSet = true;
      // BuildKit marks CMD's arguments as escaped (for Windows); ENTRYPOINT leaves the flag as it was
      if (buildkit) c.ArgsEscaped = true;
      break;
    case 'ENTRYPOINT':
      c.Entrypoint = inst.command.form === 'exec' && inst.command.args.length === 0 ? null : resolveCommand(inst.command, currentShell(state));
      if (!state.cmdSet) c.Cmd = null;
      break;
    default:
      break;
  }
  if (inst.kind === 'WORKDIR') {
    return { state: next, createdBy: workdirCreatedBy(currentShell(next), c.WorkingDir!), emptyLayer: false };
  }
  if (isMetadataInstruction(inst)) {
    return { state: next, createdBy: metadataCreatedBy(inst, currentShell(next)), emptyLayer: true };
  }
  return { state: next, emptyLayer: false };
}

/** Docker's normalizeWorkdir: a relative path is joined to the current one; an absolute one is kept as written. */
export function resolveWorkdir(current: string, requested: string, fail: (m: string) => never = failPlain): string {
  if (requested === '') fail('cannot normalize nothing');
  if (requested.startsWith('/')) return requested;
  return joinPath('/', current, requested);
}

const failPlain = (m: string): never => {
  throw new ShaleError('INVALID_ARGUMENT', m);
};

/** A HealthConfig in Docker's JSON shape (zero durations and retries left out). */
export function toDockerHealthConfig(h: HealthConfig): DockerHealthConfig {
  const out: DockerHealthConfig = { Test: [...h.test] };
  if (h.interval) out.Interval = h.interval;
  if (h.timeout) out.Timeout = h.timeout;
  if (h.startPeriod) out.StartPeriod = h.startPeriod;
  if (h.startInterval) out.StartInterval = h.startInterval;
  if (h.retries) out.Retries = h.retries;
  return out;
}

/**
 * The exposed-port keys of an EXPOSE word as Docker's nat.ParsePortSpec gives them:
 * `80` -> `80/tcp`, `53/UDP` -> `53/udp`, `8000-8002` -> three keys, `127.0.0.1:80:8080` -> `8080/tcp`.
 */
export function parsePortSpec(spec: string, fail: (m: string) => never = failPlain): string[] {
  const parts = spec.split(':');
  const containerPart = parts[parts.length - 1]!;
  let proto = 'tcp';
  let port = containerPart;
  const slash = containerPart.split('/');
  if (containerPart === '' || slash[0] === '') port = '';
  else if (slash.length > 1 && slash[1] !== '') {
    port = slash[0]!;
    proto = slash[1]!;
  } else port = slash[0]!;
  if (port === '') fail(`No port specified: ${spec}<empty>`);
  if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) fail(`Invalid proto: ${proto}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(port);
  const start = m ? Number(m[1]) : NaN;
  const end = m ? Number(m[2] ?? m[1]) : NaN;
  if (!m || start > 65535 || end > 65535 || end < start) fail(`Invalid containerPort: ${port}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto.toLowerCase()}`);
  return out;
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1',
  'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/** Docker's signal.ParseSignal on Linux: a non-zero number, or a name with or without `SIG`. */
export function isValidSignal(raw: string): boolean {
  if (/^[+-]?\d+$/.test(raw)) return Number(raw) !== 0;
  return SIGNALS.has(raw.toUpperCase().replace(/^SIG/, ''));
}

const sortKeys = <T>(o: Record<string, T>): Record<string, T> =>
  Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));

/**
 * The config in the field order and null/omitted conventions of Docker's JSON (container.Config
 * marshalled by Go: maps sorted by key, empty ExposedPorts/Healthcheck/StopSignal/Shell left out,
 * unset Cmd/Entrypoint/Volumes/OnBuild/Labels as null). Fields Docker does not know follow.
 */
export function toDockerConfigJson(c: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = {
    Hostname: c.Hostname ?? '',
    Domainname: c.Domainname ?? '',
    User: c.User ?? '',
    AttachStdin: c.AttachStdin ?? false,
    AttachStdout: c.AttachStdout ?? false,
    AttachStderr: c.AttachStderr ?? false,
  };
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length > 0) out.ExposedPorts = sortKeys(c.ExposedPorts);
  out.Tty = c.Tty ?? false;
  out.OpenStdin = c.OpenStdin ?? false;
  out.StdinOnce = c.StdinOnce ?? false;
  out.Env = c.Env ?? null;
  out.Cmd = c.Cmd ?? null;
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck;
  if (c.ArgsEscaped) out.ArgsEscaped = true;
  out.Image = c.Image ?? '';
  out.Volumes = c.Volumes ? sortKeys(c.Volumes) : null;
  out.WorkingDir = c.WorkingDir ?? '';
  out.Entrypoint = c.Entrypoint ?? null;
  out.OnBuild = c.OnBuild ?? null;
  out.Labels = c.Labels ? sortKeys(c.Labels) : null;
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.Shell && c.Shell.length > 0) out.Shell = c.Shell;
  for (const [k, v] of Object.entries(c)) if (!(k in out) && !KNOWN.has(k)) out[k] = v;
  return out;
}

const KNOWN = new Set(['ExposedPorts', 'Healthcheck', 'ArgsEscaped', 'StopSignal', 'Shell']);
