import { ShaleError } from '../internal/errors.js';
import { hostPlatform, normalizePlatform, parsePlatform, type PlatformSpec } from '../oci/index.js';
import type { BuildPlatforms, Stage } from '../dockerfile/index.js';
import { platformSupport } from './platform-support.js';
import { readBinfmt } from './read-binfmt.js';

/** The platforms of a build: it runs on this machine's; it builds for `--platform` (checked), else the same. */
export function buildPlatforms(platform: string | undefined): BuildPlatforms {
  const build = normalizePlatform(hostPlatform());
  return { build, target: platform === undefined ? build : parsePlatform(platform, build) };
}

/** A stage's platform: its `FROM --platform` (already expanded), else the build's target. */
export function stagePlatform(stage: Stage, target: PlatformSpec, file: string): PlatformSpec {
  if (stage.platform === undefined || stage.platform === '') return target;
  try {
    return parsePlatform(stage.platform, target);
  } catch (e) {
    throw new ShaleError('INVALID_ARGUMENT', `${file}:${stage.from.line}: FROM --platform=${stage.from.platform}: ${(e as Error).message}`);
  }
}

/**
 * Refuses (UNSUPPORTED) a RUN whose stage platform cannot run here: not this machine's and no binfmt_misc
 * emulator registered with the F flag (see platform-support.ts). `where` is the RUN's `FILE:LINE`.
 */
export async function requireRunnable(platform: PlatformSpec, where: string): Promise<void> {
  const support = platformSupport(platform, hostPlatform(), await readBinfmt());
  if (!support.ok) {
    throw new ShaleError('UNSUPPORTED', `${where}: ${support.reason}`, {
      hint: support.reason.includes('kernel') ? 'build for a linux platform' : 'install qemu-user-static and binfmt-support (scripts/setup-binfmt.sh registers qemu-aarch64)',
    });
  }
}
