/**
 * One suite, the same assertions, for every Snapshotter: the merged view after prepare, the diff after
 * changes made with plain fs calls, the diff re-applied onto the lower layers, hostile layers, removal and
 * stale-snapshot cleanup. The overlayfs run really mounts; where it cannot (not root, no overlayfs) it
 * fails under CI=true and is skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listLayer, MergedTree, summarizeLayer, type LayerListing, type TarWriteEntry } from '../layer/index.js';
import { bufferSource } from '../layer/layer-fixtures.js';
import { digestHex } from '../oci/index.js';
import { chooseSnapshotter, probeOverlay } from './choose-snapshotter.js';
import { cleanupStale } from './cleanup-stale.js';
import { CopySnapshotter } from './copy-snapshotter.js';
import { readMounts, unmountUnder } from './mount-table.js';
import { diffDirectory } from './diff-directory.js';
import { KeptLayers } from './kept-layers.js';
import { OverlaySnapshotter } from './overlay-snapshotter.js';
import type { LayerRef, Snapshotter, StoredLayerRef } from './snapshotter.js';
import {
  chardev,
  collect,
  dir,
  fifo,
  file,
  hardlink,
  layerRef,
  listTar,
  marker,
  mountsBelow,
  readTree,
  rejectsWithCode,
  symlink,
  xattrsOf,
} from './snapshot-fixtures.js';

// The stack every test prepares, bottom first.
const L1: TarWriteEntry[] = [
  dir('bin'),
  file('bin/suid', 's', { mode: 0o4755 }),
  file('bin/tool', '#!tool', { mode: 0o755 }),
  dir('data', { uid: 1000, gid: 1000 }),
  file('data/f', 'd', { uid: 1000, gid: 1001 }),
  dir('dev'),
  chardev('dev/null', 1, 3),
  dir('etc'),
  file('etc/conf', 'v1'),
  file('etc/keep', 'k'),
  file('etc/old', 'old', { mtime: 1_600_000_000 }),
  file('gone', 'gone'),
  dir('gonedir'),
  file('gonedir/x', 'x'),
  dir('hl'),
  file('hl/a', 'shared'),
  hardlink('hl/b', 'hl/a'),
  symlink('link', 'etc/conf'),
  dir('opq'),
  file('opq/lower1', 'l1'),
  file('opq/lower2', 'l2'),
  dir('opq2'),
  file('opq2/lowerfile', 'lf'),
  dir('redo'),
  file('redo/old1', 'o'),
  file('rep', 'replace me'),
  dir('run'),
  fifo('run/fifo', { mode: 0o600 }),
  dir('tmp', { mode: 0o1777, mtime: 1_500_000_000 }),
  dir('var'),
  dir('var/cache'),
  file('var/cache/a', 'a'),
  dir('var/cache/sub'),
  file('var/cache/sub/b', 'b'),
];
const L2: TarWriteEntry[] = [
  marker('.wh.gone'),
  marker('.wh.gonedir'),
  dir('etc'),
  file('etc/conf', 'v2', { xattrs: { 'user.shale': Buffer.from('v2') } }),
  dir('opq'),
  marker('opq/.wh..wh..opq'),
  file('opq/upper1', 'u1'),
  dir('rep'),
  file('rep/inside', 'in'),
  symlink('newsym', 'bin/tool'),
];
// Markers after the layer's own entries: they still act on lower layers only.
const L3: TarWriteEntry[] = [dir('opq2'), file('opq2/new', 'n'), marker('opq2/.wh..wh..opq'), dir('etc'), file('etc/added', 'added'), marker('etc/.wh.added')];

const VIEW = [
  'bin/', 'bin/suid', 'bin/tool', 'data/', 'data/f', 'dev/', 'dev/null', 'etc/', 'etc/added', 'etc/conf', 'etc/keep', 'etc/old',
  'hl/', 'hl/a', 'hl/b', 'link', 'newsym', 'opq/', 'opq/upper1', 'opq2/', 'opq2/new', 'redo/', 'redo/old1', 'rep/', 'rep/inside',
  'run/', 'run/fifo', 'tmp/', 'var/', 'var/cache/', 'var/cache/a', 'var/cache/sub/', 'var/cache/sub/b',
];

/** The fs calls a container would make; the diff must hold exactly EXPECTED_DIFF. */
function makeChanges(root: string): void {
  const r = (p: string) => join(root, p);
  writeFileSync(r('new.txt'), 'new');
  writeFileSync(r('etc/conf'), 'v3');
  unlinkSync(r('etc/old'));
  rmSync(r('var/cache'), { recursive: true });
  rmSync(r('redo'), { recursive: true });
  mkdirSync(r('redo'));
  writeFileSync(r('redo/fresh'), 'f');
  chmodSync(r('bin/tool'), 0o700);
  chownSync(r('data/f'), 2000, 2000);
  symlinkSync('new.txt', r('lnk2'));
  renameSync(r('etc/keep'), r('etc/kept'));
  mkdirSync(r('newdir'));
  writeFileSync(r('newdir/h1'), 'h');
  linkSync(r('newdir/h1'), r('newdir/h2'));
  rmSync(r('opq2'), { recursive: true });
  writeFileSync(r('opq2'), 'now a file');
  unlinkSync(r('link'));
  mkdirSync(r('link'));
  writeFileSync(r('link/inside'), 'i');
  // Same size, mtime put back: only ctime tells (the copy snapshotter), or the copy-up (overlayfs).
  const { atime, mtime } = lstatSync(r('rep/inside'));
  writeFileSync(r('rep/inside'), 'IN');
  utimesSync(r('rep/inside'), atime, mtime);
}
const EXPECTED_DIFF: [string, string, string][] = [
  ['bin/', 'dir', ''],
  ['bin/tool', 'file', ''],
  ['data/', 'dir', ''],
  ['data/f', 'file', ''],
  ['etc/', 'dir', ''],
  ['etc/.wh.keep', 'file', ''],
  ['etc/.wh.old', 'file', ''],
  ['etc/conf', 'file', ''],
  ['etc/kept', 'file', ''],
  ['link/', 'dir', ''],
  ['link/.wh..wh..opq', 'file', ''],
  ['link/inside', 'file', ''],
  ['lnk2', 'symlink', 'new.txt'],
  ['new.txt', 'file', ''],
  ['newdir/', 'dir', ''],
  ['newdir/h1', 'file', ''],
  ['newdir/h2', 'hardlink', 'newdir/h1'],
  ['opq2', 'file', ''],
  ['redo/', 'dir', ''],
  ['redo/.wh..wh..opq', 'file', ''],
  ['redo/fresh', 'file', ''],
  ['rep/', 'dir', ''],
  ['rep/inside', 'file', ''],
  ['var/', 'dir', ''],
  ['var/.wh.cache', 'file', ''],
];

interface Shape {
  type: string;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  linkname?: string;
}

/** What applying these tars with MergedTree shows (keys as readTree gives them). */
async function mergedShape(tars: Buffer[]): Promise<Map<string, Shape>> {
  const tree = new MergedTree();
  const listings: LayerListing[] = [];
  for (let i = 0; i < tars.length; i++) {
    const listing = await listLayer(bufferSource(`L${i}`, tars[i]!));
    listings.push(listing);
    tree.apply(i, listing, `L${i}`);
  }
  const out = new Map<string, Shape>();
  for (const { path, node } of tree.walk()) {
    const src = node.type === 'hardlink' ? node.linkTarget : node.src;
    const h = src ? listings[src.layer]!.entries[src.index]!.header : undefined;
    const type = node.type === 'hardlink' ? 'file' : node.type;
    const shape: Shape = { type };
    if (h) Object.assign(shape, { mode: h.mode, uid: h.uid, gid: h.gid });
    if (type === 'file') shape.size = h!.size;
    if (type === 'symlink') shape.linkname = node.linkname;
    out.set(type === 'dir' ? `${path}/` : path, shape);
  }
  return out;
}

function diskShape(root: string, like: Map<string, Shape>): Map<string, Shape> {
  const out = new Map<string, Shape>();
  for (const [p, e] of readTree(root)) {
    const want = like.get(p);
    const shape: Shape = { type: e.type };
    if (want?.mode !== undefined) Object.assign(shape, { mode: e.mode, uid: e.uid, gid: e.gid });
    if (e.type === 'file') shape.size = e.size;
    if (e.type === 'symlink') shape.linkname = e.linkname;
    out.set(p, shape);
  }
  return out;
}

interface Kind {
  kind: 'overlayfs' | 'copy';
  /** The snapshotter, or why it cannot run here. */
  make(root: string): Promise<Snapshotter | string>;
}
const KINDS: Kind[] = [
  {
    kind: 'overlayfs',
    async make(root) {
      const probe = await probeOverlay(root);
      return probe.ok ? new OverlaySnapshotter(root) : probe.reason;
    },
  },
  { kind: 'copy', make: async (root) => new CopySnapshotter(root) },
];

for (const k of KINDS) {
  describe(`${k.kind} snapshotter (shared suite)`, () => {
    let root = '';
    let snapshotter: Snapshotter | undefined;
    let skipReason = '';
    let layers: (StoredLayerRef & { tar: Buffer })[] = [];

    before(async () => {
      root = mkdtempSync(join(tmpdir(), `shale-snap-${k.kind}-`));
      layers = [await layerRef(L1), await layerRef(L2), await layerRef(L3)];
      const made = await k.make(root);
      if (typeof made !== 'string') {
        snapshotter = made;
        return;
      }
      if (process.env.CI === 'true') throw new Error(`the ${k.kind} snapshotter cannot run here: ${made}`);
      skipReason = `${k.kind} cannot run here: ${made}`;
      console.log(`# skipping the ${k.kind} suite: ${made}`);
    });
    after(async () => {
      await unmountUnder(root).catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    });
    const it = (name: string, fn: (s: Snapshotter) => Promise<void>) =>
      test(name, async (t) => {
        if (!snapshotter) return t.skip(skipReason);
        await fn(snapshotter);
      });

    it('prepare shows the layers merged: whiteouts, opaque dirs, replacements, links, modes, owners, xattrs', async (s) => {
      const snap = await s.prepare('view', layers);
      try {
        assert.equal(s.kind, k.kind);
        const t = readTree(snap.rootfs);
        assert.deepEqual([...t.keys()], VIEW);
        const e = (p: string) => t.get(p)!;
        assert.equal(e('etc/conf').content, 'v2');
        assert.equal(e('etc/added').content, 'added', 'a whiteout does not hide its own layer\'s entry');
        assert.equal(e('rep/inside').content, 'in');
        assert.equal(e('bin/tool').mode, 0o755);
        assert.equal(e('bin/suid').mode, 0o4755);
        assert.equal(e('tmp/').mode, 0o1777);
        assert.equal(e('tmp/').mtime, 1_500_000_000);
        assert.equal(e('etc/old').mtime, 1_600_000_000);
        assert.deepEqual([e('data/').uid, e('data/').gid, e('data/f').uid, e('data/f').gid], [1000, 1000, 1000, 1001]);
        assert.equal(e('link').linkname, 'etc/conf');
        assert.equal(e('newsym').linkname, 'bin/tool');
        assert.deepEqual([e('hl/b').content, e('hl/b').mode, e('hl/b').mtime], [e('hl/a').content, e('hl/a').mode, e('hl/a').mtime]);
        if (k.kind === 'overlayfs') {
          assert.equal(e('hl/a').ino, e('hl/b').ino, 'overlayfs shows a lower hard link as one inode');
          assert.equal(e('hl/a').nlink, 2);
        } else {
          assert.notEqual(e('hl/a').ino, e('hl/b').ino, 'the copy snapshotter gives each name of a hard link its own inode');
          assert.deepEqual([e('hl/a').nlink, e('hl/b').nlink], [1, 1]);
        }
        assert.deepEqual([e('run/fifo').type, e('run/fifo').mode], ['fifo', 0o600]);
        assert.deepEqual([e('dev/null').type, e('dev/null').dev], ['char', '1:3']);
        assert.deepEqual(xattrsOf(join(snap.rootfs, 'etc/conf')), { 'user.shale': 'v2' });
        for (const p of ['opq', 'opq2', 'etc', '']) {
          assert.deepEqual(Object.keys(xattrsOf(join(snap.rootfs, p))).filter((n) => n.startsWith('trusted.overlay.')), [], `no overlay marks show in ${p || 'the root'}`);
        }
        assert.deepEqual(diskShape(snap.rootfs, await mergedShape(layers.map((l) => l.tar))), await mergedShape(layers.map((l) => l.tar)));
      } finally {
        await snap.remove();
      }
    });

    it('diff() holds exactly the changes, in order, and re-applied onto the layers gives the rootfs', async (s) => {
      const snap = await s.prepare('changes', layers);
      try {
        makeChanges(snap.rootfs);
        const tar = await collect(snap.diff());
        const list = await listTar(tar);
        assert.deepEqual(
          list.map((e) => [e.name, e.type, e.linkname]),
          EXPECTED_DIFF,
        );
        const at = (name: string) => list.find((e) => e.name === name)!;
        assert.equal(at('bin/tool').mode, 0o700);
        assert.equal(at('bin/tool').content, '#!tool');
        assert.deepEqual([at('data/f').uid, at('data/f').gid], [2000, 2000]);
        assert.equal(at('etc/conf').content, 'v3');
        assert.deepEqual(at('etc/conf').xattrs, { 'user.shale': 'v2' });
        assert.equal(at('etc/kept').content, 'k');
        assert.equal(at('redo/fresh').content, 'f');
        assert.equal(at('newdir/h1').content, 'h');
        assert.equal(at('rep/inside').content, 'IN');
        assert.equal(at('opq2').content, 'now a file');
        for (const e of list) assert.deepEqual(Object.keys(e.xattrs).filter((n) => n.startsWith('trusted.overlay.')), [], e.name);

        const merged = await mergedShape([...layers.map((l) => l.tar), tar]);
        assert.deepEqual(diskShape(snap.rootfs, merged), merged);
        assert.ok(tar.equals(await collect(snap.diff())), 'the same changes give the same bytes');
        // the content the tar carries: files (a hard link's second name none) and symlink targets
        const carried = list.reduce((n, e) => n + (e.type === 'file' ? Buffer.byteLength(e.content) : e.type === 'symlink' ? Buffer.byteLength(e.linkname) : 0), 0);
        assert.ok(carried > 0);
        assert.equal(await snap.changedSize(), carried, 'changedSize counts what diff() carries, from metadata alone');
      } finally {
        await snap.remove();
      }
    });

    const linkChanges: [string, (r: (p: string) => string) => void, [string, string, string][]][] = [
      ['writing to one name', (r) => appendFileSync(r('hl/b'), '+more'), [['hl/', 'dir', ''], ['hl/b', 'file', '']]],
      ['chmod of one name', (r) => chmodSync(r('hl/a'), 0o600), [['hl/', 'dir', ''], ['hl/a', 'file', '']]],
      ['a new link to one name', (r) => linkSync(r('hl/a'), r('hl/c')), [['hl/', 'dir', ''], ['hl/a', 'file', ''], ['hl/c', 'hardlink', 'hl/a']]],
      ['removing one name', (r) => unlinkSync(r('hl/b')), [['hl/', 'dir', ''], ['hl/.wh.b', 'file', '']]],
    ];
    for (const [i, [what, change, expected]] of linkChanges.entries()) {
      it(`a hard link of a lower layer, then ${what}: only the name touched is in the diff (overlayfs copy-up)`, async (s) => {
        const snap = await s.prepare(`hl-${i}`, layers);
        try {
          const r = (p: string) => join(snap.rootfs, p);
          change(r);
          const tar = await collect(snap.diff());
          const list = await listTar(tar);
          assert.deepEqual(list.map((e) => [e.name, e.type, e.linkname]), expected);
          const t = readTree(snap.rootfs);
          const untouched = what === 'writing to one name' || what === 'removing one name' ? 'hl/a' : 'hl/b';
          assert.deepEqual([t.get(untouched)!.content, t.get(untouched)!.mode], ['shared', 0o644], 'the other name keeps its content and mode');
          if (what === 'writing to one name') assert.equal(list[1]!.content, 'shared+more');
          if (what === 'chmod of one name') assert.equal(list[1]!.mode, 0o600);
          const merged = await mergedShape([...layers.map((l) => l.tar), tar]);
          assert.deepEqual(diskShape(snap.rootfs, merged), merged);
        } finally {
          await snap.remove();
        }
      });
    }

    it('an image with no layers gives an empty writable rootfs', async (s) => {
      const snap = await s.prepare('empty', []);
      try {
        assert.deepEqual(readdirSync(snap.rootfs), []);
        writeFileSync(join(snap.rootfs, 'hello'), 'hi');
        assert.deepEqual((await listTar(await collect(snap.diff()))).map((e) => [e.name, e.content]), [['hello', 'hi']]);
      } finally {
        await snap.remove();
      }
    });

    it('a stack of 150 layers mounts (short lowerdir paths)', async (s) => {
      const many: LayerRef[] = [];
      for (let i = 0; i < 150; i++) many.push(await layerRef([file(`f${String(i).padStart(3, '0')}`, String(i))]));
      const snap = await s.prepare('many', many);
      try {
        const names = readdirSync(snap.rootfs);
        assert.equal(names.length, 150);
        assert.equal(readFileSync(join(snap.rootfs, 'f149'), 'utf8'), '149');
      } finally {
        await snap.remove();
      }
    });

    it('remove() leaves no mounts and no snapshot directory; a key in use is ALREADY_EXISTS', async (s) => {
      const snap = await s.prepare('gone', layers);
      await rejectsWithCode(() => s.prepare('gone', layers), 'ALREADY_EXISTS');
      await snap.remove();
      await snap.remove();
      assert.deepEqual(mountsBelow(root), []);
      assert.deepEqual(readdirSync(join(root, 'active')), []);
      if (k.kind === 'overlayfs') {
        assert.deepEqual(readdirSync(join(root, 'layers')).filter((n) => n.startsWith('.')), [], 'no scratch unpacks left');
        for (const l of layers) assert.ok(existsSync(join(root, 'layers', digestHex(l.diffId))), 'cached layers stay');
      }
      await rejectsWithCode(() => s.prepare('../escape', []), 'INVALID_ARGUMENT');
    });

    it('keep() ends a snapshot keeping its changes: stacked again they show, their tar is the diff, adopted they serve the stored layer', async (s) => {
      const snap = await s.prepare('keep', layers);
      makeChanges(snap.rootfs);
      const tar = await collect(snap.diff());
      if (!snap.keep) {
        assert.equal(k.kind, 'copy', 'only the copy snapshotter cannot keep');
        return snap.remove();
      }
      const name = await snap.keep();
      assert.deepEqual(mountsBelow(root), []);
      assert.deepEqual(readdirSync(join(root, 'active')), [], 'the snapshot is gone, its changes kept');
      const kept = new KeptLayers(root);
      assert.ok(tar.equals(await collect(diffDirectory(kept.pathOf(name)))), 'the kept tar is the diff taken before keep');
      assert.equal(await kept.contentSize(name), (await summarizeLayer((async function* () { yield tar; })(), 'kept')).contentSize);
      const merged = await mergedShape([...layers.map((l) => l.tar), tar]);
      const over = await s.prepare('over-kept', [...layers, { kept: name }]);
      try {
        assert.deepEqual(diskShape(over.rootfs, merged), merged, 'stacked again, the kept changes show as their layer would');
      } finally {
        await over.remove();
      }
      // adopted, the stored layer with that tar stacks from the kept directory: its tar is never opened
      const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}` as const;
      await kept.adopt(name, diffId);
      const unopened: StoredLayerRef = { diffId, open: () => { throw new Error('an adopted layer must not be unpacked'); } };
      const adopted = await s.prepare('over-adopted', [...layers, unopened]);
      try {
        assert.deepEqual(diskShape(adopted.rootfs, merged), merged);
      } finally {
        await adopted.remove();
      }
      // removeUnadopted takes the kept layers no stored layer adopted, and only those
      const other = await s.prepare('other', layers);
      writeFileSync(join(other.rootfs, 'other'), 'x');
      const unadopted = await other.keep!();
      assert.deepEqual(await kept.unadopted(), [unadopted]);
      assert.equal(await kept.contentSize(unadopted), 1);
      assert.equal(await kept.removeUnadopted(), 1);
      assert.deepEqual([await kept.has(name), await kept.has(unadopted)], [true, false]);
      await rejectsWithCode(() => s.prepare('over-gone', [...layers, { kept: unadopted }]), 'NOT_FOUND');
      assert.deepEqual(readdirSync(join(root, 'active')), []);
    });

    it('a layer whose tar does not match its diffId is DIGEST_MISMATCH and leaves nothing behind', async (s) => {
      const good = await layerRef([file('a', 'a')]);
      const bad: LayerRef = { diffId: (await layerRef([file('a', 'b')])).diffId, open: good.open };
      await rejectsWithCode(() => s.prepare('bad', [layers[0]!, bad]), 'DIGEST_MISMATCH');
      assert.equal(existsSync(join(root, 'active', 'bad')), false);
      assert.deepEqual(readdirSync(join(root, 'active')).filter((n) => n.startsWith('.new-')), []);
      assert.equal(existsSync(join(root, 'layers', digestHex(bad.diffId))), false);
      assert.deepEqual(mountsBelow(root), []);
    });

    it('a hostile layer is UNSAFE_PATH and writes nothing outside', async (s) => {
      const outside = mkdtempSync(join(tmpdir(), 'shale-sentinel-'));
      try {
        writeFileSync(join(outside, 'keep'), 'original');
        const evil = await layerRef([symlink('esc', outside), file('esc/pwned', 'x')]);
        await rejectsWithCode(() => s.prepare('evil', [evil]), 'UNSAFE_PATH');
        assert.deepEqual(readdirSync(outside), ['keep']);
        assert.equal(readFileSync(join(outside, 'keep'), 'utf8'), 'original');
        assert.equal(existsSync(join(root, 'active', 'evil')), false);
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });

    it('cleanupStale unmounts and removes what a killed process left, and keeps live snapshots', async (s) => {
      const dead = spawnSync('true').pid!;
      const stale = await s.prepare('stale', layers);
      const alive = await s.prepare('alive', layers);
      try {
        const ownerFile = join(root, 'active', 'stale', 'owner.json');
        const owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as { pid: number; startTicks: number };
        writeFileSync(ownerFile, JSON.stringify({ ...owner, pid: dead }));
        mkdirSync(join(root, 'active', `.new-half-${dead}-0123abcd`));
        mkdirSync(join(root, 'layers', `.unpack-0123456789ab-${dead}-0123abcd`), { recursive: true });
        const removed = await cleanupStale(root);
        assert.deepEqual(removed.sort(), ['active/.new-half-' + dead + '-0123abcd', 'active/stale', `layers/.unpack-0123456789ab-${dead}-0123abcd`]);
        assert.equal(existsSync(stale.rootfs), false);
        assert.deepEqual(mountsBelow(join(root, 'active', 'stale')), []);
        assert.ok(lstatSync(join(alive.rootfs, 'etc/conf')).isFile(), 'a live snapshot is untouched');
        assert.deepEqual(await cleanupStale(root), []);
      } finally {
        await alive.remove();
      }
      assert.deepEqual(mountsBelow(root), []);
    });
  });
}

describe('chooseSnapshotter', () => {
  test('copy on request; auto and overlayfs mount when they can; auto falls back where overlayfs cannot be stacked', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'shale-choose-'));
    try {
      assert.equal((await chooseSnapshotter(root, 'copy')).kind, 'copy');
      const probe = await probeOverlay(root);
      if (!probe.ok) {
        assert.notEqual(process.env.CI, 'true', `overlayfs cannot be mounted: ${probe.reason}`);
        assert.equal((await chooseSnapshotter(root)).kind, 'copy');
        await rejectsWithCode(() => chooseSnapshotter(root, 'overlayfs'), 'UNSUPPORTED');
        return t.skip(`overlayfs cannot be mounted here: ${probe.reason}`);
      }
      assert.equal((await chooseSnapshotter(root)).kind, 'overlayfs');
      assert.equal((await chooseSnapshotter(root, 'overlayfs')).kind, 'overlayfs');
      assert.deepEqual(mountsBelow(root), [], 'the probe unmounted');
      // a snapshot no crash should keep is mounted volatile (no sync at unmount) where the kernel has it; a persistent one not
      const chosen = await chooseSnapshotter(root);
      const volatileOf = async (persistent: boolean) => {
        const snap = await chosen.prepare(persistent ? 'kept-on' : 'scratch', [], { persistent });
        try {
          const mount = (await readMounts()).find((m) => m.mountPoint === snap.rootfs);
          // newer kernels show it as fsync=volatile
          return mount?.superOptions.split(',').some((o) => o === 'volatile' || o === 'fsync=volatile');
        } finally {
          await snap.remove();
        }
      };
      const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim().split('.').map(Number);
      const hasVolatile = kernel[0]! > 5 || (kernel[0] === 5 && kernel[1]! >= 10);
      assert.deepEqual(await Promise.all([volatileOf(false), volatileOf(true)]), [hasVolatile, false]);
      // A store inside an overlay mount cannot hold an upperdir: auto picks copy, overlayfs is UNSUPPORTED.
      const outer = await new OverlaySnapshotter(join(root, 'outer')).prepare('o', []);
      try {
        const inner = join(outer.rootfs, 'store');
        mkdirSync(inner);
        assert.equal((await chooseSnapshotter(inner)).kind, 'copy');
        await rejectsWithCode(() => chooseSnapshotter(inner, 'overlayfs'), 'UNSUPPORTED');
      } finally {
        await outer.remove();
      }
      assert.deepEqual(mountsBelow(root), []);
    } finally {
      await unmountUnder(root).catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
