import { MergedTree, type EntrySource, type TarSource } from './merged-tree.js';
import { readTar } from './tar-reader.js';
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
  const tree = await MergedTree.build(layers);
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
      let index = 0;
      for await (const e of readTar(layers[i]!.open(), { what: layers[i]!.what })) {
        const here = key({ layer: i, index });
        const kept = keep.has(index++) && !moved.has(here);
        const links = orphans.get(here) ?? [];
        if (!kept && links.length === 0) continue;
        const path = cleanEntryPath(e.header.name);
        const header = { ...e.header, name: e.header.type === 'dir' ? `${path}/` : path };
        if (header.type === 'hardlink') header.linkname = cleanLinkTarget(header.linkname, path);
        // An entry with orphaned links is never itself a hard link (links resolve to the file they share).
        const [first, ...rest] = kept ? [path, ...links] : links;
        yield { header: { ...header, name: kept ? header.name : first! }, body: e.body };
        for (const name of rest) yield { header: { ...header, name, type: 'hardlink', linkname: first!, size: 0 } };
      }
    }
  }
  yield* writeTar(entries());
}
