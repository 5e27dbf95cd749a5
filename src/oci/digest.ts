import { createHash } from 'node:crypto';
import { ShaleError } from '../internal/errors.js';

/** A content digest, always `sha256:` + 64 lowercase hex characters here. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export const isDigest = (s: string): s is Digest => DIGEST_RE.test(s);

export function parseDigest(s: string, what = 'digest'): Digest {
  if (!isDigest(s)) throw new ShaleError('INVALID_ARGUMENT', `${what} "${s}" is not a sha256 digest`);
  return s;
}

export const digestOf = (data: Uint8Array | string): Digest =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

export const digestHex = (d: Digest): string => d.slice('sha256:'.length);

/** chainId(1) = diffId(1); chainId(n) = sha256(chainId(n-1) + " " + diffId(n)). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : digestOf(`${prev} ${diffId}`));
  }
  return out;
}
