/**
 * `shale analyze --format html`: one self-contained page (nothing fetched from the network), rendered by
 * headless Chromium both as a screenshot and as the DOM after its script ran, on a small image with waste:
 * a busybox base, a 2 MB file, a layer deleting it, and a layer adding and changing a few files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { appendLayer, oneFileLayer, tarBytes } from './support/append-layer.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { shale, shaleJson, shaleOk, tempDir, tempStore } from './support/shale.js';
import { requireTool } from './support/tools.js';
import { makeHeader } from '../src/layer/index.js';
import type { Analysis } from '../src/analyze/index.js';

const BIG = 2_000_000;

/** Runs headless Chromium on `url` with its own profile directory; returns stdout. */
function chromium(work: string, name: string, args: string[], url: string): string {
  const profile = join(work, `profile-${name}`);
  mkdirSync(profile);
  const r = spawnSync(
    'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', `--user-data-dir=${profile}`, ...args, url],
    { encoding: 'utf8', timeout: 90_000, maxBuffer: 256 << 20 },
  );
  assert.ifError(r.error);
  assert.equal(r.status, 0, `chromium ${args.join(' ')} exited ${r.status} (signal ${r.signal})\n${r.stderr}`);
  return r.stdout;
}

/** Takes a 1280x2000 screenshot of `url`; returns the PNG bytes after checking signature and size. */
function screenshot(work: string, name: string, url: string): Buffer {
  const out = join(work, `${name}.png`);
  chromium(work, name, [`--screenshot=${out}`, '--window-size=1280,2000', '--hide-scrollbars'], url);
  assert.ok(existsSync(out), `chromium wrote ${out}`);
  const png = readFileSync(out);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  assert.deepEqual({ width: png.readUInt32BE(16), height: png.readUInt32BE(20) }, { width: 1280, height: 2000 });
  return png;
}

/** The text of an HTML fragment: tags dropped, the references the serializer writes decoded, spaces collapsed. */
const textOf = (html: string): string =>
  html
    .replace(/<[^>]*>/g, '')
    .replace(/&(?:#(\d+)|lt|gt|quot|amp|nbsp);/g, (m, n: string | undefined) =>
      n ? String.fromCharCode(Number(n)) : ({ '&lt;': '<', '&gt;': '>', '&quot;': '"', '&amp;': '&', '&nbsp;': ' ' } as Record<string, string>)[m]!,
    )
    .replace(/\s+/g, ' ');

/** The texts of a table row's cells. */
const cells = (row: string): string[] => [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => textOf(m[1]!).trim());

/** The outer HTML of the first element opening with `open` (no nesting of the same tag inside). */
function element(dom: string, open: RegExp, tag: string): string {
  const m = open.exec(dom);
  assert.ok(m, `the DOM has ${open}`);
  const end = dom.indexOf(`</${tag}>`, m.index);
  assert.ok(end > m.index, `${open} is closed`);
  return dom.slice(m.index, end + tag.length + 3);
}

test('analyze --format html writes one self-contained page that Chromium renders with every layer, item and file', { timeout: 300_000 }, async (t) => {
  if (!requireTool(t, 'chromium')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  shaleOk(['import', tarDir(makeBusyboxRootfs(join(work, 'rootfs')), join(work, 'rootfs.tar')), 'page:base'], { root });
  await appendLayer(root, 'page:base', 'page:big', await oneFileLayer('data/big.bin', randomBytes(BIG)), '/bin/sh -c dd if=/dev/urandom of=/data/big.bin bs=1000 count=2000');
  await appendLayer(
    root,
    'page:big',
    'page:rm',
    await tarBytes([{ header: makeHeader({ name: 'data/.wh.big.bin', type: 'file', size: 0 }), body: Buffer.alloc(0) }]),
    '/bin/sh -c rm /data/big.bin',
  );
  const files: [string, Buffer][] = [
    ['app/main.js', Buffer.from('console.log("hello");\n')],
    ['app/lib/util.js', Buffer.alloc(3000, 'u')],
    ['etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n')],
  ];
  await appendLayer(
    root,
    'page:rm',
    'page:app',
    await tarBytes(files.map(([name, data]) => ({ header: makeHeader({ name, type: 'file', size: data.length }), body: data }))),
    '/bin/sh -c #(nop) COPY dir:0123abcd in /',
  );

  const analysis = shaleJson<Analysis>(['analyze', 'page:app', '--base-layers', '1'], { root, cwd: work });
  assert.equal(analysis.layers.length, 4);
  assert.equal(analysis.baseLayers, 1, 'the intermediate images would make a longer base: --base-layers sets it');
  const item = analysis.waste.items.find((i) => i.path === '/data/big.bin');
  assert.ok(item, `the deleted file is a hidden item: ${JSON.stringify(analysis.waste.items)}`);
  assert.equal(item.bytes, BIG);

  const report = join(work, 'report.html');
  const r = shale(['analyze', 'page:app', '--base-layers', '1', '--format', 'html', '-o', report, '--ci'], { root, cwd: work });
  assert.equal(r.status, 1, `the CI rules fail on 2 MB of waste (exit 1)\n${r.stderr}`);
  assert.equal(r.stdout, '', 'with -o the page goes to the file only');
  const html = readFileSync(report, 'utf8');

  // (a) self-contained: nothing to fetch
  assert.match(html, /^<!doctype html>/i);
  assert.doesNotMatch(html, /https?:\/\//i, 'no http(s) URL anywhere in the page');
  assert.doesNotMatch(html, /<script[^>]*\ssrc\s*=/i, 'no external script');
  assert.doesNotMatch(html, /<link\b/i, 'no linked stylesheet or font');
  assert.doesNotMatch(html, /url\(\s*['"]?(?!data:)/i, 'no url() but data:');
  assert.doesNotMatch(html, /@import|@font-face/i);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);

  // (b) it renders: a screenshot far richer than a blank page's
  const url = pathToFileURL(report).href;
  const shot = screenshot(work, 'report', url);
  const blankPage = join(work, 'blank.html');
  writeFileSync(blankPage, '<!doctype html><html><body></body></html>');
  const blank = screenshot(work, 'blank', pathToFileURL(blankPage).href);
  assert.ok(shot.length > blank.length * 5, `the report's screenshot (${shot.length} bytes) has far more in it than a blank page's (${blank.length})`);

  // (c) the DOM after the script ran
  const dom = chromium(work, 'dom', ['--dump-dom'], url);
  assert.match(dom, /<html[^>]*\sdata-js="ready"/, 'the inline script ran (its CSP hash matches)');
  assert.match(dom, /<html[^>]*\sdata-style="ready"/, 'the inline style applied (its CSP hash matches)');
  assert.match(textOf(element(dom, /<header id="summary"/, 'header')), /page:app.*Total size/);

  const table = element(dom, /<table id="layers"/, 'table');
  assert.deepEqual([...table.matchAll(/<tr data-layer="(\d+)"/g)].map((m) => Number(m[1])), [0, 1, 2, 3], 'one row per layer');
  const rows = table.split(/<tr data-layer="/).slice(1).map(cells);
  const [index, size, , added, changed, removed, hidden, step] = rows[1]!;
  assert.deepEqual({ index, size, added, changed, removed, hidden }, { index: '1', size: '2MB', added: '1', changed: '0', removed: '0', hidden: '2MB' }, 'layer 1: 2MB, all of it hidden later');
  assert.equal(step, 'RUN dd if=/dev/urandom of=/data/big.bin bs=1000 count=2000', 'the step label of layer 1');
  assert.deepEqual(rows[2]!.slice(3, 6), ['0', '0', '1'], 'layer 2 removes one file');
  assert.deepEqual(rows[3]!.slice(3, 6), ['2', '1', '0'], 'layer 3 adds two files and changes one');
  assert.equal(rows[3]![7], 'COPY dir:0123abcd in /');

  const svg = element(dom, /<svg id="chart-svg"/, 'svg');
  assert.deepEqual([...svg.matchAll(/<g class="bar[^"]*" data-layer="(\d+)"/g)].map((m) => Number(m[1])), [0, 1, 2, 3], 'one bar group per layer');
  const bar1 = svg.split(/<g class="bar/)[2]!;
  assert.match(bar1, new RegExp(`<rect class="hidden"[^>]*data-bytes="${BIG}"`), 'layer 1 bar shows its bytes as hidden');
  assert.match(textOf(bar1), /2MB hidden later/);

  const items = element(dom, /<section id="hidden-items"/, 'section');
  const itemRows = items.split(/<tr class="item"/).slice(1).map(cells);
  assert.equal(itemRows.length, analysis.waste.items.length);
  const [path, bytes, kind, madeBy, hiddenBy, fix] = itemRows[0]!;
  assert.deepEqual({ path, bytes, kind }, { path: '/data/big.bin', bytes: '2MB', kind: 'deleted' }, 'the hidden item, its size and kind');
  assert.equal(madeBy, 'layer 1 RUN dd if=/dev/urandom of=/data/big.bin bs=1000 count=2000');
  assert.equal(hiddenBy, 'layer 2 RUN rm /data/big.bin');
  assert.equal(fix, item.fix.replace(/`/g, ''), 'the fix');

  const ci = element(dom, /<section id="ci"/, 'section');
  assert.match(ci, /data-pass="false"/);
  assert.match(textOf(ci), /CI verdict: FAIL/);

  const tree = element(dom, /<div id="file-tree"/, 'section'); // the tree's div ends its section
  assert.match(dom, /<div class="tree-controls" id="tree-controls">/, 'the script showed the filter box');
  const layerTrees = new Map(
    tree
      .split(/<details class="layer" data-layer="/)
      .slice(1)
      .map((s) => [Number(/^\d+/.exec(s)![0]), s] as const),
  );
  assert.deepEqual([...layerTrees.keys()], [0, 1, 2, 3], 'a tree for every layer');
  const entry = (change: string, path: string): RegExp =>
    new RegExp(`<li class="file[^"]*" data-change="${change}" data-path="${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`);
  assert.match(layerTrees.get(0)!, entry('A', '/bin/busybox'));
  assert.match(layerTrees.get(0)!, entry('A', '/etc/passwd'));
  assert.match(layerTrees.get(1)!, entry('A', '/data/big.bin'));
  assert.match(layerTrees.get(2)!, entry('D', '/data/big.bin'), 'the deleted file is marked D');
  assert.match(layerTrees.get(3)!, entry('A', '/app/main.js'));
  assert.match(layerTrees.get(3)!, entry('A', '/app/lib/util.js'));
  assert.match(layerTrees.get(3)!, entry('M', '/etc/passwd'), 'a file replacing a lower one is marked M');
  assert.doesNotMatch(tree, /<li class="file[^>]*\shidden/, 'the filter starts showing every entry');
});
