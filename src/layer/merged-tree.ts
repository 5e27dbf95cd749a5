import { ShaleError } from '../internal/errors.js';
import { cleanHeaderPath, cleanLinkTarget } from './path-safety.js';
import { listTar } from './tar-reader.js';
import type { EntryType, TarHeader } from './tar-header.js';
import { parseWhiteout } from './whiteout.js';

/** A layer's uncompressed tar, opened on demand (a stack is read more than once). */
export interface TarSource {
  /** Names the layer in errors. */
  what: string;
  open(): AsyncIterable<Uint8Array>;
  /**
   * Opens the tar only to list its headers: bytes that were verified against their digest when they
   * were stored (a store's blob), read without verifying them again. A lister may then also skip
   * the header checksums.
   */
  openForListing?(): AsyncIterable<Uint8Array>;
  /**
   * The blob's file: a plain tar's contents can be read by offset, and any blob can be listed by another
   * thread.
   */
  storedFile?: StoredLayerFile;
}

export interface StoredLayerFile {
  path: string;
  /** An uncompressed tar (else gzip or zstd, told by its first bytes). */
  plain: boolean;
  /** Where the blob lies in the file (a member of an archive read in place): from `offset`, `length` bytes. */
  region?: { offset: number; length: number };
  /**
   * Set when the bytes were not verified when stored (an archive read in place): their SHA-256 must be
   * this, and a reader of parts of them must have it checked before it reports anything.
   */
  unverifiedDigest?: string;
  /** For a compressed blob read in place: the SHA-256 its uncompressed tar must have. */
  unverifiedDiffId?: string;
}

/** Where a path's surviving entry comes from: layer index and entry index within that layer's tar. */
export interface EntrySource {
  layer: number;
  index: number;
}

export interface TreeNode {
  type: EntryType;
  /** Absent for a directory that no layer names but a deeper entry implies. */
  src?: EntrySource;
  size: number;
  linkname?: string;
  /** For a hard link: the entry whose content it shares (the file at the end of a chain of links). */
  linkTarget?: EntrySource;
  children?: Map<string, TreeNode>;
}

/** The entry headers of one layer, names cleaned, with their indices in the tar. */
export interface LayerListing {
  /** `contentOffset`: where a regular file's content starts in the tar (undefined for a sparse file). */
  entries: { index: number; path: string; header: TarHeader; contentOffset?: number }[];
}

/** Reads every header of a layer (contents skipped), checking names and link targets for safety. */
export async function listLayer(layer: TarSource): Promise<LayerListing> {
  const entries: LayerListing['entries'] = [];
  await listTar(layer.openForListing?.() ?? layer.open(), { what: layer.what }, (header, index, contentOffset) => {
    const path = cleanHeaderPath(header, `${layer.what}: entry`);
    if (header.type === 'hardlink') header.linkname = cleanLinkTarget(header.linkname, path, layer.what);
    entries.push({ index, path, header, contentOffset });
  });
  return { entries };
}

const newDir = (src?: EntrySource): TreeNode => ({ type: 'dir', src, size: 0, children: new Map() });

/**
 * The union of a layer stack, as overlayfs shows it: each layer's whiteouts and opaque markers are applied
 * first (whatever their position in the tar), then its entries. Entries that would be written through a
 * symlink are refused with UNSAFE_PATH; a hard link must name an entry that exists.
 */
export class MergedTree {
  readonly root: TreeNode = newDir();

  /** Builds the tree from the layers' listings, bottom layer first. */
  static async build(layers: readonly TarSource[]): Promise<MergedTree> {
    return (await MergedTree.buildListed(layers)).tree;
  }

  /** Builds the tree, and keeps each layer's listing (bottom layer first). */
  static async buildListed(layers: readonly TarSource[]): Promise<{ tree: MergedTree; listings: LayerListing[] }> {
    const tree = new MergedTree();
    const listings: LayerListing[] = [];
    for (let i = 0; i < layers.length; i++) {
      listings.push(await listLayer(layers[i]!));
      tree.apply(i, listings[i]!, layers[i]!.what);
    }
    return { tree, listings };
  }

  /** The node at a clean path, or undefined. */
  lookup(path: string): TreeNode | undefined {
    let node: TreeNode | undefined = this.root;
    if (path === '') return node;
    for (const part of path.split('/')) {
      node = node?.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  apply(layer: number, listing: LayerListing, what: string): void {
    const marks = listing.entries.map((e) => parseWhiteout(e.path));
    listing.entries.forEach((e, i) => {
      const mark = marks[i];
      if (!mark) return;
      if (mark.kind === 'opaque') {
        const dir = this.lookup(mark.dir);
        if (dir?.children) dir.children.clear();
      } else {
        const slash = mark.target.lastIndexOf('/');
        this.lookup(slash < 0 ? '' : mark.target.slice(0, slash))?.children?.delete(mark.target.slice(slash + 1));
      }
    });
    listing.entries.forEach((e, i) => {
      if (marks[i] || e.path === '') return;
      this.put(e.path, e.header, { layer, index: e.index }, what);
    });
  }

  private put(path: string, header: TarHeader, src: EntrySource, what: string): void {
    const parts = path.split('/');
    const name = parts.pop()!;
    let dir = this.root;
    for (let i = 0; i < parts.length; i++) {
      let child = dir.children!.get(parts[i]!);
      if (child?.type === 'symlink') {
        throw new ShaleError('UNSAFE_PATH', `${what}: entry "${path}" is written through the symlink "${parts.slice(0, i + 1).join('/')}"`, {
          hint: 'the archive may be hostile; it was not applied',
        });
      }
      if (!child || child.type !== 'dir') {
        child = newDir();
        dir.children!.set(parts[i]!, child);
      }
      dir = child;
    }
    let linkTarget: EntrySource | undefined;
    if (header.type === 'hardlink') {
      const target = this.lookup(header.linkname);
      if (!target || target.type === 'dir') {
        throw new ShaleError('CORRUPT_INPUT', `${what}: hard link "${path}" points to "${header.linkname}", which is not a file in the image`);
      }
      linkTarget = target.type === 'hardlink' ? target.linkTarget : target.src;
    }
    const existing = dir.children!.get(name);
    if (existing && existing.type === 'dir' && header.type === 'dir') {
      existing.src = src;
      return;
    }
    dir.children!.set(name, {
      type: header.type,
      src,
      size: header.size,
      linkname: header.type === 'symlink' || header.type === 'hardlink' ? header.linkname : undefined,
      linkTarget,
      children: header.type === 'dir' ? new Map() : undefined,
    });
  }

  /** Every node with its path, parents before children, names sorted. */
  *walk(): Generator<{ path: string; node: TreeNode }> {
    const stack: { path: string; node: TreeNode }[] = [{ path: '', node: this.root }];
    while (stack.length > 0) {
      const { path, node } = stack.pop()!;
      if (path !== '') yield { path, node };
      if (!node.children) continue;
      const names = [...node.children.keys()].sort().reverse();
      for (const n of names) stack.push({ path: path === '' ? n : `${path}/${n}`, node: node.children.get(n)! });
    }
  }

  /** For each layer, the indices of its entries that survive in the union. */
  survivors(layerCount: number): Set<number>[] {
    const out = Array.from({ length: layerCount }, () => new Set<number>());
    for (const { node } of this.walk()) if (node.src) out[node.src.layer]!.add(node.src.index);
    return out;
  }
}
