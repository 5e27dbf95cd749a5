import { ShaleError } from '../internal/errors.js';
import type { LayerSummary } from './layer-summary.js';
import { END_OF_ARCHIVE, encodeHeader, padLength, type TarHeader } from './tar-header.js';

/** An entry to pack: a header and, for a regular file, a synchronous reader of its `header.size` content bytes. */
export interface PackEntry {
  header: TarHeader;
  /** Reads up to `length` content bytes into `buf` at `offset`, returning how many (0 at the end). */
  read?: (buf: Buffer, offset: number, length: number) => number;
}

/**
 * Who owns the chunks `packTar` yields. `owned`: each chunk is a buffer of its own, the consumer may keep
 * it. `lent`: every chunk is a view of ONE reused buffer and is valid only until the next chunk is pulled;
 * a consumer must be done with it (hashed, written, copied) before it asks for the next one, or the bytes
 * it kept are overwritten. Lending spares the cost of touching fresh memory for every byte of a layer.
 */
export type ChunkOwnership = 'owned' | 'lent';

export const PACK_CHUNK_SIZE = 1 << 20;

/**
 * Serialises entries as a tar stream, byte for byte as `writeTar` does (ustar + PAX where needed, zero
 * padding, the two zero blocks at the end), but packed: headers, content and padding are copied (content
 * read straight) into `chunkSize` buffers, and only full buffers (and the last, partial one) are yielded.
 * Content shorter than its header's size is SIZE_MISMATCH; content beyond it is never read.
 */
export function* packTar(entries: Iterable<PackEntry>, ownership: ChunkOwnership, chunkSize = PACK_CHUNK_SIZE): Generator<Buffer, void, undefined> {
  let buf = Buffer.allocUnsafe(chunkSize);
  let pos = 0;
  const take = (): Buffer => {
    const chunk = buf.subarray(0, pos);
    if (ownership === 'owned') buf = Buffer.allocUnsafe(chunkSize);
    pos = 0;
    return chunk;
  };
  function* copy(bytes: Buffer): Generator<Buffer, void, undefined> {
    for (let off = 0; off < bytes.length; ) {
      const n = bytes.copy(buf, pos, off);
      off += n;
      pos += n;
      if (pos === chunkSize) yield take();
    }
  }
  function* zeros(count: number): Generator<Buffer, void, undefined> {
    while (count > 0) {
      const n = Math.min(count, chunkSize - pos);
      buf.fill(0, pos, pos + n);
      count -= n;
      pos += n;
      if (pos === chunkSize) yield take();
    }
  }
  for (const { header, read } of entries) {
    yield* copy(encodeHeader(header));
    if (header.type !== 'file') continue;
    let written = 0;
    while (read && written < header.size) {
      const n = read(buf, pos, Math.min(header.size - written, chunkSize - pos));
      if (n === 0) break;
      written += n;
      pos += n;
      if (pos === chunkSize) yield take();
    }
    if (written !== header.size) {
      throw new ShaleError('SIZE_MISMATCH', `tar entry "${header.name}": content is ${written} bytes, header says ${header.size}`);
    }
    yield* zeros(padLength(written));
  }
  yield* copy(END_OF_ARCHIVE);
  if (pos > 0) yield take();
}

/**
 * A layer tar that shale writes itself (a snapshot's diff). Iterated, it gives `owned` chunks; `lend`
 * gives the same bytes as `lent` chunks (see ChunkOwnership) and returns the layer's summary, counted
 * from the headers as they were written (checked as `summarizeLayer` checks a parsed tar).
 */
export interface LendingLayerTar extends AsyncIterable<Buffer> {
  lend(what: string): AsyncGenerator<Buffer, LayerSummary, undefined>;
}

export const isLendingLayerTar = (tar: AsyncIterable<Uint8Array>): tar is LendingLayerTar =>
  typeof (tar as Partial<LendingLayerTar>).lend === 'function';
