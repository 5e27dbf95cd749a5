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
import { openDockerArchiveInPlace } from '../src/store/archive-in-place.js';
import { tarBytes } from './support/append-layer.js';
import { configFor, dirEntry, fileEntry, sha256 } from './support/archives.js';

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

const codeOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: ShaleError) => `${e.code}: ${e.message}`);

test('docker-archive in place: plain and gzip layers listed by offset, digests checked, the rest staged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shale-in-place-'));
  try {
    const base = await tarBytes([dirEntry('etc'), fileEntry('etc/os', 'debian')]);
    const top = await tarBytes([dirEntry('app'), fileEntry('app/run', 'x'.repeat(5000))]);
    const gzTop = gzipSync(top);
    const path = join(dir, 'good.tar');
    writeFileSync(path, await archive([base, gzTop], [base, top]));

    const opened = openDockerArchiveInPlace(path, 'archive good.tar')!;
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
    const t = openDockerArchiveInPlace(tampered, 'archive tampered.tar')!;
    const failed = await codeOf(scanAll(t.image.layers));
    assert.match(failed, /^(DIGEST_MISMATCH|CORRUPT_INPUT): archive tampered\.tar: layer 2/, failed);

    const wrongDiffId = join(dir, 'wrong-diff-id.tar');
    writeFileSync(wrongDiffId, await archive([base, gzTop], [base, base]));
    const w = openDockerArchiveInPlace(wrongDiffId, 'archive wrong-diff-id.tar')!;
    assert.match(await codeOf(scanAll(w.image.layers)), /^DIGEST_MISMATCH: .*layer 2 .*uncompressed tar has digest/);

    const badPlain = Buffer.from(base);
    badPlain[badPlain.indexOf('debian')] ^= 1;
    const plainTampered = join(dir, 'plain-tampered.tar');
    writeFileSync(plainTampered, await archive([badPlain], [base], { names: ['layer.tar'] }));
    const p = openDockerArchiveInPlace(plainTampered, 'archive plain-tampered.tar')!;
    assert.match(await codeOf(scanAll(p.image.layers)), /^DIGEST_MISMATCH: archive plain-tampered\.tar: layer 1 \(layer\.tar\) has digest/);

    // left to staging: a gzip layer not named by its digest, an archive compressed as a whole
    const unnamed = join(dir, 'unnamed.tar');
    writeFileSync(unnamed, await archive([gzTop], [top], { names: ['layer.tar.gz'] }));
    assert.equal(openDockerArchiveInPlace(unnamed, 'archive unnamed.tar'), undefined);
    const whole = join(dir, 'whole.tar.gz');
    writeFileSync(whole, gzipSync(await archive([base], [base])));
    assert.equal(openDockerArchiveInPlace(whole, 'archive whole.tar.gz'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
