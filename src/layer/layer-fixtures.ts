/**
 * Helpers shared by the layer tests: build tars in memory, read them back whole, run GNU tar in a
 * temp dir, and match ShaleError codes. Test-only; nothing in src/ imports this file.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShaleError, type ErrorCode } from '../internal/errors.js';
import type { TarHeader } from './tar-header.js';
import type { TarSource } from './merged-tree.js';
import { readTar } from './tar-reader.js';
import { makeHeader, writeTar, type TarWriteEntry } from './tar-writer.js';

/** All bytes of a stream in one buffer. */
export async function collect(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** Serves a buffer as an async stream of chunks of `size` bytes (small sizes exercise boundaries). */
export async function* chunks(buf: Uint8Array, size = 64 * 1024): AsyncGenerator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield Buffer.from(buf.subarray(off, Math.min(buf.length, off + size)));
}

export const file = (name: string, content: string | Buffer = '', fields: Partial<TarHeader> = {}): TarWriteEntry => {
  const body = Buffer.from(content);
  return { header: makeHeader({ name, type: 'file', size: body.length, ...fields }), body };
};
export const dir = (name: string, fields: Partial<TarHeader> = {}): TarWriteEntry => ({
  header: makeHeader({ name: name.endsWith('/') ? name : `${name}/`, type: 'dir', ...fields }),
});
export const symlink = (name: string, target: string, fields: Partial<TarHeader> = {}): TarWriteEntry => ({
  header: makeHeader({ name, type: 'symlink', linkname: target, mode: 0o777, ...fields }),
});
export const hardlink = (name: string, target: string, fields: Partial<TarHeader> = {}): TarWriteEntry => ({
  header: makeHeader({ name, type: 'hardlink', linkname: target, ...fields }),
});

/** The tar bytes writeTar produces for these entries. */
export const tarOf = (entries: TarWriteEntry[]): Promise<Buffer> => collect(writeTar(entries));

/** A layer (TarSource) whose tar holds these entries; opened any number of times, served in small chunks. */
export async function layer(what: string, entries: TarWriteEntry[]): Promise<TarSource> {
  return bufferSource(what, await tarOf(entries));
}
export const bufferSource = (what: string, tar: Buffer, chunkSize = 1000): TarSource => ({
  what,
  open: () => chunks(tar, chunkSize),
});

export interface ReadEntry {
  header: TarHeader;
  offset: number;
  body: Buffer;
}

/** Every entry of a tar with its body read whole. */
export async function readAll(tar: Buffer | AsyncIterable<Uint8Array>, chunkSize = 4096): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  const src = Buffer.isBuffer(tar) ? chunks(tar, chunkSize) : tar;
  for await (const e of readTar(src)) out.push({ header: e.header, offset: e.offset, body: await collect(e.body) });
  return out;
}

/** Asserts that `fn` rejects with a ShaleError of this code, and returns the error. */
export async function rejectsWithCode(fn: () => Promise<unknown>, code: ErrorCode): Promise<ShaleError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected a ShaleError ${code}, but nothing was thrown`);
  assert.ok(caught instanceof ShaleError, `expected a ShaleError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected code ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

/** The same, for a synchronous call. */
export function throwsWithCode(fn: () => unknown, code: ErrorCode): ShaleError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ShaleError, `expected a ShaleError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected a ShaleError ${code}, but nothing was thrown`);
}

/** A fresh temp dir for `fn`, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const d = mkdtempSync(join(tmpdir(), 'shale-layer-test-'));
  try {
    return await fn(d);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** Runs a program (no shell unless asked), returning stdout; throws with stderr on failure. */
export const run = (cmd: string, args: string[], cwd?: string, input?: Buffer): Buffer =>
  execFileSync(cmd, args, { cwd, input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 << 20 });

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A deterministic pseudo-random buffer (xorshift), for content that does not compress to nothing. */
export function noise(n: number, seed = 0x9e3779b9): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Rewrites fields of the header block at `off` in a tar and fixes its checksum (for crafting odd headers). */
export function patchHeader(tar: Buffer, off: number, patch: (block: Buffer) => void): Buffer {
  const out = Buffer.from(tar);
  const block = out.subarray(off, off + 512);
  patch(block);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return out;
}

/** Runs GNU tar (or another tool) and returns stdout and stderr; throws when it exits non-zero. */
export function runFull(cmd: string, args: string[], cwd?: string): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}
