/**
 * What `docker build` (BuildKit's Dockerfile frontend, measured on Docker 26.1) writes into an image,
 * where it differs from the classic builder: history texts without `#(nop)`, the comment on every entry,
 * the config's JSON shape, and how `created` is filled in. Pure: no I/O.
 */
import type { History } from '../oci/schemas.js';
import { parsePortSpec, type ContainerConfig } from './apply-instruction.js';
import { formatHealthcheck, metadataText, runCreatedBy, type MetadataInstruction } from './history.js';
import type { AddInstruction, CopyInstruction } from './instructions.js';

/** Which builder's output `shale build` gives: BuildKit's (the default) or the classic builder's (`--classic`). */
export type BuildMode = 'buildkit' | 'classic';

/** The `comment` BuildKit's Dockerfile frontend puts on every history entry it writes. */
export const BUILDKIT_COMMENT = 'buildkit.dockerfile.v0';

/**
 * A metadata instruction's created_by: the instruction text with no shell prefix (`ENV A=1`, `CMD ["a"]`).
 * EXPOSE prints its own ports as a Go map (`EXPOSE map[53/udp:{} 80/tcp:{}]`), HEALTHCHECK includes the
 * start interval.
 */
export function buildkitMetadataCreatedBy(inst: MetadataInstruction, shell: readonly string[]): string {
  if (inst.kind === 'EXPOSE') {
    const ports = [...new Set(inst.ports.flatMap((p) => parsePortSpec(p)))].sort();
    return `EXPOSE map[${ports.map((p) => `${p}:{}`).join(' ')}]`;
  }
  if (inst.kind === 'HEALTHCHECK') return `HEALTHCHECK ${formatHealthcheck(inst.health, { withStartInterval: true })}`;
  return metadataText(inst, shell);
}

/** RUN: `RUN |N K=V ... argv # buildkit` (no `|N` part when no ARG is declared in the stage). */
export const buildkitRunCreatedBy = (argv: readonly string[], recorded: readonly string[]): string =>
  `RUN ${runCreatedBy(argv, recorded.length > 0 ? recorded : undefined)} # buildkit`;

/**
 * COPY/ADD: `COPY [--chown=U] [--chmod=M] SRC... [<<NAME...] DEST # buildkit`, sources and destination as
 * expanded; `--from`, `--link`, `--parents` and `--exclude` are not shown.
 */
export function buildkitCopyCreatedBy(inst: CopyInstruction | AddInstruction): string {
  const words = [
    inst.kind,
    ...(inst.chown ? [`--chown=${inst.chown}`] : []),
    ...(inst.chmod ? [`--chmod=${inst.chmod}`] : []),
    ...inst.sources,
    ...inst.heredocs.map((h) => `<<${h.name}`),
    inst.dest,
  ];
  return `${words.join(' ')} # buildkit`;
}

/** WORKDIR: `WORKDIR /resolved/dir`; a WORKDIR of `/` makes no layer. */
export const buildkitWorkdirCreatedBy = (workingDir: string): string => `WORKDIR ${workingDir}`;

const BUILDKIT_CONFIG_KEYS = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'ArgsEscaped', 'Healthcheck', 'OnBuild', 'Shell'] as const;

const isEmpty = (v: unknown): boolean =>
  v === undefined || v === null || v === '' || v === false || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v as object).length === 0);

const sortKeys = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));

/**
 * The config in BuildKit's JSON shape (the OCI ImageConfig plus Docker's Healthcheck/OnBuild/Shell): only
 * these keys, in this order, each left out when empty; maps sorted by key. No Hostname, Image, Attach*, ...
 */
export function toBuildkitConfigJson(c: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = {};
  for (const key of BUILDKIT_CONFIG_KEYS) {
    const v = c[key];
    if (isEmpty(v)) continue;
    out[key] = (key === 'ExposedPorts' || key === 'Volumes' || key === 'Labels' ? sortKeys(v as Record<string, unknown>) : v) as never;
  }
  return out;
}

/**
 * Fills `created` where BuildKit's exporter does (entries without one are the build's metadata steps):
 * such an entry gets the time of the entry before it, except before the first entry without a time,
 * where the first timed entry after it decides (so a leading ARG gets the first new layer's time);
 * with no timed entry after it, the last timed one. Returns a copy.
 */
export function fillBuildkitCreated(history: readonly History[]): History[] {
  let created: string | undefined;
  let untimedSeen = false;
  for (const h of history) {
    if (h.created !== undefined) {
      created = h.created;
      if (untimedSeen) break;
    } else untimedSeen = true;
  }
  untimedSeen = false;
  return history.map((h) => {
    if (h.created !== undefined) {
      if (untimedSeen) created = h.created;
      return h;
    }
    untimedSeen = true;
    return created === undefined ? h : { created, ...h };
  });
}
