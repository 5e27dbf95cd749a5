import { createHash, type Hash } from 'node:crypto';
import { copySourceName } from './history.js';

/** The header facts of a build-context entry that Docker's classic builder hashes. */
export interface ContextEntryHeader {
  /** Context-relative path, e.g. `a.txt`, `d/x` (`/` is appended for directories). */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits with setuid/setgid/sticky (e.g. 0o644); file-type bits are not part of it. */
  mode: number;
  /** Content size of a regular file; 0 otherwise. */
  size: number;
  linkname?: string;
  /** Only `security.capability` is read by Docker. */
  xattrs?: Record<string, string>;
}

const TYPEFLAG = { file: '0', dir: '5', symlink: '2' } as const;

/**
 * A sha256 pre-fed with the tarsum-v1 header Docker hashes for a context entry (name, mode, uid and
 * gid 0 as the context tar carries them, size, typeflag, linkname, empty user and group names,
 * device numbers 0, sorted xattrs). Feed a regular file's content, then `digest('hex')` is the hex
 * of `file:<hex>` in COPY/ADD history. Measured: `a.txt` 0644 `hello\n` gives 00ec1633...cadda.
 */
export function contextEntryHasher(h: ContextEntryHeader): Hash {
  const name = h.type === 'dir' && !h.path.endsWith('/') ? `${h.path}/` : h.path;
  const fields: [string, string][] = [
    ['name', name],
    ['mode', String(h.mode)],
    ['uid', '0'],
    ['gid', '0'],
    ['size', String(h.type === 'file' ? h.size : 0)],
    ['typeflag', TYPEFLAG[h.type]],
    ['linkname', h.linkname ?? ''],
    ['uname', ''],
    ['gname', ''],
    ['devmajor', '0'],
    ['devminor', '0'],
  ];
  for (const key of Object.keys(h.xattrs ?? {}).sort()) fields.push([key, h.xattrs![key]!]);
  const hash = createHash('sha256');
  for (const [k, v] of fields) hash.update(k + v);
  return hash;
}

/**
 * The `dir:<hex>` source name of a directory: sha256 of the sorted hex hashes of every entry under
 * it (the directory itself included), joined with `,`.
 */
export function dirSourceName(entryHexes: readonly string[]): string {
  return copySourceName('dir', createHash('sha256').update([...entryHexes].sort().join(',')).digest('hex'));
}
