import { ShaleError } from '../internal/errors.js';

/**
 * The clean relative form of a tar entry name: no leading `./` or `/`-less root, no trailing `/`,
 * no empty or `.` components; `''` is the root itself. Absolute names, `..` components and NUL
 * bytes are refused with UNSAFE_PATH.
 */
export function cleanEntryPath(name: string, what = 'tar entry'): string {
  if (name.startsWith('/')) throw unsafe(what, name, 'is an absolute path');
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
  return parts.join('/');
}

/**
 * `.` or `..` components, empty ones, a leading or (still) trailing `/` or a NUL: what the fast path of
 * cleanEntryPath leaves to the full one.
 */
const NEEDS_CLEANING = /(?:^|\/)\.\.?(?:\/|$)|\/\/|^\/|\/$|\0/;

/** Hard link targets name another entry of the same tree; they follow the same rules. */
export const cleanLinkTarget = (target: string, entry: string, what = 'tar'): string =>
  cleanEntryPath(target, `${what}: hard link "${entry}" target`);

const unsafe = (what: string, name: string, why: string) =>
  new ShaleError('UNSAFE_PATH', `${what} "${name}" ${why}`, { hint: 'the archive may be hostile; it was not applied' });

/** True when `path` is `dir` itself or below it (both clean). */
export const isWithin = (path: string, dir: string): boolean =>
  dir === '' || path === dir || path.startsWith(`${dir}/`);
