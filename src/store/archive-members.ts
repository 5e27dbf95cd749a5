import { cleanEntryPath, decompress, readTar } from '../layer/index.js';

/** One file of an archive arriving as a stream. */
export interface ArchiveMember {
  name: string;
  type: 'file' | 'symlink' | 'other';
  linkname: string;
  size: number;
  body: AsyncIterable<Uint8Array>;
}

/** The members of a tar stream (plain, gzip or zstd), streamed once, names checked for safety. */
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

