import { ShaleError } from '../internal/errors.js';
import { isIndexMediaType } from './media-types.js';
import type { Descriptor, Index } from './schemas.js';

/** An image's platform in OCI terms (`os`, `architecture`, optional `variant`). */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows']);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
  // aliases that normalize to the names above
  'i386', 'x86_64', 'x86-64', 'aarch64', 'armhf', 'armel',
]);

/**
 * The platform in the canonical form containerd's `platforms.Normalize` gives (what BuildKit compares and
 * formats): lowercase; `macos` is `darwin`; `x86_64` is `amd64`, `aarch64` is `arm64` (variant `v8` dropped),
 * `i386` is `386`, `armhf` is `arm/v7`, `armel` is `arm/v6`, and `arm` alone is `arm/v7`.
 */
export function normalizePlatform(p: PlatformSpec): PlatformSpec {
  const os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (architecture) {
    case 'i386':
      architecture = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64';
      if (variant === '8' || variant === 'v8') variant = '';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`;
      break;
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

/**
 * `OS/ARCH[/VARIANT]` (or a known OS or architecture alone, the other part taken from `defaults`), normalized.
 * Anything else is INVALID_ARGUMENT naming the text.
 */
export function parsePlatform(text: string, defaults: PlatformSpec = { os: 'linux', architecture: 'amd64' }): PlatformSpec {
  const parts = text.split('/');
  const bad = (why: string) => new ShaleError('INVALID_ARGUMENT', `invalid platform "${text}": ${why}`, { hint: 'write OS/ARCH[/VARIANT], e.g. linux/arm64' });
  if (parts.length > 3) throw bad('more than OS/ARCH/VARIANT');
  if (parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) throw bad('each part is letters, digits, _ or -');
  if (parts.length === 1) {
    const one = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(one) || one === 'macos') return normalizePlatform({ os: one, architecture: defaults.architecture, variant: defaults.variant });
    if (KNOWN_ARCH.has(one)) return normalizePlatform({ os: defaults.os, architecture: one });
    throw bad(`"${parts[0]}" is neither a known OS nor a known architecture`);
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

/** `os/arch[/variant]`. */
export const formatPlatform = (p: PlatformSpec): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/**
 * True when an image of platform `have` serves a request for `want` (both normalized first): same OS and
 * architecture, and the same variant when both name one.
 */
export function platformMatches(want: PlatformSpec, have: Partial<PlatformSpec>): boolean {
  if (!have.os || !have.architecture) return false;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have as PlatformSpec);
  return w.os === h.os && w.architecture === h.architecture && (!w.variant || !h.variant || w.variant === h.variant);
}

/** The platform of this machine in OCI terms. */
export function hostPlatform(): PlatformSpec {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

const platformText = (p: Partial<PlatformSpec> | undefined): string => [p?.os, p?.architecture, p?.variant].filter(Boolean).join('/') || 'unknown';

/**
 * The image manifest of an index for a platform (given: must match; default: this machine's, else the only
 * entry). Attestation entries (`unknown/unknown`) never match. `what` names the index in errors.
 */
export function selectPlatform(index: Index, platform: string | undefined, what: string): Descriptor {
  const want = platform ? parsePlatform(platform) : hostPlatform();
  const images = index.manifests.filter((m) => !isIndexMediaType(m.mediaType));
  if (index.manifests.length === 0) throw new ShaleError('CORRUPT_INPUT', `${what} lists no manifests`);
  const matches = images.filter((m) => m.platform && platformMatches({ os: want.os, architecture: want.architecture }, m.platform));
  const chosen = want.variant ? matches.find((m) => normalizePlatform(m.platform!).variant === want.variant) : matches[0];
  if (chosen) return chosen;
  const real = images.filter((m) => m.platform?.os !== 'unknown');
  if (!platform && real.length === 1) return real[0]!;
  throw new ShaleError('NOT_FOUND', `${what}: no image for platform ${platformText(want)} (the index has ${images.map((m) => platformText(m.platform)).join(', ') || 'none'})`, {
    hint: 'choose one with --platform OS/ARCH[/VARIANT]',
  });
}

/**
 * Refuses a single image whose config names another platform than the one asked for, as `docker pull
 * --platform` does; a config that names none is taken as it is.
 */
export function assertImagePlatform(config: Partial<PlatformSpec>, platform: string | undefined, what: string): void {
  if (!platform || !config.os || !config.architecture) return;
  const want = parsePlatform(platform);
  if (!platformMatches(want, config)) {
    throw new ShaleError('NOT_FOUND', `${what} does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${platformText(normalizePlatform(config as PlatformSpec))}`);
  }
}
