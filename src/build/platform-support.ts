import { formatPlatform, normalizePlatform, platformMatches, type PlatformSpec } from '../oci/index.js';

/**
 * Whether this machine can run a platform's programs (a RUN step of a stage for that platform), decided
 * from data only: the host platform and the binfmt_misc registrations (`/proc/sys/fs/binfmt_misc/NAME`,
 * parsed by `parseBinfmtEntry`; read by read-binfmt.ts). No I/O here.
 */

/** One binfmt_misc registration as the kernel lists it. */
export interface BinfmtEntry {
  name: string;
  enabled: boolean;
  interpreter: string;
  /** The flag letters, e.g. `PF`: F (fix binary) makes the emulator usable inside a container's root. */
  flags: string;
  offset: number;
  magic?: Buffer;
  mask?: Buffer;
}

/** A registration's text (`enabled`, `interpreter ...`, `flags: ...`, `offset N`, `magic HEX`, `mask HEX`). */
export function parseBinfmtEntry(name: string, text: string): BinfmtEntry {
  const field = (key: string) => new RegExp(`^${key}:? (.*)$`, 'm').exec(text)?.[1]?.trim();
  const hex = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'hex'));
  return {
    name,
    enabled: /^enabled$/m.test(text),
    interpreter: field('interpreter') ?? '',
    flags: field('flags') ?? '',
    offset: Number(field('offset') ?? 0),
    magic: hex(field('magic')),
    mask: hex(field('mask')),
  };
}

/** The ELF identity of a Linux architecture's executables: class (1: 32-bit, 2: 64-bit), byte order, e_machine. */
const ELF: Record<string, { cls: 1 | 2; little: boolean; machine: number }> = {
  '386': { cls: 1, little: true, machine: 0x03 },
  amd64: { cls: 2, little: true, machine: 0x3e },
  arm: { cls: 1, little: true, machine: 0x28 },
  arm64: { cls: 2, little: true, machine: 0xb7 },
  ppc64le: { cls: 2, little: true, machine: 0x15 },
  ppc64: { cls: 2, little: false, machine: 0x15 },
  s390x: { cls: 2, little: false, machine: 0x16 },
  riscv64: { cls: 2, little: true, machine: 0xf3 },
  mips64le: { cls: 2, little: true, machine: 0x08 },
  mips64: { cls: 2, little: false, machine: 0x08 },
  loong64: { cls: 2, little: true, machine: 0x102 },
};

/** The first 20 bytes of a static executable for `arch` (what binfmt_misc magics match against). */
function elfHeader(arch: string): Buffer | undefined {
  const e = ELF[arch];
  if (!e) return undefined;
  const h = Buffer.alloc(20);
  h.write('\x7fELF', 0, 'latin1');
  h[4] = e.cls;
  h[5] = e.little ? 1 : 2;
  h[6] = 1;
  if (e.little) {
    h.writeUInt16LE(2, 16);
    h.writeUInt16LE(e.machine, 18);
  } else {
    h.writeUInt16BE(2, 16);
    h.writeUInt16BE(e.machine, 18);
  }
  return h;
}

/** True when a registration's magic (under its mask) matches `header`. */
function entryMatches(entry: BinfmtEntry, header: Buffer): boolean {
  const { magic, mask, offset } = entry;
  if (!magic || offset + magic.length > header.length) return false;
  for (let i = 0; i < magic.length; i++) {
    const m = mask?.[i] ?? 0xff;
    if ((header[offset + i]! & m) !== (magic[i]! & m)) return false;
  }
  return true;
}

export type RunSupport = { ok: true; how: 'native' | 'emulated'; emulator?: string } | { ok: false; reason: string };

/**
 * Whether `platform`'s programs run here: natively (the host's platform; 386 on amd64), else through an
 * enabled binfmt_misc registration that matches its executables and has the F flag (without it the
 * emulator is looked up inside the container's root, where it is not). The reason names the platform
 * and what is missing.
 */
export function platformSupport(platform: PlatformSpec, host: PlatformSpec, binfmt: readonly BinfmtEntry[] | undefined): RunSupport {
  const want = normalizePlatform(platform);
  const name = formatPlatform(want);
  if (platformMatches(want, host) || (want.os === host.os && want.architecture === '386' && normalizePlatform(host).architecture === 'amd64')) {
    return { ok: true, how: 'native' };
  }
  if (want.os !== normalizePlatform(host).os) {
    return { ok: false, reason: `RUN for ${name} needs a ${want.os} kernel; this machine is ${formatPlatform(normalizePlatform(host))}` };
  }
  const header = elfHeader(want.architecture);
  if (!header) return { ok: false, reason: `RUN for ${name}: shale knows no emulator for the architecture ${want.architecture}` };
  if (binfmt === undefined) {
    return { ok: false, reason: `RUN for ${name} needs an emulator, and binfmt_misc is not mounted (/proc/sys/fs/binfmt_misc)` };
  }
  const matching = binfmt.filter((e) => entryMatches(e, header));
  const usable = matching.find((e) => e.enabled && e.flags.includes('F'));
  if (usable) return { ok: true, how: 'emulated', emulator: usable.interpreter };
  if (matching.some((e) => e.enabled)) {
    return { ok: false, reason: `RUN for ${name}: the binfmt_misc emulator ${matching.find((e) => e.enabled)!.name} is registered without the F flag, so it cannot run inside a container` };
  }
  return { ok: false, reason: `RUN for ${name} needs an emulator, and no binfmt_misc registration for ${want.architecture} executables is enabled` };
}
