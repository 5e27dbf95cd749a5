import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { ShaleError } from '../internal/errors.js';
import {
  LayerSummarizer,
  makeHeader,
  opaquePath,
  packTar,
  sortInTarOrder,
  whiteoutPath,
  type LayerSummary,
  type LendingLayerTar,
  type PackEntry,
  type TarHeader,
} from '../layer/index.js';
import { isOverlayXattr } from './overlay-marks.js';
import { deviceNumbers, type FileInfo } from './scan-tree.js';
import type { Xattrs } from './xattr-tree.js';

/** One change of a tree against its lower layers: a path added or changed, a lower path deleted, a directory made opaque. */
export type Change =
  | { kind: 'entry'; path: string; info: FileInfo; xattrs?: Xattrs; /** where to read a file's content */ abs: string }
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; path: string };

export interface ChangesTarOptions {
  /** Clamp every mtime to this (seconds); the markers themselves carry mtime 0. */
  sourceDateEpoch?: number;
}

/** Changes and how to write them as a tar. */
export interface ChangeSet {
  changes: Change[];
  options: ChangesTarOptions;
}

/** `SOURCE_DATE_EPOCH` from the environment, or undefined when unset; anything but whole seconds is INVALID_ARGUMENT. */
export function sourceDateEpochFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new ShaleError('INVALID_ARGUMENT', `SOURCE_DATE_EPOCH="${raw}" is not a whole number of seconds`);
  return Number(raw);
}

/** Sorts changes into tar order (deterministic, parents first). */
export const sortChanges = (changes: Change[]): Change[] => sortInTarOrder(changes);

/**
 * Opens a file that must still be the one that was scanned (same inode, same size, not a symlink now).
 * It is read synchronously: a thread-pool round trip per call made diffs about 7 times slower than GNU
 * tar on many small files.
 */
function openScannedFile(abs: string, info: FileInfo): number {
  const fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd, { bigint: true });
    if (st.ino !== info.ino || st.dev !== info.dev || Number(st.size) !== info.size) {
      throw new ShaleError('FAILED_PRECONDITION', `"${abs}" changed while its layer was being written`, {
        hint: 'stop whatever writes to the snapshot before taking its diff',
      });
    }
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The content bytes of changed paths as their tar carries them: regular files (a shared inode once) and symlink targets. */
export function contentSize(changed: Iterable<FileInfo>): number {
  const inodes = new Set<string>();
  let total = 0;
  for (const info of changed) {
    if (info.kind === 'symlink') total += Buffer.byteLength(info.linkname ?? '');
    if (info.kind !== 'file') continue;
    if (info.nlink > 1) {
      const inode = `${info.dev}:${info.ino}`;
      if (inodes.has(inode)) continue;
      inodes.add(inode);
    }
    total += info.size;
  }
  return total;
}

/**
 * The tar entries of changes, sorted: entries with full metadata (xattrs but overlay bookkeeping), regular
 * files sharing an inode as hard links to the first of them, `.wh.NAME` for deleted paths and
 * `DIR/.wh..wh..opq` right after an opaque directory. A file is open while its entry is current.
 */
function* changeEntries(changes: Change[], epoch: number | undefined): Generator<PackEntry, void, undefined> {
  const firstLink = new Map<string, string>();
  for (const c of sortChanges(changes)) {
    if (c.kind === 'whiteout') {
      yield { header: makeHeader({ name: whiteoutPath(c.path), type: 'file', mode: 0 }) };
      continue;
    }
    if (c.kind === 'opaque') {
      yield { header: makeHeader({ name: opaquePath(c.path), type: 'file', mode: 0 }) };
      continue;
    }
    const { info } = c;
    if (info.kind === 'socket') continue; // a tar cannot hold sockets
    const seconds = Number(info.mtimeNs / 1_000_000_000n);
    const header: TarHeader = makeHeader({
      name: info.kind === 'dir' ? `${c.path}/` : c.path,
      type: info.kind,
      mode: info.mode,
      uid: info.uid,
      gid: info.gid,
      mtime: epoch !== undefined && seconds > epoch ? epoch : seconds,
    });
    const xattrs = Object.entries(c.xattrs ?? {}).filter(([k]) => !isOverlayXattr(k));
    if (xattrs.length > 0) header.xattrs = Object.fromEntries(xattrs);
    if (info.kind === 'symlink') header.linkname = info.linkname ?? '';
    if (info.kind === 'char' || info.kind === 'block') Object.assign(header, { devmajor: deviceNumbers(info.rdev).major, devminor: deviceNumbers(info.rdev).minor });
    if (info.kind === 'file') {
      const inode = `${info.dev}:${info.ino}`;
      const first = info.nlink > 1 ? firstLink.get(inode) : undefined;
      if (first !== undefined) {
        yield { header: { ...header, type: 'hardlink', linkname: first, size: 0 } };
        continue;
      }
      if (info.nlink > 1) firstLink.set(inode, c.path);
      header.size = info.size;
      const fd = openScannedFile(c.abs, info);
      try {
        yield { header, read: (buf, offset, length) => readSync(fd, buf, offset, length, null) };
      } finally {
        closeSync(fd);
      }
      continue;
    }
    yield { header };
  }
}

/**
 * A change list as an OCI layer tar (see changeEntries; sorted by path, so the same tree gives the same
 * bytes), the list found each time the tar is read. Iterated, it gives chunks the consumer may keep; lent
 * (`lend`), the same bytes in one reused buffer and the layer's summary from the headers written, so
 * storing it needs no second parse.
 */
export class ChangesTar implements LendingLayerTar {
  constructor(private readonly load: () => Promise<ChangeSet>) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const { changes, options } = await this.load();
    yield* packTar(changeEntries(changes, options.sourceDateEpoch), 'owned');
  }

  async *lend(what: string): AsyncGenerator<Buffer, LayerSummary, undefined> {
    const { changes, options } = await this.load();
    const summarizer = new LayerSummarizer(what);
    function* summarized(entries: Iterable<PackEntry>): Generator<PackEntry, void, undefined> {
      for (const e of entries) {
        summarizer.add(e.header);
        yield e;
      }
    }
    yield* packTar(summarized(changeEntries(changes, options.sourceDateEpoch)), 'lent');
    return summarizer.summary;
  }
}
