import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import type { Descriptor, Digest, History } from '../oci/index.js';

/**
 * What a cached step produced: its history entry and its layer (none for a step that changed no file,
 * classic): a stored blob, or the snapshot it was kept as (`kept`, see KeptLayers) until an image needs its tar.
 */
export interface CachedStep {
  layer?: { descriptor: Descriptor; diffId: Digest };
  kept?: string;
  history: History;
}

/**
 * The build cache: a step is reused when the chain of steps before it, its instruction (after expansion,
 * with the build args in effect) and, for COPY/ADD, the digest of its sources are the same.
 */
export class BuildCache {
  constructor(private readonly dir: string) {}

  /** The key of a step: parent key + everything that decides its result. */
  static key(parentKey: string, ...parts: string[]): string {
    const h = createHash('sha256').update(parentKey);
    for (const p of parts) h.update('\0').update(p);
    return h.digest('hex');
  }

  async get(key: string): Promise<CachedStep | undefined> {
    try {
      return JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8')) as CachedStep;
    } catch {
      return undefined;
    }
  }

  /**
   * Not fsynced: a record lost in a crash is only a cache miss, and an fsync here would wait for the
   * step's own writes to reach the disk (ext4 commits them with its journal).
   */
  async put(key: string, step: CachedStep): Promise<void> {
    await writeFileAtomic(join(this.dir, `${key}.json`), JSON.stringify(step), 0o644, { durable: false });
  }
}
