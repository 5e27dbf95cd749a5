import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { ChangesTar, sourceDateEpochFromEnv, type Change, type ChangeSet } from './changes-to-tar.js';
import { isWhiteout, OPAQUE_XATTR, UNSUPPORTED_OVERLAY_XATTRS } from './overlay-marks.js';
import { scanTree } from './scan-tree.js';
import { readXattrTree } from './xattr-tree.js';

export interface DiffOptions {
  /** Clamp mtimes to these seconds; `undefined` reads SOURCE_DATE_EPOCH, `null` never clamps. */
  sourceDateEpoch?: number | null;
}

/**
 * The changes an overlayfs upperdir holds, as an OCI layer tar: a 0:0 character device becomes `.wh.NAME`,
 * a directory with the opaque xattr (OPAQUE_XATTR) its entry plus `DIR/.wh..wh..opq`, everything else an entry
 * with full metadata (parent directories included, as Docker does). Sorted by path; mtimes clamped to
 * SOURCE_DATE_EPOCH when set. An upperdir written with redirect_dir or metacopy is UNSUPPORTED. The
 * directory is read when the tar is (each time it is).
 */
export function diffDirectory(upperdir: string, options: DiffOptions = {}): ChangesTar {
  return new ChangesTar(() => upperdirChanges(upperdir, options));
}

async function upperdirChanges(upperdir: string, options: DiffOptions): Promise<ChangeSet> {
  const sourceDateEpoch = options.sourceDateEpoch === null ? undefined : (options.sourceDateEpoch ?? sourceDateEpochFromEnv());
  const [scan, xattrs] = await Promise.all([scanTree(upperdir), readXattrTree(upperdir)]);
  const changes: Change[] = [];
  for (const [path, info] of scan.entries) {
    if (path === '') continue;
    if (isWhiteout(info)) {
      changes.push({ kind: 'whiteout', path });
      continue;
    }
    const attrs = xattrs.get(path);
    const odd = UNSUPPORTED_OVERLAY_XATTRS.find((k) => attrs?.[k] !== undefined);
    if (odd) {
      throw new ShaleError('UNSUPPORTED', `upperdir entry "${path}" carries ${odd}`, {
        hint: 'mount overlayfs with redirect_dir=off,metacopy=off to diff its upperdir',
      });
    }
    changes.push({ kind: 'entry', path, info, xattrs: attrs, abs: join(upperdir, path) });
    if (info.kind === 'dir' && attrs?.[OPAQUE_XATTR]?.toString() === 'y') changes.push({ kind: 'opaque', path });
  }
  return { changes, options: { sourceDateEpoch } };
}
