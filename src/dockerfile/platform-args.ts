import { formatPlatform, normalizePlatform, type PlatformSpec } from '../oci/index.js';

/** The build args BuildKit defines from the platforms of a build, in the order it defines them. */
export const PLATFORM_ARG_NAMES: readonly string[] = [
  'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT',
  'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT',
];

/** The platforms of one build: where it runs, and what it builds for (`--platform`, else the same). */
export interface BuildPlatforms {
  build: PlatformSpec;
  target: PlatformSpec;
}

/**
 * BuildKit's automatic platform args for a build, from the normalized platforms: `TARGETPLATFORM` is
 * `os/arch[/variant]` (`linux/arm64/v8` gives `linux/arm64`), the parts alone, empty when absent
 * (`TARGETVARIANT` of amd64 is ""). They are defaults of the global scope (FROM sees them); a stage sees
 * one only after an `ARG NAME`; `--build-arg` overrides them (see expand.ts).
 */
export function platformArgs(platforms: BuildPlatforms): Map<string, string> {
  const out = new Map<string, string>();
  for (const [prefix, p] of [['BUILD', normalizePlatform(platforms.build)], ['TARGET', normalizePlatform(platforms.target)]] as const) {
    out.set(`${prefix}PLATFORM`, formatPlatform(p));
    out.set(`${prefix}OS`, p.os);
    out.set(`${prefix}ARCH`, p.architecture);
    out.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  return out;
}
