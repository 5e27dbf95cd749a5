/**
 * `shale build --secret` and `--ssh` as buildx reads them. Secrets are read once, when the build starts,
 * and kept in memory only; ssh ids name agent sockets. Key files (`--ssh id=key.pem`) are refused: shale
 * forwards agents, it does not start one.
 */
import { readFile, stat } from 'node:fs/promises';
import { ShaleError } from '../internal/errors.js';
import { splitCsv } from '../dockerfile/run-mount.js';

/** BuildKit refuses secrets above 500 KiB. */
const MAX_SECRET = 500 * 1024;

export class BuildSecrets {
  constructor(
    private readonly secrets: ReadonlyMap<string, Buffer> = new Map(),
    private readonly agents: ReadonlyMap<string, string> = new Map(),
  ) {}

  get(id: string): Buffer | undefined {
    return this.secrets.get(id);
  }

  sshAgent(id: string): string | undefined {
    return this.agents.get(id);
  }

  /** Every secret's bytes (a test and a guard: nothing written may hold them). */
  values(): Buffer[] {
    return [...this.secrets.values()];
  }

  /** Reads `--secret` and checks `--ssh` specs; a bad one is INVALID_ARGUMENT naming it. */
  static async load(secretSpecs: readonly string[], sshSpecs: readonly string[], env: NodeJS.ProcessEnv): Promise<BuildSecrets> {
    const secrets = new Map<string, Buffer>();
    for (const spec of secretSpecs) {
      const { id, file, envName } = parseSecretSpec(spec, env);
      let value: Buffer;
      if (envName !== undefined) {
        const v = env[envName];
        if (v === undefined) throw new ShaleError('INVALID_ARGUMENT', `--secret ${spec}: environment variable ${envName} is not set`);
        value = Buffer.from(v);
      } else {
        const st = await stat(file!).catch(() => {
          throw new ShaleError('NOT_FOUND', `--secret ${spec}: failed to stat ${file}`);
        });
        if (!st.isFile()) throw new ShaleError('INVALID_ARGUMENT', `--secret ${spec}: ${file} is not a file`);
        value = await readFile(file!);
      }
      if (value.length > MAX_SECRET) throw new ShaleError('INVALID_ARGUMENT', `--secret ${spec}: secret ${id} too big. max size 500KB`);
      secrets.set(id, value);
    }
    const agents = new Map<string, string>();
    for (const spec of sshSpecs) {
      const { id, socket } = parseSshSpec(spec, env);
      const st = await stat(socket).catch(() => undefined);
      if (!st) throw new ShaleError('NOT_FOUND', `--ssh ${spec}: ${socket} not found`);
      if (!st.isSocket()) {
        throw new ShaleError('UNSUPPORTED', `--ssh ${spec}: ${socket} is not an SSH agent socket; shale forwards agents and does not load key files`, {
          hint: `start an agent (eval $(ssh-agent); ssh-add ${socket}) and build with --ssh ${id}`,
        });
      }
      agents.set(id, socket);
    }
    return new BuildSecrets(secrets, agents);
  }
}

/**
 * `id=X,src=FILE`, `id=X,env=VAR`, `type=file|env,...`; without src or env, the variable named by the id
 * when it is set, else the file named by it (buildx).
 */
export function parseSecretSpec(spec: string, env: NodeJS.ProcessEnv): { id: string; file?: string; envName?: string } {
  const bad = (why: string): never => {
    throw new ShaleError('INVALID_ARGUMENT', `--secret ${spec}: ${why}`);
  };
  let type: string | undefined;
  let id = '';
  let file: string | undefined;
  let envName: string | undefined;
  let fields: string[] = [];
  try {
    fields = splitCsv(spec);
  } catch (e) {
    bad((e as Error).message);
  }
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0) bad(`invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const value = field.slice(eq + 1);
    if (key === 'type') {
      if (value !== 'file' && value !== 'env') bad(`unsupported secret type "${value}"`);
      type = value;
    } else if (key === 'id') id = value;
    else if (key === 'source' || key === 'src') file = value;
    else if (key === 'env') envName = value;
    else bad(`unexpected key '${key}' in '${field}'`);
  }
  if (type === 'env' && envName === undefined) [envName, file] = [file, undefined];
  if (id === '') bad('secret missing ID');
  if (file === undefined && envName === undefined) {
    if (type !== 'file' && env[id] !== undefined) envName = id;
    else file = id;
  }
  return { id, file, envName };
}

/** `default` ($SSH_AUTH_SOCK), `id` (also $SSH_AUTH_SOCK) or `id=/path/to/agent.sock` (one path). */
export function parseSshSpec(spec: string, env: NodeJS.ProcessEnv): { id: string; socket: string } {
  const eq = spec.indexOf('=');
  const id = eq < 0 ? spec : spec.slice(0, eq);
  const paths = eq < 0 ? [] : spec.slice(eq + 1).split(',').filter((p) => p !== '');
  if (id === '') throw new ShaleError('INVALID_ARGUMENT', `--ssh ${spec}: an id is required (default, or id=/path/to/agent.sock)`);
  if (paths.length > 1) throw new ShaleError('UNSUPPORTED', `--ssh ${spec}: several paths (key files) are not supported; give one agent socket`);
  if (paths.length === 1) return { id, socket: paths[0]! };
  const sock = env.SSH_AUTH_SOCK;
  if (!sock) throw new ShaleError('INVALID_ARGUMENT', `--ssh ${spec}: SSH_AUTH_SOCK is not set`, { hint: 'start an agent (eval $(ssh-agent)) or give id=/path/to/agent.sock' });
  return { id, socket: sock };
}
