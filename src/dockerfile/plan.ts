import { ShaleError } from '../internal/errors.js';
import type { Dockerfile } from './dockerfile.js';
import { BuildArgs, expandInstruction, type BuildArgValues } from './expand.js';
import type { ArgDeclaration, CopyInstruction, FromInstruction, Instruction, InstructionOf } from './instructions.js';
import { expandWord } from './shell-lexer.js';
import { DockerfileSyntaxError } from './syntax-error.js';
import { parseRunMounts } from './run-mount.js';
import { platformArgs, type BuildPlatforms } from './platform-args.js';

/** What a stage starts from. */
export type StageBase = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

/** Where a `COPY --from` reads: another stage of this Dockerfile, or an image. */
export type CopySource = { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

/** One `FROM` and the instructions up to the next. */
export interface Stage {
  index: number;
  /** The `AS` name (lowercase), if any. */
  name?: string;
  from: FromInstruction;
  /** FROM's image with the meta args expanded. */
  image: string;
  /** `--platform` with the meta args expanded. */
  platform?: string;
  base: StageBase;
  /** The instructions after FROM, as parsed (not expanded). */
  instructions: Instruction[];
  /** The resolved source of each `COPY --from` of the stage. */
  copyFrom: Map<CopyInstruction, CopySource>;
  /** The resolved source of each `RUN --mount=...,from=X` of the stage, by X (expanded with the meta args). */
  mountFrom: Map<string, CopySource>;
  /** Indexes of the stages this one needs (its base, its COPY --from and RUN --mount from= stages), ascending. */
  dependencies: number[];
}

export interface BuildPlan {
  dockerfile: Dockerfile;
  /** The build's args: `--build-arg` values and the meta ARGs (already declared). */
  buildArgs: BuildArgs;
  /** The ARGs before the first FROM, expanded. */
  metaArgs: ArgDeclaration[];
  stages: Stage[];
  /** The stage whose result is the image: `--target`, else the last. */
  target: Stage;
  /** The stages the target needs, the target last, each after every stage it depends on. */
  order: Stage[];
}

export interface PlanOptions {
  /** `--target`: the stage name whose result is the image. */
  target?: string;
  /** `--build-arg` values. */
  buildArgs?: BuildArgValues;
  /** The build's platforms: given, BuildKit's automatic platform args are defined (platform-args.ts). */
  platforms?: BuildPlatforms;
}

/** A stage's name for messages: its AS name or `stage-N`. */
export const stageLabel = (s: Stage): string => s.name ?? `stage-${s.index}`;

/**
 * Splits a parsed Dockerfile into stages and resolves what each needs: FROM names a stage defined
 * earlier (else an image; `scratch` is empty), `COPY --from` names any stage or a stage index (else
 * an image); both see only the meta args. Refuses an unknown target (INVALID_ARGUMENT), a
 * dependency cycle, a bad stage index, a blank FROM or a bad `RUN --mount` spec (DOCKERFILE_SYNTAX).
 * A mount's `from=` is resolved as `COPY --from` is.
 */
export function planBuild(dockerfile: Dockerfile, options: PlanOptions = {}): BuildPlan {
  const { file, escape } = dockerfile;
  const buildArgs = new BuildArgs(options.buildArgs ?? {}, options.platforms ? platformArgs(options.platforms) : undefined);
  const metaArgs: ArgDeclaration[] = [];
  const stages: Stage[] = [];
  const fail = (line: number, message: string): never => {
    throw new DockerfileSyntaxError(file, line, message);
  };

  for (const inst of dockerfile.instructions) {
    if (inst.kind === 'FROM') {
      const expanded = expandInstruction(inst, buildArgs.metaLookup(), { escape, file });
      if (expanded.image === '') fail(inst.line, `base name (${inst.image}) should not be blank`);
      const named = stages.find((s) => s.name !== undefined && s.name === expanded.image.toLowerCase());
      const base: StageBase = named
        ? { kind: 'stage', index: named.index }
        : expanded.image === 'scratch'
          ? { kind: 'scratch' }
          : { kind: 'image', ref: expanded.image };
      stages.push({
        index: stages.length,
        name: inst.stageName,
        from: inst,
        image: expanded.image,
        platform: expanded.platform,
        base,
        instructions: [],
        copyFrom: new Map(),
        mountFrom: new Map(),
        dependencies: [],
      });
    } else if (stages.length === 0) {
      if (inst.kind === 'ARG') metaArgs.push(...buildArgs.declareMeta(inst.args, escape));
    } else {
      stages[stages.length - 1]!.instructions.push(inst);
    }
  }

  const edges = new Map<number, { to: number; line: number }[]>();
  for (const stage of stages) {
    const out: { to: number; line: number }[] = [];
    if (stage.base.kind === 'stage') out.push({ to: stage.base.index, line: stage.from.line });
    const resolveFrom = (from: string, line: number): CopySource => {
      if (/^\d+$/.test(from)) {
        const index = Number(from);
        if (index >= stages.length) fail(line, `invalid stage index ${from}`);
        return { kind: 'stage', index };
      }
      const named = stages.find((s) => s.name !== undefined && s.name === from.toLowerCase());
      return named ? { kind: 'stage', index: named.index } : { kind: 'image', ref: from };
    };
    for (const inst of stage.instructions) {
      if (inst.kind === 'RUN') {
        // a spec using a variable may need the stage's ARGs and ENV: the step checks it when it runs
        const expand = (w: string) => expandWord(w, buildArgs.metaLookup(), escape);
        const mounts = inst.mounts.flatMap((spec) => {
          try {
            return parseRunMounts([spec], { file, line: inst.line }, { expand, workdir: '/' });
          } catch (e) {
            if (spec.includes('$')) return [];
            throw e;
          }
        });
        for (const m of mounts) {
          if (m.from === undefined || stage.mountFrom.has(m.from)) continue;
          const source = resolveFrom(m.from, inst.line);
          stage.mountFrom.set(m.from, source);
          if (source.kind === 'stage') out.push({ to: source.index, line: inst.line });
        }
      }
      if (inst.kind !== 'COPY' || inst.from === undefined) continue;
      const source = resolveFrom(expandWord(inst.from, buildArgs.metaLookup(), escape), inst.line);
      stage.copyFrom.set(inst, source);
      if (source.kind === 'stage') out.push({ to: source.index, line: inst.line });
    }
    edges.set(stage.index, out);
    stage.dependencies = [...new Set(out.map((e) => e.to))].sort((a, b) => a - b);
  }

  const cycle = findCycle(stages, edges);
  if (cycle) fail(cycle.line, `circular dependency detected on stage: ${stageLabel(stages[cycle.stage]!)}`);

  let target = stages[stages.length - 1]!;
  if (options.target !== undefined) {
    const found = stages.find((s) => s.name !== undefined && s.name === options.target!.toLowerCase());
    if (!found) {
      const names = stages.flatMap((s) => (s.name ? [s.name] : []));
      throw new ShaleError('INVALID_ARGUMENT', `target stage "${options.target}" could not be found in ${file}`, {
        hint: names.length > 0 ? `stages named there: ${names.join(', ')}` : `${file} names no stage (use FROM image AS name)`,
      });
    }
    target = found;
  }

  const order: Stage[] = [];
  const seen = new Set<number>();
  const visit = (s: Stage) => {
    if (seen.has(s.index)) return;
    seen.add(s.index);
    for (const d of s.dependencies) visit(stages[d]!);
    order.push(s);
  };
  visit(target);

  for (const stage of order) {
    for (const inst of stage.instructions) {
      if (inst.kind === 'ADD' && inst.checksum !== undefined && inst.checksum !== '') refuseChecksum(inst, file);
    }
  }

  return { dockerfile, buildArgs, metaArgs, stages, target, order };
}

/**
 * `ADD --checksum` verifies a download: BuildKit takes it for one HTTP(S) or Git source only, and
 * shale's ADD fetches neither, so it is always refused, with BuildKit's reason for local sources.
 */
function refuseChecksum(inst: InstructionOf<'ADD'>, file: string): never {
  const where = `${file}:${inst.line}`;
  if (inst.sources.length + inst.heredocs.length !== 1) {
    throw new DockerfileSyntaxError(file, inst.line, "ADD --checksum can't be specified for multiple sources");
  }
  const src = inst.sources[0];
  if (src === undefined || !isRemoteSource(src)) {
    throw new DockerfileSyntaxError(file, inst.line, 'ADD --checksum requires HTTP(S) or Git sources', { hint: 'for a file in the build context, drop --checksum' });
  }
  throw new ShaleError('UNSUPPORTED', `${where}: ADD --checksum is not supported: shale does not fetch URLs or Git repositories during builds`, {
    hint: 'download and verify the file before the build, then COPY it from the context',
  });
}

/** An ADD source BuildKit fetches: an http(s) URL or a Git remote. */
const isRemoteSource = (src: string): boolean =>
  /^https?:\/\//.test(src) || /^git@[^:]+:/.test(src) || /^(git|ssh):\/\//.test(src);

/** The first dependency cycle found (depth-first from each stage in order): its stage and closing line. */
function findCycle(stages: Stage[], edges: Map<number, { to: number; line: number }[]>): { stage: number; line: number } | undefined {
  const done = new Set<number>();
  const onPath = new Set<number>();
  const walk = (i: number): { line: number } | undefined => {
    if (done.has(i)) return undefined;
    onPath.add(i);
    for (const e of edges.get(i) ?? []) {
      if (onPath.has(e.to)) return { line: e.line };
      const found = walk(e.to);
      if (found) return found;
    }
    onPath.delete(i);
    done.add(i);
    return undefined;
  };
  for (const s of stages) {
    const found = walk(s.index);
    if (found) return { stage: s.index, line: found.line };
  }
  return undefined;
}
