import { whiteoutPath } from './whiteout.js';

/** A change to write into a layer tar: an entry, a whiteout of `path`, or an opaque marker in `path`. */
interface OrderedChange {
  kind: string;
  path: string;
}

/** Sort key: the tar name's components, an opaque marker right after its directory. */
function sortKey(c: OrderedChange): Buffer[] {
  const parts = (c.kind === 'whiteout' ? whiteoutPath(c.path) : c.path).split('/').filter((p) => p !== '');
  if (c.kind === 'opaque') parts.push('');
  return parts.map((p) => Buffer.from(p, 'utf8'));
}

function compareKeys(a: Buffer[], b: Buffer[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = Buffer.compare(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/**
 * Changes in tar order: component by component in byte order, so parents come before their children
 * and the output is deterministic.
 */
export function sortInTarOrder<T extends OrderedChange>(changes: readonly T[]): T[] {
  return changes
    .map((c) => ({ c, k: sortKey(c) }))
    .sort((x, y) => compareKeys(x.k, y.k))
    .map((x) => x.c);
}
