import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isShaleError, ShaleError } from '../internal/errors.js';
import { writeStreamAtomic } from '../internal/fs-atomic.js';
import type { ArchiveFormat, OpenedSource, SaveItem, Store } from '../store/index.js';
import { diskUsage, imageHistory, listImages } from '../store/usage.js';
import { removeImages, tagImage } from '../store/tags.js';
import { humanSize, renderTable, shortId, timeAgo } from '../report/format.js';
import type { CommandResult } from './output.js';
import { compilePathPattern, matchesReferencePattern } from './reference-pattern.js';

// What only some of these commands use is loaded by them (start-up: `images` must not load the registry
// client, the layer writers or the runtime).
const load = {
  sources: () => import('../store/sources.js'),
  registry: () => import('./registry-commands.js'),
  layers: () => import('../layer/index.js'),
  runtime: () => import('../runtime/index.js'),
  buildCache: () => import('../build/cache-mount-store.js'),
  importer: () => import('../store/import.js'),
  loader: () => import('../store/load.js'),
  saver: () => import('../store/save.js'),
  buildLines: () => import('../store/build-lines.js'),
  gc: () => import('../store/gc.js'),
};

/** Opens a SOURCE, runs `fn` on its image, and always releases what the source staged. */
async function withSource<T>(store: Store, spec: string, fn: (s: OpenedSource) => Promise<T>): Promise<T> {
  const source = await (await load.sources()).openSource(store, spec, { registry: (await load.registry()).registrySource });
  try {
    return await fn(source);
  } finally {
    await source.close();
  }
}

export async function importCommand(store: Store, tarball: string, ref: string | undefined): Promise<CommandResult> {
  if (tarball !== '-' && !(await stat(tarball).then((s) => s.isFile(), () => false))) {
    throw new ShaleError('NOT_FOUND', `tarball ${tarball} does not exist or is not a file`);
  }
  const source = tarball === '-' ? process.stdin : createReadStream(tarball, { highWaterMark: 1 << 20 });
  const { importRootfs } = await load.importer();
  const r = await importRootfs(store, source, ref, tarball === '-' ? 'stdin' : `tarball ${tarball}`);
  return { data: r, text: r.id };
}

export async function loadCommand(store: Store, input: string): Promise<CommandResult> {
  const { loadArchive, loadArchiveStream } = await load.loader();
  const loaded = input === '-' ? await loadArchiveStream(store, process.stdin, 'archive on stdin') : await loadArchive(store, input);
  return {
    data: loaded,
    text: loaded.map((l) => (l.ref ? `Loaded image: ${l.ref}` : `Loaded image ID: ${l.id}`)).join('\n'),
  };
}

export async function saveCommand(store: Store, refs: string[], format: ArchiveFormat, output: string, flags: { compression?: string; compressionLevel?: string } = {}): Promise<CommandResult> {
  // none by default, as docker save writes layers
  const compression = (await load.layers()).parseCompression(flags.compression ?? 'none', flags.compressionLevel, { flag: '--compression', levelFlag: '--compression-level' });
  const items: SaveItem[] = [];
  for (const raw of refs) {
    const { entry, image } = await store.resolve(raw);
    // an archive names images by tag: an ID or a REPOSITORY@DIGEST name gives none
    items.push({ ref: /^(sha256:)?[a-f0-9]{12,64}$/.test(raw) || entry.ref?.includes('@') ? undefined : entry.ref, image });
  }
  const { saveArchive } = await load.saver();
  await writeStreamAtomic(output, saveArchive(store, items, format, { compression }));
  return { data: { output, images: items.map((i) => ({ ref: i.ref ?? null, id: i.image.id })) } };
}

/** `export REF|CONTAINER`: a container by that name or ID comes first (as `docker export` takes containers), else an image SOURCE. */
export async function exportCommand(store: Store, spec: string, output: string): Promise<CommandResult> {
  const containers = new (await load.runtime()).Containers(store);
  const container = await containers.records.find(spec).catch((e: unknown) => {
    if (isShaleError(e, 'NOT_FOUND')) return undefined;
    throw e;
  });
  if (container) {
    await writeStreamAtomic(output, containers.exportTree(container.id));
    return { data: { output, container: container.id } };
  }
  return withSource(store, spec, async ({ image }) => {
    await writeStreamAtomic(output, (await load.layers()).exportMergedTar(image.layers));
    return { data: { output, id: image.id } };
  });
}

/** `shale images [REPOSITORY[:TAG]] [--digests]`: every image, or those the pattern matches (as `docker images`
 * filters); the JSON rows always carry `digest`, `--digests` adds its column, as Docker's. */
export async function imagesCommand(store: Store, reference?: string, options: { digests?: boolean } = {}): Promise<CommandResult> {
  const pattern = reference === undefined ? undefined : compilePathPattern(reference);
  const rows = (await listImages(store)).filter((r) => pattern === undefined || matchesReferencePattern(pattern, r));
  const digestColumn = options.digests ? ['DIGEST'] : [];
  const text = renderTable(
    ['REPOSITORY', 'TAG', ...digestColumn, 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'COMPRESSED'],
    rows.map((r) => [r.repository, r.tag, ...(options.digests ? [r.digest] : []), shortId(r.id), timeAgo(r.created), humanSize(r.size), humanSize(r.sharedSize), humanSize(r.uniqueSize), r.compressedSize === null ? '-' : humanSize(r.compressedSize)]),
  );
  return { data: rows, text };
}

export async function dfCommand(store: Store, verbose: boolean): Promise<CommandResult> {
  const du = await diskUsage(store);
  const containers = new (await load.runtime()).Containers(store);
  const records = await containers.records.list();
  du.containers = { count: records.length, size: 0 };
  for (const r of records) du.containers.size += await containers.size(r);
  const buildCache = await (await load.buildCache()).cacheMountUsage(store.root);
  Object.assign(du, { buildCache });
  let text = renderTable(
    ['TYPE', 'TOTAL', 'SIZE (sum of images)', 'ACTUAL (distinct layers)', 'RECLAIMABLE', 'COMPRESSED'],
    [
      ['Images', String(du.images.count), humanSize(du.images.virtualSize), humanSize(du.images.actualSize), humanSize(du.images.reclaimable), du.images.compressedSize === null ? '-' : humanSize(du.images.compressedSize)],
      ['Layers', `${du.layers.count} (${du.layers.sharedCount} shared)`, '', '', '', ''],
      ['Containers', String(du.containers.count), humanSize(du.containers.size), humanSize(du.containers.size), '0B', ''],
      ['Build cache', String(buildCache.caches.length + buildCache.snapshots.count), humanSize(buildCache.size), humanSize(buildCache.size), humanSize(buildCache.size), ''],
    ],
  );
  text += `\nOn disk: ${humanSize(du.disk.total)} (blobs, records and temp files of the store)\n`;
  if (verbose) text += `\n${(await imagesCommand(store)).text}`;
  return { data: verbose ? { ...du, imageRows: await listImages(store) } : du, text };
}

export async function historyCommand(store: Store, spec: string): Promise<CommandResult> {
  return withSource(store, spec, async ({ image, store: holder, contentSize }) => {
    const { readBuildLines } = await load.buildLines();
    const lines = (holder && (await readBuildLines(holder, image.id))) ?? [];
    const rows = await imageHistory(image, contentSize, lines);
    const text = renderTable(
      ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT', 'LINE'],
      rows.map((r) => [
        r.id === '<missing>' ? r.id : shortId(r.id),
        timeAgo(r.created),
        r.createdBy.length > 45 ? `${r.createdBy.slice(0, 44)}…` : r.createdBy,
        humanSize(r.size),
        r.comment,
        r.line ?? '',
      ]),
    );
    return { data: rows, text };
  });
}

export async function inspectCommand(store: Store, spec: string): Promise<CommandResult> {
  return withSource(store, spec, async ({ image, refs }) => {
    const data = { id: image.id, repoTags: refs, manifestDigest: image.manifestDigest, manifest: image.manifest, config: image.config };
    return { data, text: JSON.stringify(data, null, 2) };
  });
}

export async function tagCommand(store: Store, src: string, dst: string): Promise<CommandResult> {
  return { data: await tagImage(store, src, dst) };
}

export async function rmiCommand(store: Store, refs: string[], force: boolean): Promise<CommandResult> {
  const containers = new (await load.runtime()).Containers(store);
  await containers.reconcile();
  const users = (await containers.records.list()).map((c) => ({ containerId: c.id, manifestDigest: c.manifestDigest, running: containers.records.status(c) === 'running' }));
  const r = await removeImages(store, refs, { force, users });
  return { data: r, text: [...r.untagged.map((u) => `Untagged: ${u}`), ...r.deleted.map((d) => `Deleted: ${d}`)].join('\n') };
}

/** `shale prune`: stopped containers and their writable layers, dangling images, then unreferenced blobs. */
export async function pruneCommand(store: Store, options: { buildCache?: boolean } = {}): Promise<CommandResult> {
  const buildCache = options.buildCache ? await (await load.buildCache()).pruneBuildCache(store.root) : undefined;
  const containers = new (await load.runtime()).Containers(store);
  const deletedContainers: string[] = [];
  for (const c of await containers.records.list()) {
    if (containers.records.status(c) !== 'running') deletedContainers.push(await containers.remove(c.id));
  }
  const { prune } = await load.gc();
  const r = { deletedContainers, ...(await prune(store)), ...(buildCache ? { buildCache } : {}) };
  const lines = [
    ...(buildCache?.caches ?? []).map((c) => `deleted cache mount: ${c.id}`),
    ...(buildCache ? [`deleted cached steps: ${buildCache.steps}`, `deleted step snapshots: ${buildCache.snapshots.count}`] : []),
    ...deletedContainers.map((d) => `deleted container: ${d}`),
    ...r.deletedImages.map((d) => `deleted image: ${d}`),
    ...r.deletedBlobs.map((d) => `deleted blob: ${d}`),
  ];
  lines.push(`Total reclaimed space: ${humanSize(r.reclaimedBytes + (buildCache?.size ?? 0))}`);
  return { data: r, text: lines.join('\n') };
}

export async function fsckCommand(store: Store): Promise<CommandResult> {
  const r = await (await load.gc()).fsck(store);
  const text = r.ok ? `ok: ${r.blobs} blobs, ${r.images} index entries` : r.problems.map((p) => `problem: ${p}`).join('\n');
  return { data: r, text, exitCode: r.ok ? 0 : 1 };
}
