/**
 * How an overlayfs layer directory spells OCI whiteouts (measured on the kernel): a deleted name is a
 * character device 0:0, a directory that hides everything below it carries `trusted.overlay.opaque=y`, or
 * `user.overlay.opaque=y` when overlayfs is mounted with `userxattr` (in a user namespace: shale without
 * root). The kernel keeps its own bookkeeping under `*.overlay.*`, which never belongs in a layer tar.
 */
import { inUserNamespace } from '../internal/user-namespace.js';
import type { FileInfo } from './scan-tree.js';

/** The namespace of the overlay xattrs this process's mounts read and write. */
const OVERLAY_XATTR_PREFIX = inUserNamespace() ? 'user.overlay.' : 'trusted.overlay.';
export const OPAQUE_XATTR = `${OVERLAY_XATTR_PREFIX}opaque`;
export const OPAQUE_VALUE = Buffer.from('y');
/** Kernel marks that say an upperdir needs features shale does not read (renamed dirs, metadata-only copy-ups). */
export const UNSUPPORTED_OVERLAY_XATTRS = [`${OVERLAY_XATTR_PREFIX}redirect`, `${OVERLAY_XATTR_PREFIX}metacopy`];
/** overlayfs's `userxattr` mount option: needed in a user namespace, where `trusted.*` cannot be written. */
export const OVERLAY_USERXATTR = OVERLAY_XATTR_PREFIX === 'user.overlay.';

/** True for overlay bookkeeping of either namespace: never copied from a tar, never written into one. */
export const isOverlayXattr = (name: string): boolean => name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');

/** True for overlayfs's whiteout: a character device numbered 0:0. */
export const isWhiteout = (info: FileInfo): boolean => info.kind === 'char' && info.rdev === 0n;
