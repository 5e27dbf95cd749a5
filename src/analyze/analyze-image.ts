import type { Image } from '../image/index.js';
import { compareStrings } from '../internal/compare.js';
import type { Analysis, LayerReport, WasteItem } from './analysis.js';
import { sameContents } from './content-hashes.js';
import { DiveScorer } from './dive-metrics.js';
import { fixFor } from './fixes.js';
import { internPaths, PathTable } from './path-table.js';
import { LayerScanner } from './scan-pool.js';
import { StackAccountant, kindOf, needsContentCompare, type HiddenCopy } from './waste-accounting.js';

export interface AnalyzeOptions {
  /** How the image is named in the report. */
  name: string;
  /** How many bottom layers belong to the base image (0: none known). */
  baseLayers?: number;
  /** Keep each layer's entries (for the HTML file tree). */
  files?: boolean;
  /** The Dockerfile line of each history entry, when shale built the image (see readBuildLines). */
  lines?: readonly (string | null)[];
}

/** What history says made each layer: the non-empty entries, in order, with their Dockerfile lines. */
function layerSteps(image: Image, lines: readonly (string | null)[]): { createdBy: string; line?: string }[] {
  const steps = (image.config.history ?? []).map((h, i) => ({ h, line: lines[i] ?? undefined })).filter((s) => !s.h.empty_layer);
  return image.layers.map((_, i) => {
    const s = steps.length === image.layers.length ? steps[i] : undefined;
    return { createdBy: s?.h.created_by ?? '', line: s?.line };
  });
}

/**
 * Where an image's bytes go: each layer read once (headers, contents skipped where the blob allows),
 * layers in parallel; the hidden copies accounted once each, attributed to the steps that made and hid
 * them, with dive's metrics beside.
 */
export async function analyzeImage(image: Image, options: AnalyzeOptions): Promise<Analysis> {
  const scanner = new LayerScanner(image.layers);
  const paths = new PathTable();
  const accountant = new StackAccountant(paths, { files: options.files });
  const dive = new DiveScorer(paths);
  const layerBytes: number[] = [];
  try {
    // each layer is accounted as soon as it is read, while the workers read the next ones
    for (const pending of scanner.scans) {
      const scan = await pending;
      const ids = internPaths(paths, scan);
      accountant.add(scan, ids);
      dive.add(scan, ids);
      let bytes = 0;
      for (let i = 0; i < scan.count; i++) bytes += scan.contentBytes(i);
      layerBytes.push(bytes);
    }
    await scanner.verified; // nothing is reported from bytes whose digest does not hold
  } finally {
    await scanner.close();
  }
  const { copies, counts } = accountant;

  // Which replaced files kept their bytes: compare only those copies with their replacements.
  const compared = copies.filter(needsContentCompare);
  const same = await sameContents(compared.map((c) => [{ layer: image.layers[c.layer]!, entry: c.entry }, { layer: image.layers[c.hiddenBy]!, entry: c.replacement! }]));
  const sameCopies = new Set(compared.filter((_, i) => same[i]));
  const sameContent = (c: HiddenCopy): boolean => sameCopies.has(c);

  const steps = layerSteps(image, options.lines ?? []);
  const baseLayers = Math.min(options.baseLayers ?? 0, image.layers.length);
  const items = new Map<string, WasteItem>();
  const hiddenPerLayer = image.layers.map(() => 0);
  for (const c of copies) {
    if (c.entry.type === 'dir') continue;
    const kind = kindOf(c, sameContent(c));
    hiddenPerLayer[c.layer]! += c.bytes;
    const key = `${c.root}\0${c.layer}\0${c.hiddenBy}\0${kind}`;
    let item = items.get(key);
    if (!item) {
      const made = steps[c.layer]!;
      const hid = steps[c.hiddenBy]!;
      const base = c.hiddenBy < baseLayers;
      item = {
        path: `/${c.root}`,
        bytes: 0,
        files: 0,
        kind,
        layer: c.layer,
        hiddenByLayer: c.hiddenBy,
        createdBy: made.createdBy,
        hiddenBy: hid.createdBy,
        createdLine: made.line,
        hiddenLine: hid.line,
        base,
        fix: fixFor(kind, made.createdBy, hid.createdBy, c.root, { madeInBase: c.layer < baseLayers, hiddenInBase: base }),
      };
      items.set(key, item);
    }
    item.bytes += c.bytes;
    item.files++;
  }
  const wasteItems = [...items.values()]
    .filter((i) => i.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes || compareStrings(a.path, b.path) || a.layer - b.layer || a.hiddenByLayer - b.hiddenByLayer || compareStrings(a.kind, b.kind));
  const sum = (xs: WasteItem[]) => xs.reduce((n, i) => n + i.bytes, 0);

  const layers: LayerReport[] = image.layers.map((layer, i) => ({
    index: i,
    digest: layer.descriptor.digest,
    diffId: layer.diffId,
    mediaType: layer.descriptor.mediaType,
    compressedBytes: layer.descriptor.size,
    sizeBytes: layerBytes[i]!,
    createdBy: steps[i]!.createdBy,
    line: steps[i]!.line,
    base: i < baseLayers,
    added: counts[i]!.added,
    modified: counts[i]!.modified,
    removed: counts[i]!.removed,
    hiddenBytes: hiddenPerLayer[i]!,
    files: counts[i]!.files,
  }));
  return {
    image: options.name,
    id: image.id,
    sizeBytes: layers.reduce((n, l) => n + l.sizeBytes, 0),
    baseLayers,
    layers,
    dive: dive.metrics(),
    waste: {
      hiddenBytes: sum(wasteItems),
      baseHiddenBytes: sum(wasteItems.filter((i) => i.base)),
      userHiddenBytes: sum(wasteItems.filter((i) => !i.base)),
      items: wasteItems,
    },
  };
}
