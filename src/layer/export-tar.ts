import { MergedTree, type TarSource } from './merged-tree.js';
import { readTar } from './tar-reader.js';
import { writeTar, makeHeader, type TarWriteEntry } from './tar-writer.js';
import { cleanEntryPath } from './path-safety.js';

/**
 * The merged root filesystem of a layer stack as one tar without whiteouts (what `docker export` gives):
 * directories that no layer names come first, then each layer's surviving entries in layer order, so
 * hard link targets always precede their links.
 */
export async function* exportMergedTar(layers: readonly TarSource[]): AsyncGenerator<Buffer> {
  const tree = await MergedTree.build(layers);
  const survivors = tree.survivors(layers.length);
  async function* entries(): AsyncGenerator<TarWriteEntry> {
    for (const { path, node } of tree.walk()) {
      if (!node.src) yield { header: makeHeader({ name: `${path}/`, type: 'dir', mode: 0o755 }) };
    }
    for (let i = 0; i < layers.length; i++) {
      const keep = survivors[i]!;
      if (keep.size === 0) continue;
      let index = 0;
      for await (const e of readTar(layers[i]!.open(), { what: layers[i]!.what })) {
        if (!keep.has(index++)) continue;
        const path = cleanEntryPath(e.header.name);
        const header = { ...e.header, name: e.header.type === 'dir' ? `${path}/` : path };
        if (header.type === 'hardlink') header.linkname = cleanEntryPath(header.linkname);
        yield { header, body: e.body };
      }
    }
  }
  yield* writeTar(entries());
}
