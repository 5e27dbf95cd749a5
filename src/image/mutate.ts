import { ShaleError } from '../internal/errors.js';
import type { ImageConfig } from '../oci/index.js';

/** Changes to an image's runtime config, as `crane mutate` takes them; a field left undefined is kept. */
export interface ConfigEdits {
  /** Replaces the entrypoint; an empty list removes it. */
  entrypoint?: string[];
  /** Replaces the default command; an empty list removes it. */
  cmd?: string[];
  /** Variables set in order: one already there (by name) is replaced in place, a new one appended. */
  env?: [name: string, value: string][];
  /** Labels set (added or replaced). */
  labels?: Record<string, string>;
  user?: string;
  workdir?: string;
  /** Ports added to ExposedPorts, as `PORT[/PROTO]` (tcp when no protocol is given). */
  exposedPorts?: string[];
}

/** `PORT[/tcp|udp|sctp]` with the protocol made explicit, as Docker writes ExposedPorts keys. */
export function normalizePort(raw: string): string {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(raw.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
    throw new ShaleError('INVALID_ARGUMENT', `exposed port "${raw}" is not PORT[/tcp|udp|sctp]`);
  }
  return `${Number(m[1])}/${(m[2] ?? 'tcp').toLowerCase()}`;
}

/**
 * The config with `edits` applied to its runtime part (`config.config`); layers, history and the rest are
 * the same, so the image keeps its filesystem. The input is not changed.
 */
export function mutateConfig(config: ImageConfig, edits: ConfigEdits): ImageConfig {
  const runtime: Record<string, unknown> = { ...(config.config ?? {}) };
  if (edits.entrypoint) runtime.Entrypoint = edits.entrypoint.length > 0 ? edits.entrypoint : null;
  if (edits.cmd) runtime.Cmd = edits.cmd.length > 0 ? edits.cmd : null;
  if (edits.env && edits.env.length > 0) {
    const env = Array.isArray(runtime.Env) ? (runtime.Env as unknown[]).filter((e): e is string => typeof e === 'string') : [];
    for (const [name, value] of edits.env) {
      const at = env.findIndex((e) => e === name || e.startsWith(`${name}=`));
      if (at >= 0) env[at] = `${name}=${value}`;
      else env.push(`${name}=${value}`);
    }
    runtime.Env = env;
  }
  if (edits.labels && Object.keys(edits.labels).length > 0) {
    const before = runtime.Labels && typeof runtime.Labels === 'object' ? (runtime.Labels as Record<string, string>) : {};
    runtime.Labels = { ...before, ...edits.labels };
  }
  if (edits.user !== undefined) runtime.User = edits.user;
  if (edits.workdir !== undefined) runtime.WorkingDir = edits.workdir;
  if (edits.exposedPorts && edits.exposedPorts.length > 0) {
    const before = runtime.ExposedPorts && typeof runtime.ExposedPorts === 'object' ? (runtime.ExposedPorts as Record<string, object>) : {};
    const ports: Record<string, object> = { ...before };
    for (const p of edits.exposedPorts) ports[normalizePort(p)] = {};
    runtime.ExposedPorts = ports;
  }
  return { ...config, config: runtime };
}
