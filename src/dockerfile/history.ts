import { createHash } from 'node:crypto';
import { goDuration, goQuoteInt, goQuoteSlice, goSlice } from './go-format.js';
import type { Command, HealthConfig, Instruction } from './instructions.js';

/** The shell Docker prefixes commands and `#(nop)` entries with until a SHELL instruction. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/**
 * A metadata instruction's created_by: `/bin/sh -c #(nop)  TEXT` (Docker joins the shell, the word
 * `#(nop) ` and the text with spaces, hence two spaces).
 */
export const nopCreatedBy = (shell: readonly string[], text: string): string => [...shell, '#(nop) ', text].join(' ');

/** WORKDIR/COPY/ADD entries: `/bin/sh -c #(nop) TEXT` (one space). */
export const nopCreatedByOneSpace = (shell: readonly string[], text: string): string => [...shell, `#(nop) ${text}`].join(' ');

/** Docker's resolveCmdLine: shell form runs as `[...shell, script]`, exec form as written. */
export const resolveCommand = (cmd: Command, shell: readonly string[]): string[] =>
  cmd.form === 'exec' ? [...cmd.args] : [...shell, cmd.script];

export interface HealthcheckFormatOptions {
  /** Print the StartInterval field too, as Docker 25+ does (Docker 20.10, the reference, does not). */
  withStartInterval?: boolean;
}

/**
 * `fmt.Sprintf("%q", *HealthConfig)` as Docker writes it in history, e.g.
 * `&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\x00'}` (Test, Interval, Timeout, StartPeriod, Retries).
 */
export function formatHealthcheck(h: HealthConfig, options: HealthcheckFormatOptions = {}): string {
  const durations = [h.interval, h.timeout, h.startPeriod, ...(options.withStartInterval ? [h.startInterval] : [])];
  return `&{${[goQuoteSlice(h.test), ...durations.map((d) => `"${goDuration(d)}"`), goQuoteInt(h.retries)].join(' ')}}`;
}

/** The ARG text Docker records: `ARG K=V K2` (defaults as expanded, not the --build-arg values). */
const argText = (inst: Extract<Instruction, { kind: 'ARG' }>): string =>
  `ARG ${inst.args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(' ')}`;

export type MetadataInstruction = Extract<
  Instruction,
  { kind: 'ENV' | 'LABEL' | 'MAINTAINER' | 'ARG' | 'USER' | 'EXPOSE' | 'VOLUME' | 'SHELL' | 'STOPSIGNAL' | 'ONBUILD' | 'HEALTHCHECK' | 'CMD' | 'ENTRYPOINT' }
>;

const METADATA_KINDS = new Set(['ENV', 'LABEL', 'MAINTAINER', 'ARG', 'USER', 'EXPOSE', 'VOLUME', 'SHELL', 'STOPSIGNAL', 'ONBUILD', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT']);

/** True for the instructions Docker records as `#(nop)` entries with `empty_layer: true`. */
export const isMetadataInstruction = (inst: Instruction): inst is MetadataInstruction => METADATA_KINDS.has(inst.kind);

/**
 * The text after `#(nop)  ` for a metadata instruction (already expanded), as Docker writes it:
 * `ENV E=1 F=two words`, `LABEL a=b`, `VOLUME [/data]`, `SHELL [/bin/sh -c]`, `CMD ["-c" "echo hi"]`, ...
 * `shell` is the shell in effect (CMD/ENTRYPOINT shell form run through it; for SHELL pass the new one).
 */
export function metadataText(inst: MetadataInstruction, shell: readonly string[] = DEFAULT_SHELL): string {
  switch (inst.kind) {
    case 'ENV':
    case 'LABEL':
      return [inst.kind, ...inst.pairs.map((p) => `${p.key}=${p.value}`)].join(' ');
    case 'MAINTAINER':
      return `MAINTAINER ${inst.maintainer}`;
    case 'ARG':
      return argText(inst);
    case 'USER':
      return `USER ${inst.user}`;
    case 'EXPOSE':
      return `EXPOSE ${inst.ports.join(' ')}`;
    case 'VOLUME':
      return `VOLUME ${goSlice(inst.paths)}`;
    case 'SHELL':
      return `SHELL ${goSlice(inst.shell)}`;
    case 'STOPSIGNAL':
      return `STOPSIGNAL ${inst.signal}`;
    case 'ONBUILD':
      return `ONBUILD ${inst.expression}`;
    case 'HEALTHCHECK':
      return `HEALTHCHECK ${formatHealthcheck(inst.health)}`;
    case 'CMD':
      return `CMD ${goQuoteSlice(resolveCommand(inst.command, shell))}`;
    case 'ENTRYPOINT':
      return `ENTRYPOINT ${goQuoteSlice(resolveCommand(inst.command, shell))}`;
  }
}

/** created_by of a metadata instruction: `nopCreatedBy(shell, metadataText(...))`. */
export const metadataCreatedBy = (inst: MetadataInstruction, shell: readonly string[] = DEFAULT_SHELL): string =>
  nopCreatedBy(shell, metadataText(inst, shell));

/** created_by of WORKDIR: the resolved absolute directory, e.g. `/bin/sh -c #(nop) WORKDIR /home/w`. */
export const workdirCreatedBy = (shell: readonly string[], workingDir: string): string =>
  nopCreatedByOneSpace(shell, `WORKDIR ${workingDir}`);

/** A COPY/ADD source as Docker names it in history: `file:<sha256 hex>` or `dir:<sha256 hex>`. */
export const copySourceName = (type: 'file' | 'dir', sha256Hex: string): string => `${type}:${sha256Hex}`;

/** Several sources become one name: `multi:` + sha256 of their names joined with `,` (Docker's rule). */
export function combinedSourceName(names: readonly string[]): string {
  if (names.length === 1) return names[0]!;
  return `multi:${createHash('sha256').update(names.join(',')).digest('hex')}`;
}

export interface CopyHistory {
  instruction: 'COPY' | 'ADD';
  /** The source name: `copySourceName(...)` or `combinedSourceName(...)`. */
  source: string;
  /** The destination as written (expanded), not resolved against WORKDIR. */
  dest: string;
  /** `--chown` as written (expanded); Docker glues it to the source name. */
  chown?: string;
}

/** created_by of COPY/ADD: `/bin/sh -c #(nop) COPY file:<hex> in /x/ ` (trailing space included). */
export function copyCreatedBy(shell: readonly string[], c: CopyHistory): string {
  const chown = c.chown ? `--chown=${c.chown}` : '';
  return nopCreatedByOneSpace(shell, `${c.instruction} ${chown}${c.source} in ${c.dest} `);
}

/**
 * created_by of RUN: the command as run (`resolveCommand`), prefixed by `|N K=V ...` when build
 * args are in effect (`recorded` from StageArgs.runBuildArgs; N may be 0).
 */
export function runCreatedBy(argv: readonly string[], recorded?: readonly string[]): string {
  if (recorded === undefined) return argv.join(' ');
  return [`|${recorded.length}`, ...recorded, ...argv].join(' ');
}
