import { cleanEntryPath, cleanLinkTarget } from './path-safety.js';
import { readTar } from './tar-reader.js';
import { parseWhiteout } from './whiteout.js';

/** What one layer holds, counted from its tar headers. */
export interface LayerSummary {
  /** Sum of the entries' content sizes (whiteouts excluded): the layer's SIZE as Docker reports it. */
  contentSize: number;
  entries: number;
  whiteouts: number;
}

/** Reads an uncompressed layer tar once, checking every name, and counts what it holds. */
export async function summarizeLayer(tar: AsyncIterable<Uint8Array>, what: string): Promise<LayerSummary> {
  const s: LayerSummary = { contentSize: 0, entries: 0, whiteouts: 0 };
  for await (const e of readTar(tar, { what })) {
    const path = cleanEntryPath(e.header.name, `${what}: entry`);
    if (e.header.type === 'hardlink') cleanLinkTarget(e.header.linkname, path);
    s.entries++;
    if (parseWhiteout(path)) s.whiteouts++;
    else s.contentSize += e.header.size;
  }
  return s;
}
