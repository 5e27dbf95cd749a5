import { ShaleError } from '../internal/errors.js';
import { cleanHeaderPath, cleanLinkTarget } from './path-safety.js';
import { readTar } from './tar-reader.js';
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
 * Reads an uncompressed layer tar once, checking every name, and counts what it holds. Besides absolute
 * names and `..`, an entry (or hard link target) below a symlink the same layer made is refused: it would
 * be written through that symlink (whiteouts excepted: they apply to the layers below, before this one).
 */
export async function summarizeLayer(tar: AsyncIterable<Uint8Array>, what: string): Promise<LayerSummary> {
  const s: LayerSummary = { contentSize: 0, entries: 0, whiteouts: 0 };
  const symlinks = new Set<string>();
  const throughSymlink = (path: string, entry: string): void => {
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
      if (!symlinks.has(path.slice(0, i))) continue;
      throw new ShaleError('UNSAFE_PATH', `${what}: entry "${entry}" goes through the symlink "${path.slice(0, i)}"`, {
        hint: 'the archive may be hostile; it was not applied',
      });
    }
  };
  for await (const e of readTar(tar, { what })) {
    const path = cleanHeaderPath(e.header, `${what}: entry`);
    const whiteout = parseWhiteout(path);
    if (!whiteout) throughSymlink(path, path);
    if (e.header.type === 'hardlink') throughSymlink(cleanLinkTarget(e.header.linkname, path, what), path);
    if (e.header.type === 'symlink') symlinks.add(path);
    else symlinks.delete(path);
    s.entries++;
    if (whiteout) s.whiteouts++;
    else s.contentSize += entryContentBytes(e.header);
  }
  return s;
}
