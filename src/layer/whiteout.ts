/** OCI whiteouts: the only place that knows the `.wh.` names. */
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_NAME = '.wh..wh..opq';

export type WhiteoutMark = { kind: 'opaque'; dir: string } | { kind: 'whiteout'; target: string };

const split = (path: string): [string, string] => {
  const i = path.lastIndexOf('/');
  return i < 0 ? ['', path] : [path.slice(0, i), path.slice(i + 1)];
};
const join = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);

/** For a clean entry path: what it marks, or null when it is an ordinary entry. */
export function parseWhiteout(path: string): WhiteoutMark | null {
  const [dir, base] = split(path);
  if (!base.startsWith(WHITEOUT_PREFIX)) return null;
  if (base === OPAQUE_NAME) return { kind: 'opaque', dir };
  return { kind: 'whiteout', target: join(dir, base.slice(WHITEOUT_PREFIX.length)) };
}

export const whiteoutPath = (target: string): string => {
  const [dir, base] = split(target);
  return join(dir, WHITEOUT_PREFIX + base);
};

export const opaquePath = (dir: string): string => join(dir, OPAQUE_NAME);
