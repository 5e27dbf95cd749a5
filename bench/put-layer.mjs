// Times storing a directory's diff as a layer (the build's putLayer over diffDirectory), in the same
// process, against a fresh store each round, beside the peer doing the same work with GNU tools: `tar`
// of the directory into a file, `sha256sum` of it (and `sync` of it, against the durable store).
// Usage: node bench/put-layer.mjs DIST_DIR UPPERDIR [ROUNDS]
// Prints median times of diffDirectory alone, putLayer without and with fsync, the peer's, and the ratios.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [distArg, upper, roundsArg] = process.argv.slice(2);
if (!distArg || !upper) {
  console.error('usage: node bench/put-layer.mjs DIST_DIR UPPERDIR [ROUNDS]');
  process.exit(2);
}
const dist = resolve(distArg);
const { diffDirectory } = await import(join(dist, 'src/snapshot/diff-directory.js'));
const { Store, putLayer } = await import(join(dist, 'src/store/index.js'));
const rounds = Number(roundsArg ?? 7);
process.setMaxListeners(0); // every round opens a store, which hooks process exit

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Runs `fn` `rounds` times; `fn` reports its own time through `timed`, so setup and cleanup stay out of it. */
async function time(fn) {
  const ms = [];
  let out;
  for (let i = 0; i < rounds; i++) {
    out = await fn(async (work) => {
      const t = performance.now();
      const r = await work();
      ms.push(performance.now() - t);
      return r;
    });
  }
  return { ms: median(ms).toFixed(0), out };
}

const diff = await time((timed) =>
  timed(async () => {
    let n = 0;
    for await (const c of diffDirectory(upper, { sourceDateEpoch: null })) n += c.length;
    return n;
  }),
);
const put = async (durable) =>
  time(async (timed) => {
    const root = mkdtempSync(join(tmpdir(), 'shale-bench-store-'));
    try {
      const store = await Store.open(root, { durable });
      const { descriptor, info } = await timed(() => putLayer(store, diffDirectory(upper, { sourceDateEpoch: null }), 'bench layer'));
      return { digest: descriptor.digest, size: descriptor.size, entries: info.entries, whiteouts: info.whiteouts, contentSize: info.contentSize };
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
const peer = async (durable) =>
  time(async (timed) => {
    const dir = mkdtempSync(join(tmpdir(), 'shale-bench-tar-'));
    const tar = join(dir, 'layer.tar');
    const script = `tar --sort=name -C "$1" -cf "$2" . && sha256sum "$2" >/dev/null${durable ? ' && sync "$2"' : ''}`;
    try {
      await timed(async () => {
        const r = spawnSync('bash', ['-c', script, 'peer', upper, tar]);
        if (r.status !== 0) throw new Error(`peer failed: ${r.stderr}`);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
const scratch = await put(false);
const durable = await put(true);
const tarScratch = await peer(false);
const tarDurable = await peer(true);
const ratio = (a, b) => (Number(a) / Number(b)).toFixed(2);
console.log(
  JSON.stringify({
    bytes: diff.out,
    diffMs: diff.ms,
    putLayerScratchMs: scratch.ms,
    tarSha256Ms: tarScratch.ms,
    ratioScratch: ratio(scratch.ms, tarScratch.ms),
    putLayerDurableMs: durable.ms,
    tarSha256SyncMs: tarDurable.ms,
    ratioDurable: ratio(durable.ms, tarDurable.ms),
    layer: durable.out,
  }),
);
