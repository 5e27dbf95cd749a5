import type { CopyInstruction, Instruction } from '../dockerfile/instructions.js';
import type { BuildMode } from '../dockerfile/buildkit-output.js';

/**
 * What stands for the sources of a BuildKit `COPY --from=<stage or image>` in its cache key, without
 * mounting the source or hashing its files: the source's own key (a stage's step key covers its whole
 * chain, its base image and every context file it copied in; an image's key is its content-addressed ID)
 * with the source paths as expanded. The same key therefore means the same files, and any change to an
 * input of the source changes it. Undefined where the files themselves must be hashed: the classic
 * builder (its history names them by digest), heredoc sources and COPY from the context.
 */
export function copyFromSourceName(inst: Instruction, mode: BuildMode, sourceKey: string | undefined): string | undefined {
  if (mode !== 'buildkit' || inst.kind !== 'COPY' || sourceKey === undefined) return undefined;
  const copy: CopyInstruction = inst;
  if (copy.heredocs.length > 0) return undefined;
  return `from:${sourceKey}:${JSON.stringify(copy.sources)}`;
}
