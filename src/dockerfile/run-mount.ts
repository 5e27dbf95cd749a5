/**
 * `RUN --mount=` specs as BuildKit's Dockerfile frontend reads them: CSV fields `key=value` (a few keys
 * stand alone as booleans), each value expanded with the step's variables, defaults filled in and the
 * combinations BuildKit refuses refused with its messages. Pure: the executor (build/run-mounts.ts)
 * turns a `RunMount` into a real mount.
 */
import { ShaleError } from '../internal/errors.js';
import { cleanPath } from './go-path.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];

export interface RunMount {
  type: MountType;
  /** Absolute, cleaned path inside the container (defaults filled in for secret and ssh). */
  target: string;
  /** The path in `from` (or the context) to mount; '' for its root. */
  source: string;
  /** A stage name or index, or an image (bind, cache); undefined: the context (bind) or nothing. */
  from?: string;
  /** cache: the cache's id (default: the target); secret/ssh: the secret or agent id. */
  id: string;
  readonly: boolean;
  /** cache only. */
  sharing?: CacheSharing;
  /** File mode of the mount (cache directory, secret file, ssh socket). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** secret/ssh: fail when the build was not given it (else the step runs without it). */
  required: boolean;
  /** tmpfs: size limit in bytes. */
  size?: number;
  /** secret: also (or only, without an explicit target) set this environment variable to its value. */
  env?: string;
}

const KEYS = ['type', 'from', 'source', 'src', 'target', 'dst', 'destination', 'readonly', 'ro', 'readwrite', 'rw', 'required', 'id', 'sharing', 'mode', 'uid', 'gid', 'size', 'env'];

/** Splits a CSV record (Go's encoding/csv: `"` quotes a field, `""` inside is one quote). */
export function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('extraneous or missing " in quoted-field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw new Error('extraneous or missing " in quoted-field');
    } else {
      const end = text.indexOf(',', i);
      field = text.slice(i, end < 0 ? text.length : end);
      if (field.includes('"')) throw new Error('bare " in non-quoted-field');
      i = end < 0 ? text.length : end;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

const parseBool = (key: string, value: string): boolean => {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new Error(`invalid value for ${key}: ${value}`);
};

const parseUint = (value: string, base: 8 | 10, what: string): number => {
  const ok = base === 8 ? /^(0o?)?[0-7]+$/i.test(value) : /^\d+$/.test(value);
  const n = ok ? Number.parseInt(value.replace(/^0o/i, ''), base) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new Error(`invalid value ${value} for ${what}`);
  return n;
};

/** A size as Docker's units.RAMInBytes reads it: a number with an optional b/k/m/g/t/p suffix (powers of 1024). */
export function ramInBytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(value.trim());
  if (!m) throw new Error(`invalid size: '${value}'`);
  const power = ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** power);
}

export interface MountContext {
  /** Expands `$VAR` in a value (the step's ARGs and ENV). */
  expand: (word: string) => string;
  /** The step's working directory: a relative target is below it. */
  workdir: string;
  /** How many ssh mounts came before this one in the RUN (names /run/buildkit/ssh_agent.N). */
  sshIndex: number;
}

/** One `--mount=` value; throws an Error with BuildKit's message (see `parseRunMounts` for the located form). */
export function parseRunMount(spec: string, ctx: MountContext): RunMount {
  let fields: string[];
  try {
    fields = splitCsv(spec);
  } catch (e) {
    throw new Error(`failed to parse csv mounts: ${(e as Error).message}`);
  }
  // the type decides what other keys mean, wherever it is written
  let type: MountType = 'bind';
  for (const f of fields) {
    const [k, v] = cut(f);
    if (k.toLowerCase() !== 'type' || v === undefined) continue;
    const t = ctx.expand(v).toLowerCase();
    if (!MOUNT_TYPES.includes(t as MountType)) throw new Error(`unsupported mount type "${v}"`);
    type = t as MountType;
  }
  const m: Partial<RunMount> & { type: MountType } = { type };
  let readonly: boolean | undefined;
  let required = false;
  const fileInfo = type === 'secret' || type === 'ssh' || type === 'cache';
  for (const field of fields) {
    const [rawKey, rawValue] = cut(field);
    const key = rawKey.toLowerCase();
    if (rawValue === undefined) {
      if (field === '') continue;
      if (key === 'readonly' || key === 'ro') readonly = true;
      else if (key === 'readwrite' || key === 'rw') readonly = false;
      else if (key === 'required' && (type === 'secret' || type === 'ssh')) required = true;
      else if (key === 'required') throw new Error(`unexpected key '${key}' for mount type '${type}'`);
      else throw new Error(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const value = ctx.expand(rawValue);
    switch (key) {
      case 'type':
        break;
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        readonly = parseBool(key, value);
        break;
      case 'readwrite':
      case 'rw':
        readonly = !parseBool(key, value);
        break;
      case 'required':
        if (type !== 'secret' && type !== 'ssh') throw new Error(`unexpected key '${key}' for mount type '${type}'`);
        required = parseBool(key, value);
        break;
      case 'id':
        m.id = value;
        break;
      case 'sharing': {
        if (type !== 'cache') throw new Error(`invalid cache sharing set for ${type} mount`);
        const s = value.toLowerCase();
        if (s !== 'shared' && s !== 'private' && s !== 'locked') throw new Error(`unsupported sharing value "${value}"`);
        m.sharing = s;
        break;
      }
      case 'mode':
        m.mode = parseUint(value, 8, 'mode');
        break;
      case 'uid':
        m.uid = parseUint(value, 10, 'uid');
        break;
      case 'gid':
        m.gid = parseUint(value, 10, 'gid');
        break;
      case 'size':
        if (type !== 'tmpfs') throw new Error(`unexpected key '${key}' for mount type '${type}'`);
        m.size = ramInBytes(value);
        break;
      case 'env':
        if (type !== 'secret') throw new Error(`unexpected key '${key}' for mount type '${type}'`);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new Error(`invalid environment variable name '${value}'`);
        m.env = value;
        break;
      default:
        throw new Error(`unexpected key '${rawKey}' in '${field}'${suggestKey(key)}`);
    }
  }
  if (!fileInfo) {
    for (const k of ['mode', 'uid', 'gid'] as const) if (m[k] !== undefined) throw new Error(`${k} not allowed for "${type}" type mounts`);
  }
  if (type === 'secret') {
    if (m.from !== undefined) throw new Error('secret mount should not have a from');
    if (m.source === undefined && m.target === undefined && m.id === undefined && m.env === undefined) throw new Error('invalid secret mount. one of source, target required');
    if (m.source !== undefined && m.id !== undefined) throw new Error("both source and id can't be set");
  }
  if (type === 'ssh' && m.from !== undefined) throw new Error('ssh mount should not have a from');
  if (type === 'tmpfs' && m.from !== undefined) throw new Error('tmpfs mount should not have a from');
  return withDefaults(m, readonly, required, ctx);
}

function withDefaults(m: Partial<RunMount> & { type: MountType }, readonly: boolean | undefined, required: boolean, ctx: MountContext): RunMount {
  const absolute = (p: string) => cleanPath(p.startsWith('/') ? p : `${ctx.workdir.replace(/\/?$/, '/')}${p}`);
  let target = m.target;
  let id = m.id ?? '';
  if (m.type === 'secret') {
    // a secret's id is its source, else the target's base name
    id = m.source ?? m.id ?? (target !== undefined ? target.split('/').filter(Boolean).pop() ?? '' : '');
    if (id === '' && m.env !== undefined) throw new Error('invalid secret mount. one of source, target, id required');
    if (target === undefined && m.env === undefined) target = `/run/secrets/${id}`;
  } else if (m.type === 'ssh') {
    id ||= 'default';
    target ??= `/run/buildkit/ssh_agent.${ctx.sshIndex}`;
  }
  if (target === undefined || target === '') {
    if (!(m.type === 'secret' && m.env !== undefined)) throw new Error('mount destination not set');
  }
  const abs = target === undefined ? '' : absolute(target);
  if (abs === '/') throw new Error(`invalid mount target "${target}"`);
  if (m.type === 'cache' && id === '') id = abs;
  return {
    type: m.type,
    target: abs,
    source: m.type === 'secret' ? '' : (m.source ?? ''),
    from: m.from,
    id,
    readonly: readonly ?? !(m.type === 'cache' || m.type === 'tmpfs'),
    ...(m.type === 'cache' ? { sharing: m.sharing ?? 'shared' } : {}),
    mode: m.mode ?? (m.type === 'cache' ? 0o755 : m.type === 'secret' ? 0o400 : m.type === 'ssh' ? 0o600 : undefined),
    uid: m.uid ?? (m.type === 'bind' || m.type === 'tmpfs' ? undefined : 0),
    gid: m.gid ?? (m.type === 'bind' || m.type === 'tmpfs' ? undefined : 0),
    required,
    ...(m.size !== undefined ? { size: m.size } : {}),
    ...(m.env !== undefined ? { env: m.env } : {}),
  };
}

const cut = (field: string): [string, string | undefined] => {
  const eq = field.indexOf('=');
  return eq < 0 ? [field, undefined] : [field.slice(0, eq), field.slice(eq + 1)];
};

/** BuildKit's "did you mean" for a misspelt key (one edit away). */
function suggestKey(key: string): string {
  const close = KEYS.find((k) => editDistance(k, key) <= 1 && k !== key);
  return close ? ` (did you mean ${close}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = keep;
    }
  }
  return row[b.length]!;
}

/**
 * Every `--mount` of a RUN, parsed; a bad spec is a DOCKERFILE_SYNTAX error naming the Dockerfile line.
 * Two mounts on the same target are refused too.
 */
export function parseRunMounts(specs: readonly string[], where: { file: string; line: number }, ctx: Omit<MountContext, 'sshIndex'>): RunMount[] {
  const mounts: RunMount[] = [];
  let sshIndex = 0;
  for (const spec of specs) {
    let m: RunMount;
    try {
      m = parseRunMount(spec, { ...ctx, sshIndex });
    } catch (e) {
      if (e instanceof ShaleError) throw e;
      throw new ShaleError('DOCKERFILE_SYNTAX', `${where.file}:${where.line}: RUN --mount=${spec}: ${(e as Error).message}`);
    }
    if (m.type === 'ssh') sshIndex++;
    if (m.target !== '' && mounts.some((o) => o.target === m.target)) {
      throw new ShaleError('DOCKERFILE_SYNTAX', `${where.file}:${where.line}: RUN --mount=${spec}: another mount already uses target ${m.target}`);
    }
    mounts.push(m);
  }
  return mounts;
}
