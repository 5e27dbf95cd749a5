import { compareStrings } from '../internal/compare.js';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ShaleError, hasErrno } from '../internal/errors.js';
import { cleanEntryPath, decompress, readTar } from '../layer/index.js';

/** One file of an archive (a tar, plain or compressed, or a directory). */
export interface ArchiveMember {
  name: string;
  type: 'file' | 'symlink' | 'other';
  linkname: string;
  size: number;
  body: AsyncIterable<Uint8Array>;
}

/** The members of an archive file or layout directory, streamed once, names checked for safety. */
export async function* archiveMembers(path: string): AsyncGenerator<ArchiveMember> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) throw new ShaleError('NOT_FOUND', `archive "${path}" does not exist`);
    throw e;
  }
  if (isDir) {
    yield* directoryMembers(path, path);
    return;
  }
  yield* tarMembers(createReadStream(path, { highWaterMark: 1 << 20 }), `archive ${path}`);
}

/** The members of a tar stream (plain, gzip or zstd). */
export async function* tarMembers(source: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<ArchiveMember> {
  for await (const e of readTar(decompress(source, { what }), { what })) {
    const t = e.header.type;
    yield {
      name: cleanEntryPath(e.header.name, `${what}: member`),
      type: t === 'file' ? 'file' : t === 'symlink' ? 'symlink' : 'other',
      linkname: e.header.linkname,
      size: e.header.size,
      body: e.body,
    };
  }
}

async function* directoryMembers(root: string, dir: string): AsyncGenerator<ArchiveMember> {
  const names = (await readdir(dir, { withFileTypes: true })).sort((a, b) => compareStrings(a.name, b.name));
  for (const d of names) {
    const full = join(dir, d.name);
    if (d.isDirectory()) {
      yield* directoryMembers(root, full);
    } else if (d.isFile()) {
      yield { name: relative(root, full), type: 'file', linkname: '', size: (await stat(full)).size, body: createReadStream(full, { highWaterMark: 1 << 20 }) };
    }
  }
}
