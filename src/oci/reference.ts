import { ShaleError } from '../internal/errors.js';
import { isDigest, type Digest } from './digest.js';

/** A parsed image reference: `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`. */
export interface ImageReference {
  /** The repository as written, with its host if one was given (`busybox`, `localhost:5000/a/b`). */
  repository: string;
  /** The registry host when the first component looks like one. */
  host?: string;
  tag?: string;
  digest?: Digest;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST = /^(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|[a-zA-Z0-9-]+:\d+|[a-zA-Z0-9-.]+:\d+|\[[0-9a-fA-F:]+\](?::\d+)?)$/;

export function parseReference(raw: string): ImageReference {
  const bad = (why: string) =>
    new ShaleError('INVALID_ARGUMENT', `invalid image reference "${raw}": ${why}`, {
      hint: 'use NAME[:TAG] or NAME@sha256:DIGEST, lower case',
    });
  if (raw.length === 0 || raw.length > 255) throw bad('empty or too long');
  let rest = raw;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw bad(`"${d}" is not a sha256 digest`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw bad(`tag "${tag}" is not valid`);
  }
  const parts = rest.split('/');
  let host: string | undefined;
  if (parts.length > 1 && HOST.test(parts[0]!) && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) {
    host = parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) throw bad('repository must be lower-case name components');
  return { repository: host ? `${host}/${parts.join('/')}` : parts.join('/'), host, tag, digest };
}

/** The reference with the default tag: `busybox` -> `busybox:latest`; a digest reference stays as it is. */
export function normalizeReference(raw: string): string {
  const r = parseReference(raw);
  if (r.digest) return `${r.repository}${r.tag ? `:${r.tag}` : ''}@${r.digest}`;
  return `${r.repository}:${r.tag ?? 'latest'}`;
}

/** Splits `repo:tag` as stored into its two halves for listing. */
export function splitTagged(ref: string): { repository: string; tag: string } {
  const r = parseReference(ref);
  return { repository: r.repository, tag: r.tag ?? (r.digest ? '<none>' : 'latest') };
}
