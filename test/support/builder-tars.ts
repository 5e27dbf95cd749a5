/**
 * Tars written header by header, so a test can reproduce what another builder's writer puts in a layer
 * (kaniko's `/` entry, Go's PAX header names and records, GNU magic, whiteouts with mode 0), and image
 * archives laid out as Docker 25+ `docker save` writes them.
 */
import { sha256 } from './archives.js';

export interface RawEntry {
  name: string;
  /** The type flag byte: '0' file, '1' hard link, '2' symlink, '5' directory. */
  flag: '0' | '1' | '2' | '5';
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Whole seconds for the header field (a PAX `mtime` record may say more). */
  mtime?: number;
  linkname?: string;
  body?: Buffer | string;
  /** PAX records, written in this order in an `x` header before the entry. */
  pax?: [string, string | Buffer][];
  /** The `x` header's own name (Go writes `DIR/PaxHeaders.0/BASE`, GNU tar `DIR/PaxHeaders/BASE`). */
  paxName?: string;
  /** 'gnu' writes the old GNU magic (`ustar  \0`), as `tar --format=gnu` does. */
  magic?: 'ustar' | 'gnu';
}

const octal = (b: Buffer, off: number, len: number, v: number): void => {
  b.write(`${v.toString(8).padStart(len - 1, '0')}\0`, off, len, 'latin1');
};

function block(e: { name: string; flag: string; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; uname: string; gname: string; magic: 'ustar' | 'gnu' }): Buffer {
  const b = Buffer.alloc(512);
  b.write(e.name, 0, 100, 'utf8');
  octal(b, 100, 8, e.mode);
  octal(b, 108, 8, e.uid);
  octal(b, 116, 8, e.gid);
  octal(b, 124, 12, e.size);
  octal(b, 136, 12, e.mtime);
  b.write(e.flag, 156, 1, 'latin1');
  b.write(e.linkname, 157, 100, 'utf8');
  b.write(e.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000', 257, 8, 'latin1');
  b.write(e.uname, 265, 32, 'utf8');
  b.write(e.gname, 297, 32, 'utf8');
  if (e.magic === 'ustar') {
    octal(b, 329, 8, 0);
    octal(b, 337, 8, 0);
  }
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

/** One PAX record, `LEN KEY=VALUE\n`, LEN counting itself. */
function paxRecord(key: string, value: string | Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

/** The bytes of a tar holding these entries, each header exactly as described, ended by two zero blocks. */
export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    const common = { mode: e.mode ?? (e.flag === '5' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, uname: e.uname ?? '', gname: e.gname ?? '', magic: e.magic ?? 'ustar' } as const;
    if (e.pax && e.pax.length > 0) {
      const data = Buffer.concat(e.pax.map(([k, v]) => paxRecord(k, v)));
      parts.push(block({ ...common, name: e.paxName ?? `PaxHeaders.0/${e.name}`, flag: 'x', mode: 0o644, size: data.length, mtime: 0, linkname: '' }), data, pad(data.length));
    }
    parts.push(block({ ...common, name: e.name, flag: e.flag, size: body.length, mtime: e.mtime ?? 1_700_000_000, linkname: e.linkname ?? '' }), body, pad(body.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** An image's config for these uncompressed layers, with one history entry per layer. */
export function imageConfig(layers: Buffer[], createdBy: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha256(l)}`) },
      history: createdBy.map((c) => ({ created: '2024-01-01T00:00:00Z', created_by: c })),
    }),
  );
}

/**
 * The members of a Docker 25+ `docker save` archive of one image: an OCI layout (`oci-layout`, `index.json`
 * with the image name annotations, `blobs/sha256/`) plus `manifest.json` and `repositories`, layers stored
 * once per digest as uncompressed tars (a layer listed twice, like two empty ones, is one blob).
 */
export function docker25Members(layers: Buffer[], config: Buffer, ref: string): [string, Buffer][] {
  const blobs = new Map<string, Buffer>();
  const put = (b: Buffer): string => {
    const hex = sha256(b);
    blobs.set(`blobs/sha256/${hex}`, b);
    return hex;
  };
  const configHex = put(config);
  const layerHex = layers.map(put);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configHex}`, size: config.length },
      layers: layers.map((l, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerHex[i]}`, size: l.length })),
    }),
  );
  const manifestHex = put(manifest);
  const [repo, tag] = [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)];
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${manifestHex}`,
        size: manifest.length,
        annotations: { 'io.containerd.image.name': `docker.io/library/${ref}`, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  const dockerManifest = [{ Config: `blobs/sha256/${configHex}`, RepoTags: [ref], Layers: layerHex.map((h) => `blobs/sha256/${h}`) }];
  return [
    ['blobs/', Buffer.alloc(0)],
    ['blobs/sha256/', Buffer.alloc(0)],
    ...[...blobs].sort(([a], [b]) => (a < b ? -1 : 1)),
    ['index.json', Buffer.from(JSON.stringify(index))],
    ['manifest.json', Buffer.from(JSON.stringify(dockerManifest))],
    ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
    ['repositories', Buffer.from(JSON.stringify({ [repo]: { [tag]: configHex } }))],
  ];
}

/** A Docker 25+ `docker save` archive of one image, as a tar. */
export const docker25Archive = (layers: Buffer[], config: Buffer, ref: string): Buffer =>
  rawTar(docker25Members(layers, config, ref).map(([name, data]) => (name.endsWith('/') ? { name, flag: '5' } : { name, flag: '0', body: data })));
