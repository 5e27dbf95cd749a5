/**
 * Hand-made image archives, good and hostile: docker-archives (legacy layout) and OCI layouts whose
 * every byte the test controls.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeHeader, type TarHeader, type TarWriteEntry } from '../../src/layer/index.js';
import { tarBytes } from './append-layer.js';

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export const fileEntry = (name: string, content: string | Buffer, fields: Partial<TarHeader> = {}): TarWriteEntry => {
  const body = Buffer.from(content);
  return { header: makeHeader({ name, type: 'file', size: body.length, ...fields }), body };
};
export const dirEntry = (name: string, fields: Partial<TarHeader> = {}): TarWriteEntry => ({
  header: makeHeader({ name: name.endsWith('/') ? name : `${name}/`, type: 'dir', ...fields }),
});
export const symlinkEntry = (name: string, target: string): TarWriteEntry => ({
  header: makeHeader({ name, type: 'symlink', linkname: target, mode: 0o777 }),
});
export const hardlinkEntry = (name: string, target: string): TarWriteEntry => ({
  header: makeHeader({ name, type: 'hardlink', linkname: target }),
});

/** An image config for these (uncompressed) layer tars. */
export function configFor(layers: Buffer[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha256(l)}`) },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i + 1}` })),
      ...extra,
    }),
  );
}

export interface DockerArchiveOptions {
  repoTags?: string[];
  /** Replaces the config bytes stored in the archive (the name keeps the true config's digest). */
  tamperConfig?: (raw: Buffer) => Buffer;
}

/** A legacy docker-archive (`<id>.json`, `<layer>/layer.tar`, manifest.json) of one image. */
export async function dockerArchive(layers: Buffer[], options: DockerArchiveOptions = {}): Promise<Buffer> {
  const config = configFor(layers);
  const configName = `${sha256(config)}.json`;
  const layerNames = layers.map((l) => `${sha256(l)}/layer.tar`);
  const manifest = JSON.stringify([{ Config: configName, RepoTags: options.repoTags ?? [], Layers: layerNames }]);
  const entries: TarWriteEntry[] = [];
  layers.forEach((l, i) => {
    entries.push(dirEntry(sha256(l)));
    entries.push(fileEntry(layerNames[i]!, l));
  });
  entries.push(fileEntry(configName, options.tamperConfig ? options.tamperConfig(config) : config));
  entries.push(fileEntry('manifest.json', manifest));
  return tarBytes(entries);
}

export interface OciLayoutOptions {
  /** Added to every layer descriptor's size in the manifest (a descriptor that lies). */
  layerSizeDelta?: number;
  refName?: string;
}

/** The files of an OCI image layout of one image: relative path -> bytes. */
export function ociLayoutFiles(layers: Buffer[], options: OciLayoutOptions = {}): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const blob = (b: Buffer) => {
    const d = sha256(b);
    files.set(`blobs/sha256/${d}`, b);
    return `sha256:${d}`;
  };
  const config = configFor(layers);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blob(config), size: config.length },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: blob(l),
        size: l.length + (options.layerSizeDelta ?? 0),
      })),
    }),
  );
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: blob(manifest),
        size: manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': options.refName ?? 'latest' },
      },
    ],
  };
  files.set('index.json', Buffer.from(JSON.stringify(index)));
  files.set('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  return files;
}

/** Writes an OCI layout directory. */
export function writeOciLayoutDir(dir: string, files: Map<string, Buffer>): string {
  for (const [name, data] of files) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  return dir;
}

/** An OCI layout as a tar (an oci-archive). */
export const ociArchive = (files: Map<string, Buffer>): Promise<Buffer> =>
  tarBytes([...files].map(([name, data]) => fileEntry(name, data)));
