/**
 * Streaming compressors for layer blobs. Each is deterministic for a given codec, level and encoder, so
 * a tar compresses to the same digest wherever the same encoder runs (a remembered copy stays valid).
 *
 * - gzip on every core: the input is cut into fixed chunks, each deflated as a gzip member of its own and
 *   written in order. Concatenated members are one valid gzip stream (RFC 1952 section 2.2), as pigz's
 *   output is; a small window of chunks is in flight, so memory stays bounded. The encoder is libdeflate
 *   (Debian's `libdeflate-gzip`, one process per 8 MiB chunk) when installed: at level 4 it deflates a
 *   204 MB Debian tar to 93.1 MB in 1.7 s of one core, where zlib takes 4.3 s for 94.8 MB. Without it,
 *   zlib's asynchronous call deflates 1 MiB chunks on libuv's thread pool. The default level is the
 *   encoder's (defaultCompressionLevel).
 * - zstd through Debian's `zstd` program, fed on stdin and read on stdout: Node 20's zlib has no zstd
 *   encoder (fzstd, used to read zstd, only decodes), and the reference encoder is the one other tools'
 *   output is compared with. `-T0` uses every core; its frames do not depend on the number of workers.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import { gzip as gzipCallback } from 'node:zlib';
import { promisify } from 'node:util';
import { ShaleError } from '../internal/errors.js';
import type { Compression } from '../oci/media-types.js';

/** A codec that writes compressed layers (`none` is not one). */
export type LayerCompression = Exclude<Compression, 'none'>;

export interface CompressionSpec {
  compression: LayerCompression;
  /** The codec's own level (gzip 1-9, zstd 1-19). */
  level: number;
}

/** Each codec's levels. */
export const COMPRESSION_LEVELS: Record<LayerCompression, { min: number; max: number }> = {
  gzip: { min: 1, max: 9 },
  zstd: { min: 1, max: 19 },
};

/**
 * A codec's default level. zstd 3, as the zstd tool's. gzip: the level of this machine's encoder whose
 * output is nearest in size to what Go's default gzip writes for Docker and skopeo, and cheapest (a 204 MB
 * Debian tar, skopeo 95.3 MB): libdeflate 1 gives 96.4 MB in 1.0 s of one core (its 4 gave 93.1 MB in
 * 1.6 s), zlib 4 gives 94.8 MB in two thirds of its level 6's time (93.4 MB).
 */
export function defaultCompressionLevel(codec: LayerCompression): number {
  if (codec === 'zstd') return 3;
  return defaultGzipEncoder() === 'libdeflate' ? 1 : 4;
}

/**
 * Reads `--compression` and `--compression-level` (or BuildKit's `compression=`/`compression-level=`):
 * `none`/`uncompressed` give undefined; a level outside the codec's range, or one without a codec, is refused.
 */
export function parseCompression(name: string | undefined, rawLevel: string | undefined, what: { flag: string; levelFlag: string }): CompressionSpec | undefined {
  const n = (name ?? '').toLowerCase();
  if (n !== 'gzip' && n !== 'zstd' && n !== 'none' && n !== 'uncompressed') {
    throw new ShaleError('INVALID_ARGUMENT', `${what.flag} must be gzip, zstd or none, got "${name}"`);
  }
  if (n === 'none' || n === 'uncompressed') {
    if (rawLevel !== undefined) throw new ShaleError('INVALID_ARGUMENT', `${what.levelFlag} needs a compression (gzip or zstd), not ${n}`);
    return undefined;
  }
  const range = COMPRESSION_LEVELS[n];
  if (rawLevel === undefined) return { compression: n, level: defaultCompressionLevel(n) };
  const level = Number(rawLevel);
  if (rawLevel.trim() === '' || !Number.isInteger(level) || level < range.min || level > range.max) {
    throw new ShaleError('INVALID_ARGUMENT', `${what.levelFlag} for ${n} must be an integer from ${range.min} to ${range.max}, got "${rawLevel}"`);
  }
  return { compression: n, level };
}

/** Bytes each gzip member holds before compression, per encoder. Fixed: the output must not depend on the number of cores. */
export const GZIP_MEMBER_SIZE = { zlib: 1 << 20, libdeflate: 8 << 20 } as const;

export type GzipEncoder = keyof typeof GZIP_MEMBER_SIZE;

/**
 * Fixed-size slices of a stream (the last may be shorter), copied out of the source's chunks into buffers
 * taken from `spare` when it has one: a consumer done with a slice puts it back, so a long stream reuses a
 * few buffers instead of leaving one per slice to the garbage collector.
 */
async function* fixedChunks(source: AsyncIterable<Uint8Array>, size: number, spare: Buffer[]): AsyncGenerator<Buffer> {
  let buf = spare.pop() ?? Buffer.allocUnsafe(size);
  let used = 0;
  for await (const c of source) {
    let off = 0;
    while (off < c.byteLength) {
      const take = Math.min(size - used, c.byteLength - off);
      buf.set(c.subarray(off, off + take), used);
      used += take;
      off += take;
      if (used === size) {
        yield buf;
        buf = spare.pop() ?? Buffer.allocUnsafe(size);
        used = 0;
      }
    }
  }
  if (used > 0) yield buf.subarray(0, used);
}

/** Where `libdeflate-gzip` is, looked up once on PATH (undefined: not installed). */
let libdeflatePath: string | undefined | null = null;
function findLibdeflate(): string | undefined {
  if (libdeflatePath === null) {
    libdeflatePath = (process.env.PATH ?? '').split(':').map((dir) => join(dir || '.', 'libdeflate-gzip')).find((p) => {
      try {
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  }
  return libdeflatePath;
}

/** The gzip encoder used by default: libdeflate when installed, else zlib. */
export const defaultGzipEncoder = (): GzipEncoder => (findLibdeflate() ? 'libdeflate' : 'zlib');

/**
 * libdeflate-gzip run by long-lived shells. A process forked by Node costs page-table copies and, after it,
 * copy-on-write faults in Node, in proportion to Node's resident memory (15 ms a spawn at 200 MB resident,
 * measured), where a shell forks for almost nothing: so each slot's shell is started once and runs one
 * libdeflate-gzip per member. A member's chunk goes in as a file in `scratchDir`, the shell deflates it into
 * a second file there and prints the exit status, and the member is read back; the files are removed.
 */
class LibdeflateShells {
  private readonly shells: { child: ChildProcessByStdio<Writable, Readable, null>; waiting: ((status: string) => void)[] }[] = [];
  private count = 0;

  constructor(
    private readonly level: number,
    private readonly scratchDir: string,
    private readonly slots: number,
  ) {}

  private shell() {
    if (this.shells.length < this.slots) {
      const script = 'while IFS= read -r f; do "$0" -c "$1" <"$f.in" >"$f.gz" 2>"$f.err"; echo $?; done';
      const child = spawn('sh', ['-c', script, findLibdeflate() ?? 'libdeflate-gzip', `-${this.level}`], { stdio: ['pipe', 'pipe', 'ignore'] });
      const entry = { child, waiting: [] as ((status: string) => void)[] };
      child.stdin.on('error', () => undefined); // a dead shell is reported by the status below
      createInterface({ input: child.stdout }).on('line', (line) => entry.waiting.shift()?.(line));
      child.once('close', () => entry.waiting.splice(0).forEach((w) => w('its shell ended')));
      this.shells.push(entry);
    }
    return this.shells[this.count % this.slots]!;
  }

  /** One gzip member of `chunk` (no name, no mtime); a failure is an error naming the encoder. `written` is called once the chunk is no longer needed. */
  async member(chunk: Buffer, written: () => void): Promise<Buffer> {
    const shell = this.shell();
    const base = join(this.scratchDir, `member-${this.count++}`);
    try {
      await writeFile(`${base}.in`, chunk);
      written();
      const status = await new Promise<string>((resolve) => {
        shell.waiting.push(resolve);
        shell.child.stdin.write(`${base}\n`);
      });
      if (status !== '0') {
        const stderr = await readFile(`${base}.err`, 'utf8').catch(() => '');
        const why = /^\d+$/.test(status) ? `exit status ${status}` : status;
        throw new ShaleError('FAILED_PRECONDITION', `libdeflate-gzip -${this.level} failed (${why}): ${stderr.trim()}`);
      }
      return await readFile(`${base}.gz`);
    } finally {
      await Promise.all(['in', 'gz', 'err'].map((ext) => rm(`${base}.${ext}`, { force: true })));
    }
  }

  /** Ends the shells: at once (SIGKILL) when `abandoned`, else when they have read their last line. */
  close(abandoned: boolean): void {
    for (const { child } of this.shells) {
      if (abandoned) child.kill('SIGKILL');
      else child.stdin.end();
    }
  }
}

export interface ParallelGzipOptions {
  /** A private, existing folder for libdeflate's chunk files (the store's scratch space); the caller removes it. */
  scratchDir: string;
  encoder?: GzipEncoder;
}

/**
 * Gzip of a stream on several cores: fixed-size chunks (GZIP_MEMBER_SIZE), each its own gzip member (no
 * name, no mtime), at most `window` in flight, written in input order. An empty input gives one empty member.
 */
export async function* parallelGzip(source: AsyncIterable<Uint8Array>, level: number, options: ParallelGzipOptions): AsyncGenerator<Buffer> {
  const encoder = options.encoder ?? defaultGzipEncoder();
  const cores = availableParallelism();
  const window = encoder === 'libdeflate' ? cores + 1 : Math.min(16, Math.max(2, cores * 2));
  const size = GZIP_MEMBER_SIZE[encoder];
  const shells = encoder === 'libdeflate' ? new LibdeflateShells(level, options.scratchDir, window) : undefined;
  const zlibGzip = promisify(gzipCallback);
  // a chunk's buffer goes back to `spare` once the encoder has it
  const spare: Buffer[] = [];
  const release = (c: Buffer) => () => {
    if (c.buffer.byteLength === size && c.byteOffset === 0) spare.push(Buffer.from(c.buffer, 0, size));
  };
  const member = shells ? (c: Buffer) => shells.member(c, release(c)) : (c: Buffer) => zlibGzip(c, { level }).then((m) => (release(c)(), m));
  const inFlight: Promise<Buffer>[] = [];
  let any = false;
  let finished = false;
  try {
    for await (const chunk of fixedChunks(source, size, spare)) {
      any = true;
      const p = member(chunk);
      p.catch(() => undefined); // awaited in order below; a failure must not go unhandled meanwhile
      inFlight.push(p);
      if (inFlight.length >= window) yield await inFlight.shift()!;
    }
    if (!any) inFlight.push(member(Buffer.alloc(0)));
    while (inFlight.length > 0) yield await inFlight.shift()!;
    finished = true;
  } finally {
    inFlight.length = 0;
    shells?.close(!finished);
  }
}

/** Zstd of a stream by the `zstd` program; a failed or missing program is an error naming it. */
export async function* zstdCompress(source: AsyncIterable<Uint8Array>, level: number): AsyncGenerator<Buffer> {
  const child = spawn('zstd', ['-q', '-c', '-T0', `-${level}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);
  const fed = pipeline(Readable.from(source, { objectMode: false }), child.stdin).then(
    () => undefined,
    (e: unknown) => e,
  );
  let finished = false;
  try {
    for await (const c of child.stdout) yield c as Buffer;
    const feedError = await fed;
    let code: number | null;
    try {
      code = await exited;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ShaleError('UNSUPPORTED', 'zstd compression needs the zstd program, which is not installed', { hint: 'apt-get install zstd' });
      }
      throw e;
    }
    // the input's own failure (a digest mismatch) comes first: zstd saw only an early end of it
    if (feedError !== undefined && !(feedError instanceof Error && (feedError as NodeJS.ErrnoException).code === 'EPIPE')) throw feedError;
    if (code !== 0) throw new ShaleError('FAILED_PRECONDITION', `zstd -${level} failed (exit status ${code}): ${stderr.trim()}`);
    finished = true;
  } finally {
    if (!finished && child.exitCode === null) child.kill('SIGKILL');
  }
}

/** The compressed bytes of a stream, by the codec and level given; `scratchDir` as parallelGzip takes it. */
export function compressStream(source: AsyncIterable<Uint8Array>, spec: CompressionSpec, scratchDir: string): AsyncGenerator<Buffer> {
  return spec.compression === 'gzip' ? parallelGzip(source, spec.level, { scratchDir }) : zstdCompress(source, spec.level);
}
