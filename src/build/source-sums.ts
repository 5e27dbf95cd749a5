import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { posix } from 'node:path';
import { resolveInRoot } from '../snapshot/index.js';
import { contextEntryHasher, imageEntryHasher, type OwnerNames } from './context-hash.js';

/**
 * Docker's per-path sum of a COPY source tree: the sum of the entry a path names once its symlinks
 * are followed inside the tree (a symlink is never hashed itself), or a path string when nothing is
 * there (a dangling link).
 */
export interface SourceSums {
  sum(rel: string): Promise<string>;
}

/** A path below `root` relative to it (`.` for the root itself). */
export const relativeTo = (root: string, host: string): string => posix.relative(root, host) || '.';

async function feedFile(hash: ReturnType<typeof contextEntryHasher>, host: string): Promise<string> {
  for await (const chunk of createReadStream(host)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The build context as the classic builder sums it: from the context tar the client sends, so only
 * the entries sent (`sent`) have a sum, and a file's later names (by inode, in the client's walk
 * order) are hard-link headers naming the first. A path without a sum stands for itself, as given.
 */
export class ContextSums implements SourceSums {
  private readonly cache = new Map<string, Promise<string>>();

  /** `firstNames`: inode -> the first sent name of a non-directory with several links. */
  constructor(
    private readonly root: string,
    private readonly sent: ReadonlySet<string>,
    private readonly firstNames: ReadonlyMap<number, string>,
  ) {}

  async sum(rel: string): Promise<string> {
    const target = relativeTo(this.root, await resolveInRoot(this.root, rel));
    if (!this.sent.has(target)) return rel;
    let sum = this.cache.get(target);
    if (!sum) this.cache.set(target, (sum = this.entrySum(target)));
    return sum;
  }

  private async entrySum(rel: string): Promise<string> {
    const host = posix.join(this.root, rel);
    const st = await lstat(host);
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) return contextEntryHasher({ path: rel, type: 'dir', mode, size: 0 }).digest('hex');
    const first = st.nlink > 1 ? this.firstNames.get(st.ino) : undefined;
    if (first !== undefined && first !== rel) return contextEntryHasher({ path: rel, type: 'hardlink', mode, size: 0, linkname: first }).digest('hex');
    return feedFile(contextEntryHasher({ path: rel, type: 'file', mode, size: st.size }), host);
  }
}

/**
 * A stage's or image's filesystem (COPY --from) as the classic builder sums it: lazily, from each
 * file's lstat (see imageEntryHasher). A path with nothing behind it stands for its followed path.
 */
export class RootfsSums implements SourceSums {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(
    private readonly root: string,
    private readonly names: OwnerNames,
  ) {}

  async sum(rel: string): Promise<string> {
    const host = await resolveInRoot(this.root, rel);
    const target = relativeTo(this.root, host);
    const st = await lstat(host).catch(() => undefined);
    if (!st) return target;
    let sum = this.cache.get(target);
    if (!sum) {
      const hash = imageEntryHasher(target, st, this.names);
      this.cache.set(target, (sum = st.isFile() && st.size > 0 ? feedFile(hash, host) : Promise.resolve(hash.digest('hex'))));
    }
    return sum;
  }
}
