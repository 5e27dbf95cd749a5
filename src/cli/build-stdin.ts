/**
 * What `shale build` reads from stdin, as `docker build` does: `-f -` is the Dockerfile; a context of `-`
 * is a tar of the context (plain or compressed) or, when stdin is not a tar, a Dockerfile with an empty
 * context. A tar context is unpacked into a scratch directory of the store, removed by `release`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { decompress } from '../layer/index.js';
import { unpackLayer } from '../snapshot/index.js';
import type { Store } from '../store/index.js';

export interface BuildInput {
  contextDir: string;
  dockerfile?: string;
  dockerfileText?: string;
  release: () => Promise<void>;
}

const once = async function* (b: Buffer) {
  yield b;
};

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

/** The first 512 bytes after decompression; an undecodable stream gives what it could. */
async function head(bytes: Buffer): Promise<Buffer> {
  let block = Buffer.alloc(0);
  try {
    for await (const c of decompress(once(bytes), { what: 'stdin' })) {
      block = Buffer.concat([block, c]);
      if (block.length >= 512) break;
    }
  } catch {
    /* not a compressed stream we know: treated as text */
  }
  return block;
}

export async function buildInput(store: Store, context: string, file: string | undefined, stdin: NodeJS.ReadableStream = process.stdin): Promise<BuildInput> {
  const none = async () => undefined;
  if (context === '-' && file === '-') throw new ShaleError('INVALID_ARGUMENT', 'stdin cannot be both the build context and the Dockerfile (context - and -f -)');
  if (file === '-') return { contextDir: context, dockerfile: join(context, 'Dockerfile'), dockerfileText: (await readAll(stdin)).toString('utf8'), release: none };
  if (context !== '-') return { contextDir: context, dockerfile: file, release: none };
  const bytes = await readAll(stdin);
  const dir = await mkdtemp(join(store.root, 'shale', 'tmp-context-'));
  const release = () => rm(dir, { recursive: true, force: true });
  const block = await head(bytes);
  if (block.length >= 512 && block.toString('latin1', 257, 262) === 'ustar') {
    try {
      await unpackLayer(decompress(once(bytes), { what: 'context on stdin' }), dir, { format: 'plain', what: 'context on stdin' });
    } catch (e) {
      await release();
      throw e;
    }
    return { contextDir: dir, dockerfile: file === undefined ? undefined : join(dir, file), release };
  }
  if (file !== undefined) {
    await release();
    throw new ShaleError('INVALID_ARGUMENT', `-f ${file}: stdin holds a Dockerfile, not a context tar, so there is no file to pick`);
  }
  return { contextDir: dir, dockerfile: join(dir, 'Dockerfile'), dockerfileText: bytes.toString('utf8'), release };
}
