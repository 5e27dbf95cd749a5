import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { buildImage, type BuildListener } from '../build/index.js';
import type { BuildArgValues } from '../dockerfile/index.js';
import { ShaleError } from '../internal/errors.js';
import type { Store } from '../store/index.js';
import { rewriteDockerfile, type SlimChange } from './slim-rewrite.js';
import { compareBuilds, type Equivalence } from './verify-equivalence.js';

export interface SlimOptions {
  contextDir: string;
  /** The Dockerfile; `<context>/Dockerfile` when absent. */
  dockerfile?: string;
  /** Write the rewritten Dockerfile here. */
  output?: string;
  /** Build both and compare. */
  verify?: boolean;
  /** Tags for the rewritten image (with `verify`). */
  tags?: string[];
  /** Apply the changes that can change behaviour too. */
  risky?: boolean;
  /** Apply the proposed `RUN --mount=type=cache` mounts for package-manager caches. */
  cacheMounts?: boolean;
  buildArgs?: BuildArgValues;
  onEvent?: BuildListener;
}

export interface SlimReport {
  dockerfile: string;
  changes: SlimChange[];
  /** A unified diff from the original to the rewrite. */
  diff: string;
  rewritten: string;
  before?: { id: string; sizeBytes: number; layers: number };
  after?: { id: string; sizeBytes: number; layers: number };
  savedBytes?: number;
  equivalent?: boolean;
  verification?: Equivalence;
}

async function imageSize(store: Store, id: string): Promise<{ id: string; sizeBytes: number; layers: number }> {
  const { image } = await store.resolve(id);
  let sizeBytes = 0;
  for (const l of image.layers) sizeBytes += (await store.layerInfo(l.descriptor.digest)).contentSize;
  return { id, sizeBytes, layers: image.layers.length };
}

/**
 * Rewrites a Dockerfile for size; with `verify`, builds the original and the rewrite with shale's
 * builder and checks that they give the same image but for the caches the rewrite drops.
 */
export async function slimDockerfile(store: Store, options: SlimOptions): Promise<SlimReport> {
  const dockerfile = options.dockerfile ?? join(options.contextDir, 'Dockerfile');
  const source = await readFile(dockerfile, 'utf8').catch(() => {
    throw new ShaleError('NOT_FOUND', `Dockerfile ${dockerfile} not found`);
  });
  const { text, changes } = rewriteDockerfile(source, { file: dockerfile, contextDir: options.contextDir, risky: options.risky, cacheMounts: options.cacheMounts });
  const diff = createTwoFilesPatch(dockerfile, options.output ?? `${dockerfile} (slim)`, source, text, undefined, undefined, { context: 3 });
  const report: SlimReport = { dockerfile, changes, diff, rewritten: text };
  if (options.output) await writeFile(options.output, text);
  if (!options.verify) return report;

  const original = await buildImage(store, { contextDir: options.contextDir, dockerfile, buildArgs: options.buildArgs, onEvent: options.onEvent });
  // the rewrite is built from a file in the store's scratch space, next to nothing the user owns
  const scratch = await store.newScratchDir('slim-');
  try {
    const rewrittenFile = join(scratch, 'Dockerfile');
    await writeFile(rewrittenFile, text);
    const slimmed = await buildImage(store, { contextDir: options.contextDir, dockerfile: rewrittenFile, tags: options.tags, buildArgs: options.buildArgs, onEvent: options.onEvent });
    const verification = await compareBuilds((await store.resolve(original.id)).image, (await store.resolve(slimmed.id)).image, changes.flatMap((c) => (c.applied ? (c.cacheTargets ?? []) : [])));
    report.before = await imageSize(store, original.id);
    report.after = await imageSize(store, slimmed.id);
    report.savedBytes = report.before.sizeBytes - report.after.sizeBytes;
    report.equivalent = verification.equivalent;
    report.verification = verification;
    return report;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
