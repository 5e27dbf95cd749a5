import { ShaleError } from '../internal/errors.js';
import type { EntryType } from './tar-header.js';

/**
 * The clean relative form of a tar entry name: no leading `./`, no trailing `/`, no empty or `.`
 * components; `''` is the root itself. The root may be named `/`, `./`, `.` (as kaniko, GNU tar and
 * others write it; Docker and containerd read them all as the root). Any other absolute name, `..`
 * components and NUL bytes are refused with UNSAFE_PATH.
 */
export function cleanEntryPath(name: string, what = 'tar entry'): string {
  // the common case, `dir/file` or `dir/` or `./dir/file`, needs no splitting
  let simple = name.endsWith('/') ? name.slice(0, -1) : name;
  if (simple.startsWith('./')) simple = simple.slice(2);
  if (!NEEDS_CLEANING.test(simple)) return simple;
  if (name.includes('\0')) throw unsafe(what, name, 'contains a NUL byte');
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw unsafe(what, name, 'has a ".." component');
    parts.push(p);
  }
  if (name.startsWith('/') && parts.length > 0) throw unsafe(what, name, 'is an absolute path');
  return parts.join('/');
}

/**
 * `.` or `..` components, empty ones, a leading or (still) trailing `/` or a NUL: what the fast path of
 * cleanEntryPath leaves to the full one.
 */
const NEEDS_CLEANING = /(?:^|\/)\.\.?(?:\/|$)|\/\/|^\/|\/$|\0/;

/**
 * The clean path of an entry, as cleanEntryPath gives it; an entry that names the root must be a
 * directory (its metadata is the root's), else CORRUPT_INPUT.
 */
export function cleanHeaderPath(header: { name: string; type: EntryType }, what = 'tar entry'): string {
  const path = cleanEntryPath(header.name, what);
  if (path === '' && header.type !== 'dir') {
    throw new ShaleError('CORRUPT_INPUT', `${what} "${header.name}" names the root directory but is a ${header.type}`);
  }
  return path;
}

/**
 * Hard link targets name another entry of the same tree; they follow the same rules, except that an
 * absolute target is read from the tree's root (kaniko writes `/usr/bin/x`; Docker and containerd join
 * it to the root, so it stays inside). The root (a directory) is no target.
 */
export function cleanLinkTarget(target: string, entry: string, what = 'tar'): string {
  const clean = cleanEntryPath(target.replace(/^\/+/, ''), `${what}: hard link "${entry}" target`);
  if (clean === '') throw new ShaleError('CORRUPT_INPUT', `${what}: hard link "${entry}" points to the root directory ("${target}")`);
  return clean;
}

const unsafe = (what: string, name: string, why: string) =>
  new ShaleError('UNSAFE_PATH', `${what} "${name}" ${why}`, { hint: 'the archive may be hostile; it was not applied' });

/** True when `path` is `dir` itself or below it (both clean). */
export const isWithin = (path: string, dir: string): boolean =>
  dir === '' || path === dir || path.startsWith(`${dir}/`);
