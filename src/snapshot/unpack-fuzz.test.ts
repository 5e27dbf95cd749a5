/**
 * Property test of layer extraction: whatever a layer's names, links and whiteouts say, `unpackLayer`
 * writes inside its directory only, and a layer it refuses is refused with a coded error.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectParsedOrRefusedAsync, fuzzParameters } from '../internal/fuzz-fixtures.js';
import { makeHeader, writeTar, type EntryType, type TarWriteEntry } from '../layer/index.js';
import { unpackLayer } from './unpack-layer.js';

/** Every path under `dir` with its type, size and link target: what "unchanged" compares. */
function snapshotTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.push(`${rel}${name} ${st.mode} ${st.size} ${st.mtimeMs} ${st.isSymbolicLink() ? readlinkSync(p) : ''}`);
      if (st.isDirectory()) walk(p, `${rel}${name}/`);
    }
  };
  walk(dir, '');
  return out;
}

const component = fc.constantFrom('a', 'b', 'out', '..', '.', '', '.wh.a', '.wh..wh..opq', 'x\u00e9');
const nameArb = fc.oneof(
  fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join('/')),
  fc.array(component, { minLength: 1, maxLength: 3 }).map((c) => `/${c.join('/')}`),
);
/** Link targets aimed out of the directory as often as into it. */
const targetArb = fc.oneof(nameArb, fc.constantFrom('..', '../..', '/', '/tmp', '../outside', 'a/../../outside'));

const entryArb: fc.Arbitrary<TarWriteEntry> = fc
  .record({ name: nameArb, type: fc.constantFrom<EntryType>('file', 'dir', 'symlink', 'hardlink', 'file', 'dir'), target: targetArb, body: fc.uint8Array({ maxLength: 16 }) })
  .map(({ name, type, target, body }) => {
    const linkname = type === 'symlink' || type === 'hardlink' ? target : '';
    const header = makeHeader({ name, type, linkname, size: type === 'file' ? body.length : 0, mode: type === 'dir' ? 0o755 : 0o644 });
    return type === 'file' ? { header, body } : { header };
  });

test('unpackLayer: any layer writes inside its directory only, or is refused with a coded error', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'shale-unpack-fuzz-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  // what lies next to the target: a layer must never reach it
  const outside = join(base, 'outside');
  mkdirSync(join(outside, 'a'), { recursive: true });
  writeFileSync(join(outside, 'a', 'b'), 'keep');
  writeFileSync(join(base, 'sibling'), 'keep');
  const before = snapshotTree(base);
  let run = 0;
  const outcomes = { unpacked: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(entryArb, { maxLength: 8 }), { minLength: 1, maxLength: 2 }), fc.constantFrom('plain' as const, 'overlay' as const), async (layers, format) => {
      const dir = join(base, 'outside', '..', `t${run++}`);
      mkdirSync(dir);
      try {
        for (const entries of layers) {
          const done = await expectParsedOrRefusedAsync(() => unpackLayer(writeTar(entries), dir, { format, what: 'fuzz layer' }).then(() => true), ['UNSAFE_PATH', 'CORRUPT_INPUT', 'UNSUPPORTED', 'NOT_FOUND', 'INVALID_ARGUMENT', 'ALREADY_EXISTS']);
          outcomes[done ? 'unpacked' : 'refused']++;
          if (!done) break;
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      assert.deepEqual(snapshotTree(base), before);
    }),
    fuzzParameters(300),
  );
  assert.ok(outcomes.unpacked > 50 && outcomes.refused > 50, JSON.stringify(outcomes));
});

test('unpackLayer: cases fuzzing found: a name with a doubled trailing slash, a symlink with an empty target', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'shale-unpack-case-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dir = join(base, 'a');
  mkdirSync(dir);
  // `./out//` is the directory `out`: made once, then merged, never made again
  await unpackLayer(writeTar([{ header: makeHeader({ name: './out//', type: 'dir' }) }, { header: makeHeader({ name: 'out//', type: 'dir' }) }]), dir, { format: 'plain' });
  assert.ok(lstatSync(join(dir, 'out')).isDirectory());
  // symlink(2) cannot make an empty target: a coded error, not a raw ENOENT
  await assert.rejects(
    unpackLayer(writeTar([{ header: makeHeader({ name: 'out/b', type: 'symlink', linkname: '' }) }]), dir, { format: 'overlay' }),
    (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'CORRUPT_INPUT' && /symlink "out\/b" has an empty target/.test(e.message),
  );
});
