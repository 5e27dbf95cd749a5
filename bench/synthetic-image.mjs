#!/usr/bin/env node
// Writes a synthetic 4-layer image as an OCI layout directory: about 1 GB and 215k entries, many small
// files plus some big ones, with later layers overwriting (half with the same bytes), deleting (whiteouts,
// one opaque directory) and re-adding files with another mode. The content is deterministic (AES-CTR of
// zeros), so every run makes the same digests.
// Usage: node bench/synthetic-image.mjs DIR [REF]
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ref = 'bench/synthetic:latest'] = process.argv.slice(2);
if (!dir) throw new Error('usage: synthetic-image.mjs DIR [REF]');
const blobs = join(dir, 'blobs', 'sha256');
mkdirSync(blobs, { recursive: true });

const POOL = 16 << 20;
const pool = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0)).update(Buffer.alloc(POOL));
const mix = (n) => Math.imul(n ^ (n >>> 15), 0x2c1b3c6d) >>> 0;
const smallSize = (id) => mix(id) % 4096;
/** `size` bytes standing for content `id`: slices of the pool at offsets that depend on the id. */
function* content(id, size) {
  for (let done = 0, k = 0; done < size; k++) {
    const n = Math.min(size - done, 1 << 20);
    const off = mix(id * 977 + k) % (POOL - n);
    yield pool.subarray(off, off + n);
    done += n;
  }
}

const MTIME = 1700000000;
function octal(buf, off, len, value) {
  buf.write(value.toString(8).padStart(len - 1, '0'), off, len - 1, 'ascii');
}
function header(name, { type = '0', mode = 0o644, size = 0 } = {}) {
  if (Buffer.byteLength(name) > 100) throw new Error(`name too long: ${name}`);
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, MTIME);
  h.fill(0x20, 148, 156);
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** One layer tar, hashed as it is written; `done()` renames it to its digest and returns the descriptor. */
class Layer {
  constructor() {
    this.tmp = join(dir, `layer.${process.pid}.tmp`);
    this.fd = openSync(this.tmp, 'w');
    this.hash = createHash('sha256');
    this.buf = Buffer.alloc(8 << 20);
    this.len = 0;
    this.size = 0;
  }
  push(chunk) {
    if (this.len + chunk.length > this.buf.length) this.flush();
    if (chunk.length >= this.buf.length) return this.out(chunk);
    chunk.copy(this.buf, this.len);
    this.len += chunk.length;
  }
  flush() {
    if (this.len) this.out(this.buf.subarray(0, this.len));
    this.len = 0;
  }
  out(b) {
    this.hash.update(b);
    for (let o = 0; o < b.length; ) o += writeSync(this.fd, b, o);
    this.size += b.length;
  }
  dir(name, mode = 0o755) {
    this.push(header(`${name}/`, { type: '5', mode }));
  }
  file(name, id, size, mode = 0o644) {
    this.push(header(name, { size, mode }));
    for (const c of content(id, size)) this.push(c);
    if (size % 512) this.push(Buffer.alloc(512 - (size % 512)));
  }
  whiteout(parent, name) {
    this.push(header(`${parent}/.wh.${name}`));
  }
  done() {
    this.push(Buffer.alloc(1024));
    this.flush();
    closeSync(this.fd);
    const digest = `sha256:${this.hash.digest('hex')}`;
    renameSync(this.tmp, join(blobs, digest.slice(7)));
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: this.size };
  }
}

const MB = 1 << 20;
const d = (i) => `srv/data/d${String(i).padStart(3, '0')}`;
const f = (j) => `f${String(j).padStart(3, '0')}`;
const smallId = (i, j) => i * 1000 + j;
const layers = [];
const history = [];

// 1: 1000 directories of 120 small files (~245 MB), ten 30 MB files.
let l = new Layer();
for (const p of ['srv', 'srv/data', 'srv/big']) l.dir(p);
for (let i = 0; i < 1000; i++) {
  l.dir(d(i));
  for (let j = 0; j < 120; j++) l.file(`${d(i)}/${f(j)}`, smallId(i, j), smallSize(smallId(i, j)));
}
for (let b = 0; b < 10; b++) l.file(`srv/big/b${b}.bin`, 1e7 + b, 30 * MB);
layers.push(l.done());
history.push('base: 120k small files, ten 30 MB files');

// 2: 60k new small files, 10k overwritten (even ones with the same bytes), three 30 MB files.
l = new Layer();
l.dir('srv/extra');
for (let i = 0; i < 500; i++) {
  l.dir(`srv/extra/e${String(i).padStart(3, '0')}`);
  for (let j = 0; j < 120; j++) l.file(`srv/extra/e${String(i).padStart(3, '0')}/${f(j)}`, 2e6 + smallId(i, j), smallSize(2e6 + smallId(i, j)));
}
for (let i = 0; i < 100; i++) {
  l.dir(d(i));
  for (let j = 0; j < 100; j++) {
    const id = j % 2 === 0 ? smallId(i, j) : 3e6 + smallId(i, j);
    l.file(`${d(i)}/${f(j)}`, id, smallSize(id));
  }
}
for (let b = 0; b < 3; b++) l.file(`srv/big/c${b}.bin`, 2e7 + b, 30 * MB);
layers.push(l.done());
history.push('more files, 10k overwritten');

// 3: 20k deleted, two big files deleted, one directory made opaque, 20k new small files, two 50 MB files.
l = new Layer();
for (let i = 100; i < 300; i++) {
  l.dir(d(i));
  for (let j = 0; j < 100; j++) l.whiteout(d(i), f(j));
}
l.whiteout('srv/big', 'b0.bin');
l.whiteout('srv/big', 'b1.bin');
l.dir(d(999));
l.push(header(`${d(999)}/.wh..wh..opq`));
for (let j = 0; j < 10; j++) l.file(`${d(999)}/new${j}`, 4e6 + j, smallSize(4e6 + j));
l.dir('srv/logs');
for (let i = 0; i < 200; i++) {
  l.dir(`srv/logs/l${String(i).padStart(3, '0')}`);
  for (let j = 0; j < 100; j++) l.file(`srv/logs/l${String(i).padStart(3, '0')}/${f(j)}`, 5e6 + smallId(i, j), smallSize(5e6 + smallId(i, j)));
}
for (let b = 0; b < 2; b++) l.file(`srv/big/n${b}.bin`, 3e7 + b, 50 * MB);
layers.push(l.done());
history.push('deletions, opaque directory, logs');

// 4: 5k files again with mode 0600 (same bytes), one 100 MB file.
l = new Layer();
for (let i = 300; i < 350; i++) {
  l.dir(d(i));
  for (let j = 0; j < 100; j++) l.file(`${d(i)}/${f(j)}`, smallId(i, j), smallSize(smallId(i, j)), 0o600);
}
l.file('srv/big/model.bin', 4e7, 100 * MB);
layers.push(l.done());
history.push('chmod 0600 on 5k files, a 100 MB file');

function putJson(value) {
  const raw = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  writeFileSync(join(blobs, digest.slice(7)), raw);
  return { digest, size: raw.length };
}
const created = new Date(MTIME * 1000).toISOString();
const config = putJson({
  created,
  architecture: 'amd64',
  os: 'linux',
  config: {},
  rootfs: { type: 'layers', diff_ids: layers.map((x) => x.digest) },
  history: history.map((h) => ({ created, created_by: h })),
});
const manifest = putJson({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
  layers,
});
writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
writeFileSync(
  join(dir, 'index.json'),
  JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': ref } }],
  }),
);
const total = layers.reduce((n, x) => n + x.size, 0);
process.stderr.write(`synthetic image: ${layers.length} layers, ${Math.round(total / MB)} MB\n`);
