import { ChunkReader } from './chunk-reader.js';
import { MergedTree, type EntrySource, type LayerListing, type TarSource } from './merged-tree.js';
import { readTar } from './tar-reader.js';
import type { TarHeader } from './tar-header.js';
import { writeTar, makeHeader, type TarWriteEntry } from './tar-writer.js';
import { cleanEntryPath, cleanLinkTarget } from './path-safety.js';

const key = (s: EntrySource): string => `${s.layer}:${s.index}`;

/**
 * The merged root filesystem of a layer stack as one tar without whiteouts (what `docker export` gives):
 * directories that no layer names come first, then each layer's surviving entries in layer order, so
 * hard link targets always precede their links. A hard link whose target path was later deleted or
 * replaced keeps the content it was made for: it is written where that original entry stands in the
 * stream (as a copy of it when the original itself is gone).
 */
export async function* exportMergedTar(layers: readonly TarSource[]): AsyncGenerator<Buffer> {
  const { tree, listings } = await MergedTree.buildListed(layers);
  const survivors = tree.survivors(layers.length);
  // Orphaned hard links: link paths by the entry whose content they share, and the link entries they replace.
  const orphans = new Map<string, string[]>();
  const moved = new Set<string>();
  for (const { path, node } of tree.walk()) {
    if (node.type !== 'hardlink' || !node.linkTarget || !node.src) continue;
    const at = tree.lookup(node.linkname!);
    const shared = at?.type === 'hardlink' ? at.linkTarget : at?.src;
    if (shared && key(shared) === key(node.linkTarget)) continue;
    orphans.set(key(node.linkTarget), [...(orphans.get(key(node.linkTarget)) ?? []), path]);
    moved.add(key(node.src));
  }
  const orphanLayers = new Set([...orphans.keys()].map((k) => Number(k.split(':')[0])));
  async function* entries(): AsyncGenerator<TarWriteEntry> {
    for (const { path, node } of tree.walk()) {
      if (!node.src) yield { header: makeHeader({ name: `${path}/`, type: 'dir', mode: 0o755 }) };
    }
    for (let i = 0; i < layers.length; i++) {
      const keep = survivors[i]!;
      if (keep.size === 0 && !orphanLayers.has(i)) continue;
      const wanted = (index: number) => {
        const here = key({ layer: i, index });
        return { kept: keep.has(index) && !moved.has(here), links: orphans.get(here) ?? [] };
      };
      const listing = listings[i]!;
      const sliceable = listing.entries.every((e) => e.header.type !== 'file' || e.contentOffset !== undefined);
      yield* sliceable ? sliceLayer(layers[i]!, listing, wanted) : parseLayer(layers[i]!, wanted);
    }
  }
  yield* writeTar(entries());
}

type Wanted = (index: number) => { kept: boolean; links: string[] };

/** The entries to write for one layer entry: itself when kept, then its orphaned hard links. */
function* exported(header: TarHeader, path: string, want: ReturnType<Wanted>, body?: AsyncIterable<Uint8Array>): Generator<TarWriteEntry> {
  const { kept, links } = want;
  const named = { ...header, name: header.type === 'dir' ? `${path}/` : path };
  if (named.type === 'hardlink') named.linkname = cleanLinkTarget(named.linkname, path);
  // An entry with orphaned links is never itself a hard link (links resolve to the file they share).
  const [first, ...rest] = kept ? [path, ...links] : links;
  yield { header: { ...named, name: kept ? named.name : first! }, body };
  for (const name of rest) yield { header: { ...named, name, type: 'hardlink', linkname: first!, size: 0 } };
}

/**
 * A layer's wanted entries, their headers from its listing and their contents cut out of its tar by
 * offset: the tar is read once, as a stream of chunks (to its end, so that a verifying source checks it),
 * without parsing it again.
 */
async function* sliceLayer(layer: TarSource, listing: LayerListing, wanted: Wanted): AsyncGenerator<TarWriteEntry> {
  const tar = new ChunkReader(layer.open(), layer.what);
  try {
    for (const e of listing.entries) {
      const want = wanted(e.index);
      if (!want.kept && want.links.length === 0) continue;
      let body: AsyncIterable<Uint8Array> | undefined;
      if (e.header.type === 'file' && e.header.size > 0) {
        await tar.skip(e.contentOffset! - tar.position);
        body = tar.stream(e.header.size);
      }
      yield* exported(e.header, e.path, want, body);
    }
    await tar.drain();
  } finally {
    await tar.close();
  }
}

/** A layer's wanted entries, read by parsing its tar again (one with sparse files, whose content needs expanding). */
async function* parseLayer(layer: TarSource, wanted: Wanted): AsyncGenerator<TarWriteEntry> {
  let index = 0;
  for await (const e of readTar(layer.open(), { what: layer.what })) {
    const want = wanted(index++);
    if (!want.kept && want.links.length === 0) continue;
    yield* exported(e.header, cleanEntryPath(e.header.name), want, e.body);
  }
}
