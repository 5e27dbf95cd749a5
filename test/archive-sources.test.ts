/**
 * One suite run against every archive format the one reader takes (legacy docker-archive, Docker 25+
 * style with gzip layers, OCI layout directory, OCI archive; plain, or compressed as a whole and so
 * staged): opened as a source, each gives the same image, its layers' tars as written, with no scratch
 * store; loaded, each gives the same image in the store; nothing is left in the store's temp area.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Store, loadArchive, openImageSource, openSource, rootImage } from '../src/store/index.js';
import { tarBytes } from './support/append-layer.js';
import { configFor, dirEntry, dockerArchive, fileEntry, ociArchive, ociLayoutFiles, sha256, writeOciLayoutDir } from './support/archives.js';

async function readAll(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

test('every archive format opens as a source and loads to the same image', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'shale-archive-sources-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const tars = [await tarBytes([dirEntry('etc'), fileEntry('etc/os', 'shale\n')]), await tarBytes([dirEntry('app'), fileEntry('app/run', '#!/bin/sh\n')])];
  const id = `sha256:${sha256(configFor(tars))}`;
  const write = (name: string, data: Buffer) => {
    writeFileSync(join(work, name), data);
    return join(work, name);
  };
  const legacy = await dockerArchive(tars, { repoTags: ['fmt/app:1'] });
  const gzLayers = tars.map((b) => gzipSync(b));
  const config = configFor(tars);
  const docker25 = await tarBytes([
    dirEntry('blobs'),
    dirEntry('blobs/sha256'),
    ...gzLayers.map((b) => fileEntry(`blobs/sha256/${sha256(b)}`, b)),
    fileEntry(`blobs/sha256/${sha256(config)}`, config),
    fileEntry('manifest.json', JSON.stringify([{ Config: `blobs/sha256/${sha256(config)}`, RepoTags: ['fmt/app:1'], Layers: gzLayers.map((b) => `blobs/sha256/${sha256(b)}`) }])),
  ]);
  const layout = ociLayoutFiles(tars, { refName: 'v1' });
  const formats: [string, string][] = [
    ['legacy docker-archive', `docker-archive:${write('legacy.tar', legacy)}`],
    ['legacy docker-archive, gzip as a whole', `docker-archive:${write('legacy.tar.gz', gzipSync(legacy))}`],
    ['Docker 25 style, gzip layers', `docker-archive:${write('docker25.tar', docker25)}`],
    ['OCI layout directory', `oci:${writeOciLayoutDir(join(work, 'layout'), layout)}:v1`],
    ['OCI archive', `oci-archive:${write('oci.tar', await ociArchive(layout))}`],
    ['OCI archive, gzip as a whole', `oci-archive:${write('oci.tar.gz', gzipSync(await ociArchive(layout)))}`],
  ];
  for (const [name, spec] of formats) {
    await t.test(name, async () => {
      const root = join(work, `store-${sha256(name).slice(0, 8)}`);
      const store = await Store.open(root);
      const source = await openImageSource(store, spec);
      try {
        const { image } = await rootImage(source);
        assert.equal(image.id, id);
        assert.deepEqual(image.config.rootfs.diff_ids, tars.map((b) => `sha256:${sha256(b)}`));
        for (const [i, l] of image.layers.entries()) assert.ok((await readAll(l.open())).equals(tars[i]!), `layer ${i + 1} reads back as written`);
      } finally {
        await source.close();
      }
      assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), [], 'opening stores nothing');
      const opened = await openSource(store, spec);
      assert.deepEqual([await opened.contentSize(0), await opened.contentSize(1)], [6, 10], 'history sizes are the files of each layer');
      await opened.close();

      const path = spec.replace(/^[a-z-]+:/, '').replace(/:v1$/, '');
      const loaded = await loadArchive(store, path, spec.endsWith(':v1') ? 'v1' : undefined);
      assert.deepEqual(loaded.map((l) => l.id), [id]);
      const stored = await store.image((await store.resolve(id)).entry.descriptor.digest);
      assert.deepEqual(stored.layers.map((l) => l.diffId), tars.map((b) => `sha256:${sha256(b)}`));
      assert.deepEqual(readdirSync(store.content.ingestDir).filter((f) => !f.startsWith('owner-')), [], 'no temp file is left');
    });
  }
});
