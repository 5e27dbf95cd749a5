import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import type { Digest } from '../oci/index.js';
import type { Store } from './store.js';

/**
 * The Dockerfile line (`Dockerfile:7`) each history entry of a built image came from, kept in the store
 * beside the image rather than in it (the image's history stays as Docker writes it). Indexed like the
 * config's history; null for entries that came from the base image or an ONBUILD trigger.
 */
export type BuildLines = (string | null)[];

const linesPath = (store: Store, id: Digest): string => join(store.root, 'shale', 'build-lines', `${id.slice('sha256:'.length)}.json`);

/** Records the lines of image `id` (a rebuild of the same image writes the same file). */
export async function writeBuildLines(store: Store, id: Digest, lines: BuildLines): Promise<void> {
  const text = JSON.stringify(lines);
  // a rebuild of the same image usually records the same lines: nothing to write
  if ((await readFile(linesPath(store, id), 'utf8').catch(() => undefined)) === text) return;
  await writeFileAtomic(linesPath(store, id), text);
}

/** The lines recorded for image `id`, or undefined when shale did not build it here. */
export async function readBuildLines(store: Store, id: Digest): Promise<BuildLines | undefined> {
  try {
    const lines: unknown = JSON.parse(await readFile(linesPath(store, id), 'utf8'));
    return Array.isArray(lines) && lines.every((l) => l === null || typeof l === 'string') ? (lines as BuildLines) : undefined;
  } catch {
    return undefined;
  }
}

/** Forgets the lines of image `id` (its config blob is gone). */
export async function removeBuildLines(store: Store, id: Digest): Promise<void> {
  await rm(linesPath(store, id), { force: true });
}
