import { ShaleError } from '../internal/errors.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from './tar-header.js';

/** An entry to write: a header and, for regular files, exactly `header.size` bytes of content. */
export interface TarWriteEntry {
  header: TarHeader;
  body?: AsyncIterable<Uint8Array> | Uint8Array;
}

/**
 * Serialises entries as a tar stream (ustar + PAX where needed), ending with the two zero blocks.
 * A body whose length differs from its header's size is an error, never a corrupt archive.
 */
export async function* writeTar(entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>): AsyncGenerator<Buffer> {
  for await (const { header, body } of entries) {
    yield encodeHeader(header);
    if (header.type !== 'file') continue;
    let written = 0;
    if (body instanceof Uint8Array) {
      written = body.length;
      if (written > 0) yield Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    } else if (body) {
      for await (const c of body) {
        written += c.byteLength;
        if (written > header.size) break;
        yield Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      }
    }
    if (written !== header.size) {
      throw new ShaleError('SIZE_MISMATCH', `tar entry "${header.name}": content is ${written} bytes, header says ${header.size}`);
    }
    const pad = padding(written);
    if (pad.length > 0) yield pad;
  }
  yield END_OF_ARCHIVE;
}

/** A header with defaults for the fields a caller does not care about. */
export function makeHeader(fields: Partial<TarHeader> & Pick<TarHeader, 'name' | 'type'>): TarHeader {
  return {
    mode: fields.type === 'dir' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    ...fields,
  };
}
