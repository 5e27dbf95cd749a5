import { ShaleError } from '../internal/errors.js';
import { cleanHeaderPath, cleanLinkTarget } from './path-safety.js';
import { listTar } from './tar-reader.js';
import type { TarHeader } from './tar-header.js';
import { parseWhiteout } from './whiteout.js';

/** What one layer holds, counted from its tar headers. */
export interface LayerSummary {
  /**
   * Sum of the entries' content sizes, a symlink counting its target's length (whiteouts excluded): the
   * layer's SIZE as Docker reports it.
   */
  contentSize: number;
  entries: number;
  whiteouts: number;
}

/** The bytes an entry counts for in a layer's SIZE: a file's size, a symlink's target length, else 0. */
export const entryContentBytes = (h: Pick<TarHeader, 'type' | 'size' | 'linkname'>): number =>
  h.type === 'symlink' ? Buffer.byteLength(h.linkname) : h.type === 'file' ? h.size : 0;

/**
 * Counts a layer's entries from their headers, in tar order, checking every name. Besides absolute names
 * and `..`, an entry (or hard link target) below a symlink the same layer made is refused: it would be
 * written through that symlink (whiteouts excepted: they apply to the layers below, before this one).
 * Shared by the parse of a blob from outside and by the tar writer that knows its own headers.
 */
export class LayerSummarizer {
  readonly summary: LayerSummary = { contentSize: 0, entries: 0, whiteouts: 0 };
  private readonly symlinks = new Set<string>();

  constructor(private readonly what: string) {}

  add(header: TarHeader): void {
    const path = cleanHeaderPath(header, `${this.what}: entry`);
    const whiteout = parseWhiteout(path);
    if (!whiteout) this.throughSymlink(path, path);
    if (header.type === 'hardlink') this.throughSymlink(cleanLinkTarget(header.linkname, path, this.what), path);
    if (header.type === 'symlink') this.symlinks.add(path);
    else this.symlinks.delete(path);
    this.summary.entries++;
    if (whiteout) this.summary.whiteouts++;
    else this.summary.contentSize += entryContentBytes(header);
  }

  private throughSymlink(path: string, entry: string): void {
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
      if (!this.symlinks.has(path.slice(0, i))) continue;
      throw new ShaleError('UNSAFE_PATH', `${this.what}: entry "${entry}" goes through the symlink "${path.slice(0, i)}"`, {
        hint: 'the archive may be hostile; it was not applied',
      });
    }
  }
}

/** Reads an uncompressed layer tar once, checking every name (see LayerSummarizer), and counts what it holds. */
export async function summarizeLayer(tar: AsyncIterable<Uint8Array>, what: string): Promise<LayerSummary> {
  const summarizer = new LayerSummarizer(what);
  await listTar(tar, { what }, (header) => summarizer.add(header));
  return summarizer.summary;
}
