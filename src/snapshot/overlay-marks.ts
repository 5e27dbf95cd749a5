/**
 * How an overlayfs layer directory spells OCI whiteouts (measured on the kernel): a deleted name is a
 * character device 0:0, a directory that hides everything below it carries `trusted.overlay.opaque=y`.
 * The kernel keeps its own bookkeeping under `trusted.overlay.*`, which never belongs in a layer tar.
 */
import type { FileInfo } from './scan-tree.js';

export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';
export const OPAQUE_VALUE = Buffer.from('y');
/** Kernel marks that say an upperdir needs features shale does not read (renamed dirs, metadata-only copy-ups). */
export const UNSUPPORTED_OVERLAY_XATTRS = ['trusted.overlay.redirect', 'trusted.overlay.metacopy'];

export const isOverlayXattr = (name: string): boolean => name.startsWith(OVERLAY_XATTR_PREFIX);

/** True for overlayfs's whiteout: a character device numbered 0:0. */
export const isWhiteout = (info: FileInfo): boolean => info.kind === 'char' && info.rdev === 0n;
