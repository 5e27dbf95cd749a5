import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Analysis, LayerReport } from '../analyze/index.js';
import { renderAnalysisHtml } from './analysis-html.js';

const HOSTILE = '<img src=x onerror=alert(1)>';

const layer = (index: number, over: Partial<LayerReport> = {}): LayerReport => ({
  index,
  digest: `sha256:${String(index).repeat(64)}`,
  diffId: `sha256:${String(index + 1).repeat(64)}`,
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
  compressedBytes: 1000,
  sizeBytes: 2000,
  createdBy: '/bin/sh -c true',
  base: false,
  added: 1,
  modified: 0,
  removed: 0,
  hiddenBytes: 0,
  files: [],
  ...over,
});

const analysis: Analysis = {
  image: `evil:"${HOSTILE}"`,
  id: `sha256:${'a'.repeat(64)}`,
  sizeBytes: 5_002_000,
  baseLayers: 1,
  layers: [
    layer(0, { base: true, createdBy: '/bin/sh -c #(nop) ADD file:abc in / ', files: [{ path: 'bin/sh', type: 'file', size: 2000, change: 'A' }] }),
    layer(1, {
      sizeBytes: 5_000_000,
      hiddenBytes: 5_000_000,
      createdBy: `/bin/sh -c touch '${HOSTILE}'`,
      line: 'Dockerfile:3',
      files: [{ path: `tmp/${HOSTILE}`, type: 'file', size: 5_000_000, change: 'A' }],
    }),
    layer(2, {
      sizeBytes: 0,
      added: 0,
      removed: 1,
      createdBy: '/bin/sh -c rm -rf /tmp/*',
      files: [{ path: `tmp/${HOSTILE}`, type: 'file', size: 5_000_000, change: 'D' }],
    }),
  ],
  dive: { efficiency: 0.25, wastedBytes: 5_000_000, userWastedPercent: 1, sizeBytes: 5_002_000, userSizeBytes: 5_000_000, inefficientFiles: [], inefficientFileCount: 0 },
  waste: {
    hiddenBytes: 5_000_000,
    baseHiddenBytes: 0,
    userHiddenBytes: 5_000_000,
    items: [
      {
        path: `/tmp/${HOSTILE}`,
        bytes: 5_000_000,
        files: 1,
        kind: 'deleted',
        layer: 1,
        hiddenByLayer: 2,
        createdBy: `/bin/sh -c touch '${HOSTILE}'`,
        hiddenBy: '/bin/sh -c rm -rf /tmp/*',
        base: false,
        fix: 'delete it in the RUN that creates it: chain them (`RUN ... && rm ...`)',
      },
    ],
  },
  ci: { pass: false, rules: [{ name: 'highestWastedBytes', limit: '1MB', actual: 5_000_000, pass: false, status: 'FAIL', message: `too much <b>waste</b>` }] },
};

test('the HTML report escapes every string from the image', () => {
  const html = renderAnalysisHtml(analysis);
  assert.ok(!html.includes('<img'), 'no markup from a path, a command or the name reaches the page');
  assert.ok(!html.includes('<b>waste</b>'));
  assert.ok(html.includes('&#60;img src=x onerror=alert(1)&#62;'), 'the hostile path is shown as text');
  assert.ok(html.includes('data-path="/tmp/&#60;img src=x onerror=alert(1)&#62;"'), 'and escaped inside attributes');
  assert.ok(html.includes('evil:&#34;&#60;img'), 'quotes too');
  assert.equal((html.match(/<script>/g) ?? []).length, 1, 'the only script is the page’s own');
  assert.doesNotMatch(html, /https?:\/\//, 'nothing to fetch');
});

test('the HTML report shows every layer in the table, the chart and the file tree', () => {
  const html = renderAnalysisHtml(analysis);
  for (const i of [0, 1, 2]) {
    assert.match(html, new RegExp(`<tr data-layer="${i}"`), `table row ${i}`);
    assert.match(html, new RegExp(`<g class="bar[^"]*" data-layer="${i}"`), `chart bar ${i}`);
    assert.match(html, new RegExp(`<details class="layer" data-layer="${i}"`), `tree of layer ${i}`);
  }
  assert.match(html, /<rect class="hidden"[^>]*data-bytes="5000000"/);
  assert.match(html, /<li class="file change-D" data-change="D"/);
  assert.match(html, /<code>RUN \.\.\. &#38;&#38; rm \.\.\.<\/code>/, 'the fix with its code span');
  assert.match(html, /Dockerfile:3/);
  assert.match(html, /<section id="ci" data-pass="false">/);
  assert.match(html, /data-metric="efficiency"><div class="k">Efficiency<\/div><div class="v">25\.00 %/);
});

test('a path with control characters shows them as escapes', () => {
  const html = renderAnalysisHtml({ ...analysis, layers: [layer(0, { files: [{ path: 'a\u001b[31mb\nc', type: 'file', size: 1, change: 'A' }] })] });
  assert.ok(html.includes('a\\x1b[31mb\\x0ac'));
});
