import { closeSync, fstatSync, openSync } from 'node:fs';
import { readAt } from '../internal/read-at.js';

/** What the dynamic loader reads from an ELF file: its interpreter, needed libraries and search paths. */
export interface ElfInfo {
  /** 32 or 64. */
  bits: 32 | 64;
  littleEndian: boolean;
  machine: number;
  /** PT_INTERP: the program interpreter (ld.so) of an executable. */
  interpreter?: string;
  /** DT_NEEDED, in order. */
  needed: string[];
  /** DT_RPATH and DT_RUNPATH, split at colons ($ORIGIN left as written). */
  rpath: string[];
  runpath: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

/** Reads bytes of a file by offset; short reads at the end give what is there. */
type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** The ELF facts of a file, or undefined when it is not an ELF file (or is cut short). */
export async function readElfInfo(path: string): Promise<ElfInfo | undefined> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    // offsets and lengths come from the file: what lies past its end is not read (nor allocated)
    const read: ReadAt = async (offset, length) => {
      const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      return buf.subarray(0, buf.length > 0 ? readAt(fd, buf, buf.length, offset) : 0);
    };
    return await parseElf(read);
  } finally {
    closeSync(fd);
  }
}

/** Parses the ELF header, program headers and dynamic section through `readAt`. */
export async function parseElf(readAt: ReadAt): Promise<ElfInfo | undefined> {
  const ident = await readAt(0, 64);
  if (ident.length < 52 || ident.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const bits = ident[4] === 2 ? 64 : ident[4] === 1 ? 32 : undefined;
  const le = ident[5] === 1;
  if (!bits || (ident[5] !== 1 && ident[5] !== 2)) return undefined;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const word = (b: Buffer, o: number) => (bits === 64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
  if (bits === 64 && ident.length < 64) return undefined;
  const machine = u16(ident, 18);
  const phoff = word(ident, bits === 64 ? 32 : 28);
  const phentsize = u16(ident, bits === 64 ? 54 : 42);
  const phnum = u16(ident, bits === 64 ? 56 : 44);
  const ph = await readAt(phoff, phentsize * phnum);
  const segments: { type: number; offset: number; vaddr: number; filesz: number }[] = [];
  for (let i = 0; i < phnum && (i + 1) * phentsize <= ph.length; i++) {
    const o = i * phentsize;
    segments.push(
      bits === 64
        ? { type: u32(ph, o), offset: word(ph, o + 8), vaddr: word(ph, o + 16), filesz: word(ph, o + 32) }
        : { type: u32(ph, o), offset: u32(ph, o + 4), vaddr: u32(ph, o + 8), filesz: u32(ph, o + 16) },
    );
  }
  const info: ElfInfo = { bits, littleEndian: le, machine, needed: [], rpath: [], runpath: [] };
  const interp = segments.find((s) => s.type === PT_INTERP);
  if (interp) info.interpreter = cString(await readAt(interp.offset, Math.min(interp.filesz, 4096)), 0);
  const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
  if (!dynamic) return info;
  const dyn = await readAt(dynamic.offset, Math.min(dynamic.filesz, 1 << 20));
  const entSize = bits === 64 ? 16 : 8;
  const entries: { tag: number; val: number }[] = [];
  for (let o = 0; o + entSize <= dyn.length; o += entSize) {
    const tag = word(dyn, o);
    if (tag === 0) break;
    entries.push({ tag, val: word(dyn, o + entSize / 2) });
  }
  const strtabAddr = entries.find((e) => e.tag === DT_STRTAB)?.val;
  if (strtabAddr === undefined) return info;
  // DT_STRTAB is an address: the loadable segment holding it says where it lies in the file
  const load = segments.find((s) => s.type === PT_LOAD && strtabAddr >= s.vaddr && strtabAddr < s.vaddr + s.filesz);
  const strtab = load ? strtabAddr - load.vaddr + load.offset : strtabAddr;
  const str = async (off: number) => cString(await readAt(strtab + off, 4096), 0);
  for (const e of entries) {
    if (e.tag === DT_NEEDED) info.needed.push(await str(e.val));
    else if (e.tag === DT_RPATH) info.rpath.push(...(await str(e.val)).split(':').filter(Boolean));
    else if (e.tag === DT_RUNPATH) info.runpath.push(...(await str(e.val)).split(':').filter(Boolean));
  }
  return info;
}

function cString(b: Buffer, at: number): string {
  const end = b.indexOf(0, at);
  return b.toString('utf8', at, end < 0 ? b.length : end);
}

/** The Debian multiarch triplet of an ELF machine (x86-64, AArch64, ...), for the default library directories. */
export function multiarchOf(info: Pick<ElfInfo, 'machine' | 'bits'>): string | undefined {
  const byMachine: Record<number, string> = { 62: 'x86_64-linux-gnu', 183: 'aarch64-linux-gnu', 3: 'i386-linux-gnu', 40: 'arm-linux-gnueabihf', 22: 's390x-linux-gnu', 243: 'riscv64-linux-gnu' };
  if (info.machine === 21) return info.bits === 64 ? 'powerpc64le-linux-gnu' : undefined;
  return byMachine[info.machine];
}
