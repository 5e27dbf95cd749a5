/**
 * Hostile and broken input: path traversal, absolute names, writes through symlinks, hard links out of
 * the tree, truncation, lying digests and sizes, decompression bombs, bad command lines, and a store
 * blob corrupted on disk. Each is refused with exit status 2 and one `error:` line naming the problem;
 * nothing is created outside the store, the store's images are unchanged and `shale fsck` stays clean.
 * No Docker needed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test, type TestContext } from 'node:test';
import {
  dockerArchive,
  fileEntry,
  hardlinkEntry,
  ociArchive,
  ociLayoutFiles,
  symlinkEntry,
  writeOciLayoutDir,
  configFor,
  sha256,
  dirEntry,
} from './support/archives.js';
import { tarBytes } from './support/append-layer.js';
import { assertCliError, shale, shaleJson, shaleOk, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import type { TarWriteEntry } from '../src/layer/index.js';

const MAX_BYTES = 5_000_000;

interface Fixture {
  root: string;
  work: string;
  /** The shale processes' working directory, two levels below `work` (so `../../x` lands in `work`). */
  cwd: string;
  write(name: string, data: Buffer): string;
  /** Asserts `shale images` still lists just the seed image; call at the end of each test. */
  done(): void;
}

/** A store holding one good image, and a work dir for inputs. */
async function fixture(t: TestContext): Promise<Fixture> {
  const work = tempDir(t);
  const root = tempStore(t);
  const cwd = join(work, 'a', 'b');
  mkdirSync(cwd, { recursive: true });
  const write = (name: string, data: Buffer) => {
    const p = join(work, name);
    writeFileSync(p, data);
    return p;
  };
  const seed = write('seed.tar', await dockerArchive([await tarBytes([fileEntry('etc/seed', 'seed\n')])], { repoTags: ['seed:1'] }));
  shaleOk(['load', '-i', seed], { root });
  const images = shaleJson<{ repository: string; tag: string }[]>(['images'], { root });
  assert.deepEqual(images.map((i) => `${i.repository}:${i.tag}`), ['seed:1']);
  const done = () => {
    // what the refusals left: still only the seed image (plus what a test loaded on purpose)
    const now = shaleJson<{ repository: string }[]>(['images'], { root }).filter((i) => i.repository !== 'fine');
    assert.deepEqual(now, images, 'the store images are unchanged at the end of the test');
  };
  return { root, work, cwd, write, done };
}

/**
 * Runs shale and checks the refusal: exit 2, one error line matching `words`, none of `outside` exists,
 * `shale images` unchanged, `shale fsck` exits 0, no ingestion or scratch store left behind.
 */
function expectRefused(
  f: Fixture,
  args: string[],
  words: RegExp,
  options: { env?: Record<string, string>; outside?: string[] } = {},
): string {
  // index.json lists the store's images; byte-for-byte unchanged means `shale images` is too (each test
  // also compares `shale images` at its end)
  const index = () => readFileSync(join(f.root, 'index.json'), 'utf8');
  const before = index();
  const r = shale(args, { root: f.root, cwd: f.cwd, env: options.env });
  const line = assertCliError(r, `shale ${args.join(' ')}`);
  assert.match(line, words, `the error names the problem: ${line}`);
  for (const p of options.outside ?? []) assert.equal(existsSync(p), false, `${p} must not be created`);
  assert.equal(index(), before, 'the store index (its images) is unchanged');
  const fsck = shale(['fsck', '--format', 'json'], { root: f.root });
  assert.equal(fsck.status, 0, `fsck after the refusal: ${fsck.stdout}${fsck.stderr}`);
  assert.equal((JSON.parse(fsck.stdout) as { ok: boolean }).ok, true);
  const left = (d: string) => (existsSync(d) ? readdirSync(d) : []);
  assert.deepEqual(left(join(f.root, 'shale', 'ingest')), [], 'no ingestion is left behind');
  assert.deepEqual(left(join(f.root, 'shale', 'tmp')), [], 'no scratch store is left behind');
  return line;
}

const good = () => tarBytes([fileEntry('ok.txt', 'ok\n')]);

/** Layer contents that must never be applied, with the words their refusal must carry. */
function traversalCases(u: string, f: Fixture): { name: string; entries: TarWriteEntry[]; words: RegExp; outside: string[] }[] {
  return [
    {
      name: 'a "../../" entry',
      entries: [fileEntry('ok', 'x'), fileEntry(`../../escape-${u}`, 'pwned\n')],
      words: /"\.\."|unsafe/i,
      outside: [resolve(f.cwd, `../../escape-${u}`), resolve(f.root, `../../escape-${u}`), `/escape-${u}`],
    },
    {
      name: 'an absolute entry name',
      entries: [fileEntry(`/tmp/shale-abs-${u}`, 'pwned\n')],
      words: /absolute/,
      outside: [`/tmp/shale-abs-${u}`],
    },
    {
      name: 'an entry written through a symlink to outside',
      entries: [symlinkEntry('evil', `/tmp/shale-evil-${u}`), fileEntry('evil/owned', 'pwned\n')],
      words: /symlink/,
      outside: [`/tmp/shale-evil-${u}`, `/tmp/shale-evil-${u}/owned`],
    },
    {
      name: 'an entry written through a symlink made in the same layer under a directory',
      entries: [dirEntry('d'), symlinkEntry('d/up', '../../..'), fileEntry(`d/up/tmp/shale-up-${u}`, 'pwned\n')],
      words: /symlink/,
      outside: [`/tmp/shale-up-${u}`],
    },
    {
      name: 'a hard link to ../../etc/passwd',
      entries: [hardlinkEntry('pw', '../../etc/passwd')],
      words: /hard link.*"\.\."|"\.\.".*hard link/,
      outside: [],
    },
    {
      name: 'a hard link to an absolute path that climbs out',
      entries: [hardlinkEntry('pw', '/../etc/shadow')],
      words: /"\.\."/,
      outside: [],
    },
  ];
}

test('load refuses docker-archives whose layers escape the root', async (t) => {
  const f = await fixture(t);
  const u = uniqueSuffix();
  const passwd = readFileSync('/etc/passwd');
  for (const c of traversalCases(u, f)) {
    await t.test(c.name, async () => {
      const archive = f.write(`trav-${sha256(c.name).slice(0, 8)}.tar`, await dockerArchive([await good(), await tarBytes(c.entries)], { repoTags: ['hostile:1'] }));
      expectRefused(f, ['load', '-i', archive], c.words, { outside: c.outside });
    });
  }
  await t.test('from stdin', async () => {
    const archive = await dockerArchive([await tarBytes([fileEntry('../../x', 'x')])], { repoTags: ['hostile:stdin'] });
    assert.match(assertCliError(shale(['load'], { root: f.root, input: archive }), 'load < archive'), /"\.\."|unsafe/);
  });
  assert.deepEqual(readFileSync('/etc/passwd'), passwd);
  f.done();
});

test('import refuses root filesystem tars that escape the root (plain and gzip)', async (t) => {
  const f = await fixture(t);
  const u = uniqueSuffix();
  for (const c of traversalCases(u, f)) {
    await t.test(c.name, async () => {
      const tar = await tarBytes(c.entries);
      const plain = f.write(`rootfs-${sha256(c.name).slice(0, 8)}.tar`, tar);
      expectRefused(f, ['import', plain, 'hostile:import'], c.words, { outside: c.outside });
      const gz = f.write(`rootfs-${sha256(c.name).slice(0, 8)}.tar.gz`, gzipSync(tar));
      expectRefused(f, ['import', gz, 'hostile:import'], c.words, { outside: c.outside });
    });
  }
  await t.test('from stdin', async () => {
    const r = shale(['import', '-', 'hostile:stdin'], { root: f.root, input: await tarBytes([fileEntry('../../x', 'x')]) });
    assert.match(assertCliError(r, 'import -'), /"\.\."|unsafe/);
  });
  f.done();
});

test('archive members are confined to the archive', async (t) => {
  const f = await fixture(t);
  const u = uniqueSuffix();
  const layer = await good();
  const config = configFor([layer]);
  const configName = `${sha256(config)}.json`;
  const manifest = (tag: string) => fileEntry('manifest.json', JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ['l/layer.tar'] }]));
  await t.test('a member named "../../x"', async () => {
    const archive = f.write(
      'member-dotdot.tar',
      await tarBytes([fileEntry(`../../member-${u}`, 'x'), fileEntry(configName, config), fileEntry('l/layer.tar', layer), manifest('m:1')]),
    );
    expectRefused(f, ['load', '-i', archive], /"\.\."/, { outside: [resolve(f.cwd, `../../member-${u}`)] });
  });
  for (const [what, target] of [
    ['a relative', '../../../../../../../../etc/passwd'],
    ['an absolute', '/etc/passwd'],
  ] as const) {
    await t.test(`a layer member that is a symlink to ${what} path outside the archive`, async () => {
      const archive = f.write(`member-${what.split(' ')[1]}.tar`, await tarBytes([symlinkEntry('l/layer.tar', target), fileEntry(configName, config), manifest('m:2')]));
      expectRefused(f, ['load', '-i', archive], /l\/layer\.tar/);
    });
  }
  await t.test('a symlink to another member is followed (as Docker 25 archives link layer.tar to blobs/)', async () => {
    const archive = f.write(
      'member-inside.tar',
      await tarBytes([
        fileEntry(`blobs/sha256/${sha256(layer)}`, layer),
        symlinkEntry('l/layer.tar', `../blobs/sha256/${sha256(layer)}`),
        fileEntry(configName, config),
        manifest('fine:linked'),
      ]),
    );
    assert.deepEqual(shaleJson(['load', '-i', archive], { root: f.root }), [{ ref: 'fine:linked', id: `sha256:${sha256(config)}` }]);
  });
  f.done();
});

test('load refuses a truncated archive', async (t) => {
  const f = await fixture(t);
  const layer = await tarBytes([fileEntry('big', randomBytes(300_000))]);
  const whole = await dockerArchive([layer], { repoTags: ['trunc:1'] });
  // cut inside the layer's content, not at an entry boundary
  const archive = f.write('truncated.tar', whole.subarray(0, 150_000 + 123));
  expectRefused(f, ['load', '-i', archive], /truncated/);
  const gz = f.write('truncated.tar.gz', gzipSync(whole).subarray(0, 200_000));
  expectRefused(f, ['load', '-i', gz], /truncated|unexpected end|gzip/);
  f.done();
});

test('load refuses content that does not match its digest', async (t) => {
  const f = await fixture(t);
  const layer = await good();
  await t.test('a config blob altered after its name was given', async () => {
    const archive = f.write(
      'bad-config.tar',
      await dockerArchive([layer], { repoTags: ['tampered:1'], tamperConfig: (raw) => Buffer.from(raw.toString().replace('"amd64"', '"arm64"')) }),
    );
    expectRefused(f, ['load', '-i', archive], /digest/);
  });
  await t.test("a layer whose diffId is not the config's", async () => {
    const other = await tarBytes([fileEntry('ok.txt', 'not ok\n')]);
    const config = configFor([other]);
    const entries: TarWriteEntry[] = [
      fileEntry(`${sha256(layer)}/layer.tar`, layer),
      fileEntry(`${sha256(config)}.json`, config),
      fileEntry('manifest.json', JSON.stringify([{ Config: `${sha256(config)}.json`, RepoTags: ['diffid:1'], Layers: [`${sha256(layer)}/layer.tar`] }])),
    ];
    expectRefused(f, ['load', '-i', f.write('bad-diffid.tar', await tarBytes(entries))], /diffId/);
  });
  await t.test('an OCI blob altered in place', async () => {
    const files = ociLayoutFiles([layer]);
    const name = `blobs/sha256/${sha256(layer)}`;
    files.set(name, Buffer.from(layer).fill(0x41, 600, 601)); // same size, a zero byte of the tar changed
    expectRefused(f, ['load', '-i', writeOciLayoutDir(join(f.work, 'altered-oci'), files)], /digest/);
  });
  await t.test('a manifest.json naming a file the archive lacks', async () => {
    const config = configFor([layer]);
    const entries: TarWriteEntry[] = [
      fileEntry(`${sha256(config)}.json`, config),
      fileEntry('manifest.json', JSON.stringify([{ Config: `${sha256(config)}.json`, RepoTags: ['missing:1'], Layers: ['nope/layer.tar'] }])),
    ];
    expectRefused(f, ['load', '-i', f.write('missing-layer.tar', await tarBytes(entries))], /nope\/layer\.tar/);
  });
  f.done();
});

test('load refuses an OCI layout whose descriptor lies about a size', async (t) => {
  const f = await fixture(t);
  const layer = await good();
  const sizeWords = /size|\d+ bytes.*descriptor says \d+/;
  await t.test('layout directory, size too small', () => {
    expectRefused(f, ['load', '-i', writeOciLayoutDir(join(f.work, 'oci-small'), ociLayoutFiles([layer], { layerSizeDelta: -1 }))], sizeWords);
  });
  await t.test('oci-archive, size too large', async () => {
    expectRefused(f, ['load', '-i', f.write('oci-large.tar', await ociArchive(ociLayoutFiles([layer], { layerSizeDelta: 4096 })))], sizeWords);
  });
  f.done();
});

test('decompression bombs stop at SHALE_MAX_UNCOMPRESSED_BYTES', async (t) => {
  const f = await fixture(t);
  const env = { SHALE_MAX_UNCOMPRESSED_BYTES: String(MAX_BYTES) };
  const words = new RegExp(`more than ${MAX_BYTES}`);
  const zeros = await tarBytes([fileEntry('zeros', Buffer.alloc(10 * MAX_BYTES))]);
  await t.test('a gzip-compressed archive', async () => {
    const bomb = f.write('bomb.tar.gz', gzipSync(await dockerArchive([zeros], { repoTags: ['bomb:1'] }), { level: 9 }));
    assert.ok(readFileSync(bomb).length < MAX_BYTES / 20, 'the bomb is small on disk');
    expectRefused(f, ['load', '-i', bomb], words, { env });
  });
  await t.test('a gzip-compressed layer inside a plain archive', async () => {
    const bomb = f.write('bomb-layer.tar', await dockerArchive([gzipSync(zeros, { level: 9 })], { repoTags: ['bomb:2'] }));
    expectRefused(f, ['load', '-i', bomb], words, { env });
  });
  await t.test('a gzip-compressed rootfs for import', () => {
    expectRefused(f, ['import', f.write('bomb-rootfs.tar.gz', gzipSync(zeros, { level: 9 })), 'bomb:3'], words, { env });
  });
  await t.test('the same archive loads under a higher limit', async () => {
    const ok = f.write('fine.tar.gz', gzipSync(await dockerArchive([await tarBytes([fileEntry('z', Buffer.alloc(1_000_000))])], { repoTags: ['fine:1'] })));
    assert.deepEqual(
      shaleJson<{ ref: string }[]>(['load', '-i', ok], { root: f.root, env }).map((l) => l.ref),
      ['fine:1'],
    );
  });
  f.done();
});

test('garbage input is refused', async (t) => {
  const f = await fixture(t);
  expectRefused(f, ['load', '-i', f.write('random.bin', randomBytes(4096))], /checksum|not a tar|corrupt/i);
  expectRefused(f, ['load', '-i', f.write('empty-tar.tar', await tarBytes([fileEntry('hello', 'x')]))], /manifest\.json|index\.json|not a docker-archive/);
  expectRefused(f, ['load', '-i', f.write('bad-manifest.tar', await tarBytes([fileEntry('manifest.json', '{"not": "a list"')]))], /manifest\.json/);
  f.done();
});

test('bad command lines exit 2 with one error line', async (t) => {
  const f = await fixture(t);
  await t.test('unknown flag', () => {
    assert.match(assertCliError(shale(['images', '--no-such-flag'], { root: f.root }), 'unknown flag'), /unknown option/);
  });
  await t.test('unknown command', () => {
    assert.equal(shale(['frobnicate'], { root: f.root }).status, 2);
  });
  await t.test('missing option argument', () => {
    assert.match(assertCliError(shale(['load', '-i'], { root: f.root }), 'load -i without a path'), /--input/);
    assert.match(assertCliError(shale(['save', 'seed:1'], { root: f.root }), 'save without -o'), /--output/);
  });
  await t.test('image not in the store', () => {
    assert.match(assertCliError(shale(['inspect', 'nosuch:tag'], { root: f.root }), 'inspect'), /not found/);
    assert.match(assertCliError(shale(['history', 'nosuch:tag'], { root: f.root }), 'history'), /not found/);
    assert.match(assertCliError(shale(['rmi', 'nosuch:tag'], { root: f.root }), 'rmi'), /not found/);
    assert.match(assertCliError(shale(['save', '-o', join(f.work, 'x.tar'), 'nosuch:tag'], { root: f.root }), 'save'), /not found/);
    assert.equal(existsSync(join(f.work, 'x.tar')), false, 'a failed save leaves no output file');
  });
  await t.test('archive that does not exist', () => {
    assert.match(assertCliError(shale(['load', '-i', join(f.work, 'nope.tar')], { root: f.root }), 'load'), /does not exist/);
  });
  await t.test('rootfs tarball that does not exist', () => {
    assert.match(assertCliError(shale(['import', join(f.work, 'nope.tar'), 'x:1'], { root: f.root }), 'import'), /does not exist/);
  });
  await t.test('invalid reference', () => {
    assert.match(assertCliError(shale(['tag', 'seed:1', 'UPPER:case'], { root: f.root }), 'tag'), /invalid image reference/);
  });
  await t.test('bad --format', () => {
    assert.equal(shale(['images', '--format', 'yaml'], { root: f.root }).status, 2);
  });
  f.done();
});

test('a layer blob corrupted on disk is found by fsck and refused by save', async (t) => {
  const f = await fixture(t);
  const big = await tarBytes([fileEntry('data.bin', randomBytes(200_000))]);
  shaleOk(['load', '-i', f.write('victim.tar', await dockerArchive([big], { repoTags: ['victim:1'] }))], { root: f.root });
  const layerDigest = shaleJson<{ manifest: { layers: { digest: string }[] } }>(['inspect', 'victim:1'], { root: f.root }).manifest.layers[0]!.digest;
  const blob = join(f.root, 'blobs', 'sha256', layerDigest.slice(7));
  const bytes = readFileSync(blob);
  bytes[100_000] ^= 0xff; // inside data.bin's content: the tar still parses
  writeFileSync(blob, bytes);

  const fsck = shale(['fsck', '--format', 'json'], { root: f.root });
  assert.equal(fsck.status, 1, 'a failed check exits 1');
  const report = JSON.parse(fsck.stdout) as { ok: boolean; problems: string[] };
  assert.equal(report.ok, false);
  assert.ok(report.problems.some((p) => p.includes(layerDigest)), `fsck names the blob: ${JSON.stringify(report.problems)}`);

  const saved = join(f.work, 'out.tar');
  assert.match(assertCliError(shale(['save', '-o', saved, 'victim:1'], { root: f.root }), 'save'), /digest/);
  assert.equal(existsSync(saved), false, 'no partial archive is left');

  // export reads layers through the tar reader, which must drain each blob to its end so that the digest
  // check (made when the stream ends) runs: at badd752 it stopped at the end-of-archive block and exported
  // the corrupted bytes with exit 0
  await t.test('export refuses it too', () => {
    const exported = join(f.work, 'export.tar');
    assert.match(assertCliError(shale(['export', 'victim:1', '-o', exported], { root: f.root, timeoutMs: 30_000 }), 'export'), /digest/);
    assert.equal(existsSync(exported), false, 'no partial export is left');
  });
});
