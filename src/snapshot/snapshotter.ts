import type { Digest } from '../oci/index.js';

/** A stored layer to stack: its diffId and an opener of its uncompressed tar (verified against the diffId as it is read). */
export interface StoredLayerRef {
  diffId: Digest;
  open(): AsyncIterable<Uint8Array>;
}

/** A snapshot's changes kept unpacked by `ActiveSnapshot.keep` under this name: a layer with no tar yet. */
export interface KeptLayerRef {
  kept: string;
}

export type LayerRef = StoredLayerRef | KeptLayerRef;

export const isKept = (layer: LayerRef): layer is KeptLayerRef => 'kept' in layer;

export type SnapshotterKind = 'overlayfs' | 'copy';

/** Makes writable root filesystems over layer stacks. Both implementations pass the same test suite. */
export interface Snapshotter {
  readonly kind: SnapshotterKind;
  /** Its snapshots can `keep`, and it stacks kept layers. */
  readonly keeps: boolean;
  /**
   * A writable root filesystem over the layers (bottom first). `key` names it under the snapshotter's root
   * (letters, digits, `.`, `_`, `-`; at most 128); a key in use is ALREADY_EXISTS. A layer whose tar does not
   * hash to its diffId is DIGEST_MISMATCH, and nothing is left behind.
   */
  prepare(key: string, layers: LayerRef[], options?: PrepareOptions): Promise<ActiveSnapshot>;
  /**
   * An existing persistent snapshot again (mounted anew if a restart unmounted it); NOT_FOUND if none.
   * `mount: false` only reads its changes (`diff`): nothing is mounted, so a reader never remounts a
   * snapshot another process is removing.
   */
  reopen(key: string, options?: { mount?: boolean }): Promise<ActiveSnapshot>;
}

export interface PrepareOptions {
  /** Outlives this process (a container's writable layer): stale cleanup leaves it alone. */
  persistent?: boolean;
}

export interface ActiveSnapshot {
  readonly key: string;
  /** The directory a container uses as its root. */
  readonly rootfs: string;
  /**
   * The changes since prepare, as an OCI layer tar: entries sorted by path with their parent directories,
   * whiteouts for deleted paths, an opaque marker for a directory deleted and made again; mtimes clamped
   * to SOURCE_DATE_EPOCH when it is set. The same tree gives the same bytes.
   */
  diff(): AsyncIterable<Buffer>;
  /**
   * The bytes of content `diff()`'s tar would carry (regular files, an inode shared by several paths once,
   * and symlink targets), found from the files' metadata alone: nothing is read or packed.
   */
  changedSize(): Promise<number>;
  /** Unmounts and deletes everything but the cached lower layers. Safe to call twice. */
  remove(): Promise<void>;
  /**
   * Ends the snapshot keeping its changes, unpacked, under a new name it returns: a later `prepare` stacks
   * them as `{ kept: name }`, and `KeptLayers` turns them into a layer tar only when one is needed (a build
   * tars only the layers of the image it writes). Optional: only a snapshotter whose changes are already in
   * layer form (overlayfs) has it.
   */
  keep?(): Promise<string>;
}
