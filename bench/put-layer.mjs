// Times storing a directory's diff as a layer (the build's putLayer over diffDirectory), in the same
// process, against a fresh store each round. Usage: node bench/put-layer.mjs DIST_DIR UPPERDIR [ROUNDS]
// Prints the median time of reading diffDirectory alone, and of putLayer (with and without durable fsync), and the digest.
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
const scratch = await put(false);
const durable = await put(true);
console.log(JSON.stringify({ bytes: diff.out, diffMs: diff.ms, putLayerScratchMs: scratch.ms, putLayerDurableMs: durable.ms, layer: durable.out }));
