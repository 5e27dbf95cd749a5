/**
 * A docker-archive read where it lies (analyze's way): plain and digest-named gzip layers are listed from
 * the archive by offset on the scan workers, and every digest is still checked there; what cannot be
 * read so is left to staging.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { LayerScanner } from '../src/analyze/scan-pool.js';
import type { ShaleError } from '../src/internal/errors.js';
import { openArchiveInPlace } from '../src/store/archive-in-place.js';
import { tarBytes } from './support/append-layer.js';
import { configFor, dirEntry, fileEntry, ociArchive, ociLayoutFiles, sha256, writeOciLayoutDir } from './support/archives.js';

/** A Docker 25+ style archive: blobs named by digest, layers stored as given (plain or gzip). */
async function archive(stored: Buffer[], tars: Buffer[], options: { names?: string[] } = {}): Promise<Buffer> {
  const config = configFor(tars);
  const names = options.names ?? stored.map((b) => `blobs/sha256/${sha256(b)}`);
  const manifest = JSON.stringify([{ Config: `blobs/sha256/${sha256(config)}`, RepoTags: ['in/place:1'], Layers: names }]);
  return tarBytes([
    dirEntry('blobs'),
    dirEntry('blobs/sha256'),
    ...stored.map((b, i) => fileEntry(names[i]!, b)),
    fileEntry(`blobs/sha256/${sha256(config)}`, config),
    fileEntry('manifest.json', manifest),
  ]);
}

async function scanAll(layers: ConstructorParameters<typeof LayerScanner>[0]): Promise<string[][]> {
  const scanner = new LayerScanner(layers);
  try {
    const scans = await Promise.all(scanner.scans);
    await scanner.verified;
    return scans.map((s) => Array.from({ length: s.count }, (_, i) => s.path(i)));
  } finally {
    await scanner.close();
  }
}

const inPlace = (path: string, what: string) => openArchiveInPlace('docker-archive', path, what);

const codeOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: ShaleError) => `${e.code}: ${e.message}`);

test('docker-archive in place: plain and gzip layers listed by offset, digests checked, the rest staged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-in-place-'));
  try {
    const base = await tarBytes([dirEntry('etc'), fileEntry('etc/os', 'debian')]);
    const top = await tarBytes([dirEntry('app'), fileEntry('app/run', 'x'.repeat(5000))]);
    const gzTop = gzipSync(top);
    const path = join(dir, 'good.tar');
    writeFileSync(path, await archive([base, gzTop], [base, top]));

    const opened = (await inPlace(path, 'archive good.tar'))!;
    assert.ok(opened, 'read in place');
    assert.deepEqual(opened.refs, ['in/place:1']);
    const [l0, l1] = opened.image.layers;
    assert.deepEqual([l0!.storedFile!.plain, l1!.storedFile!.plain], [true, false]);
    assert.equal(l1!.descriptor.digest, `sha256:${sha256(gzTop)}`, 'a gzip layer keeps its own digest');
    assert.equal(l1!.diffId, `sha256:${sha256(top)}`);
    const chunks: Buffer[] = [];
    for await (const c of l1!.open()) chunks.push(Buffer.from(c));
    assert.ok(Buffer.concat(chunks).equals(top), 'open() gives the uncompressed tar');
    assert.deepEqual(await scanAll(opened.image.layers), [['etc', 'etc/os'], ['app', 'app/run']]);

    // bytes changed after their digests were taken: the scan or the check fails, naming the layer
    const badGz = Buffer.from(gzTop);
    badGz[badGz.length - 12] ^= 0xff; // in the deflate data: the gzip CRC or the tar breaks, or the digest does not hold
    const tampered = join(dir, 'tampered.tar');
    writeFileSync(tampered, await archive([base, badGz], [base, top], { names: [`blobs/sha256/${sha256(base)}`, `blobs/sha256/${sha256(gzTop)}`] }));
    const t = (await inPlace(tampered, 'archive tampered.tar'))!;
    const failed = await codeOf(scanAll(t.image.layers));
    assert.match(failed, /^(DIGEST_MISMATCH|CORRUPT_INPUT): archive tampered\.tar: layer 2/, failed);

    const wrongDiffId = join(dir, 'wrong-diff-id.tar');
    writeFileSync(wrongDiffId, await archive([base, gzTop], [base, base]));
    const w = (await inPlace(wrongDiffId, 'archive wrong-diff-id.tar'))!;
    assert.match(await codeOf(scanAll(w.image.layers)), /^DIGEST_MISMATCH: .*layer 2 .*uncompressed tar: content has digest/);

    const badPlain = Buffer.from(base);
    badPlain[badPlain.indexOf('debian')] ^= 1;
    const plainTampered = join(dir, 'plain-tampered.tar');
    writeFileSync(plainTampered, await archive([badPlain], [base], { names: ['layer.tar'] }));
    const p = (await inPlace(plainTampered, 'archive plain-tampered.tar'))!;
    assert.match(await codeOf(scanAll(p.image.layers)), /^DIGEST_MISMATCH: archive plain-tampered\.tar: layer 1 \(layer\.tar\): content has digest/);

    // left to staging: a gzip layer not named by its digest, an archive compressed as a whole
    const unnamed = join(dir, 'unnamed.tar');
    writeFileSync(unnamed, await archive([gzTop], [top], { names: ['layer.tar.gz'] }));
    assert.equal(await inPlace(unnamed, 'archive unnamed.tar'), undefined);
    const whole = join(dir, 'whole.tar.gz');
    writeFileSync(whole, gzipSync(await archive([base], [base])));
    assert.equal(await inPlace(whole, 'archive whole.tar.gz'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('OCI layout directory and OCI archive in place: blobs read where they lie, descriptors and digests checked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-in-place-oci-'));
  try {
    const base = await tarBytes([dirEntry('etc'), fileEntry('etc/os', 'debian')]);
    const top = await tarBytes([dirEntry('app'), fileEntry('app/run', 'y'.repeat(3000))]);
    const files = ociLayoutFiles([base, top], { refName: 'example.com/app:v1' });
    const layout = writeOciLayoutDir(join(dir, 'layout'), files);
    const fromDir = (await openArchiveInPlace('oci', layout, 'archive layout'))!;
    assert.ok(fromDir, 'a layout directory is read in place');
    assert.deepEqual(fromDir.refs, ['example.com/app:v1']);
    assert.equal(fromDir.image.layers[1]!.storedFile!.path, join(layout, 'blobs', 'sha256', sha256(top)), 'a blob is read from its own file');
    assert.deepEqual(await scanAll(fromDir.image.layers), [['etc', 'etc/os'], ['app', 'app/run']]);

    const archivePath = join(dir, 'oci.tar');
    writeFileSync(archivePath, await ociArchive(files));
    const fromArchive = (await openArchiveInPlace('oci-archive', archivePath, 'archive oci.tar'))!;
    assert.equal(fromArchive.image.id, fromDir.image.id);
    assert.equal(fromArchive.image.layers[0]!.storedFile!.path, archivePath, 'a blob is read from the archive by offset');
    assert.deepEqual(await scanAll(fromArchive.image.layers), [['etc', 'etc/os'], ['app', 'app/run']]);

    // a descriptor whose size lies, and a layer blob changed on disk
    const lying = writeOciLayoutDir(join(dir, 'lying'), ociLayoutFiles([base], { layerSizeDelta: 1 }));
    assert.match(await codeOf(openArchiveInPlace('oci', lying, 'archive lying')), /^SIZE_MISMATCH: archive lying: blobs\/sha256\/[a-f0-9]{64} is \d+ bytes, its descriptor says/);
    const blobPath = join(layout, 'blobs', 'sha256', sha256(top));
    const changed = Buffer.from(top);
    changed[changed.indexOf('yyyy')] = 'z'.charCodeAt(0);
    writeFileSync(blobPath, changed);
    const tampered = (await openArchiveInPlace('oci', layout, 'archive layout'))!;
    assert.match(await codeOf(scanAll(tampered.image.layers)), /^DIGEST_MISMATCH: archive layout: layer 2 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
