import { compareStrings } from '../internal/compare.js';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError } from '../internal/errors.js';
import { writeFileAtomic } from '../internal/fs-atomic.js';
import { isProcessAlive } from '../internal/lock.js';
import type { SnapshotterKind } from '../snapshot/index.js';

/** What shale keeps of a container on disk, so containers outlive the shale command that made them. */
export interface ContainerRecord {
  id: string;
  name: string;
  /** The image as the user named it, and its ID. */
  image: string;
  imageId: string;
  manifestDigest: string;
  /** The process's argv, env, cwd, user as started. */
  args: string[];
  created: string;
  /** The snapshot holding the writable layer, and the snapshotter that made it (overlayfs when absent). */
  snapshotKey: string;
  snapshotter?: SnapshotterKind;
  detached: boolean;
  autoRemove: boolean;
  /** For a detached container: the supervising process. */
  pid?: number;
  exitCode?: number;
  finished?: string;
}

/** A small record file's text (read synchronously: cheaper than async for a few hundred bytes), or undefined. */
function readSmall(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export type ContainerStatus = 'created' | 'running' | 'exited';

/** The containers folder: one directory per container with record.json, its log and its exit code. */
export class ContainerRecords {
  constructor(readonly dir: string) {}

  pathOf(id: string, file = ''): string {
    return join(this.dir, id, file);
  }

  /**
   * Writes a record whole. `durable: false` skips the fsyncs, for a change a power loss may take back
   * harmlessly (a foreground container's pid and exit code: without them it reads as created or exited).
   */
  async save(r: ContainerRecord, options: { durable?: boolean } = {}): Promise<void> {
    await mkdir(this.pathOf(r.id), { recursive: true });
    await writeFileAtomic(this.pathOf(r.id, 'record.json'), JSON.stringify(r, null, 2), 0o644, options);
  }

  async list(): Promise<ContainerRecord[]> {
    const out: ContainerRecord[] = [];
    for (const id of await readdir(this.dir).catch(() => [] as string[])) {
      const raw = readSmall(this.pathOf(id, 'record.json'));
      if (raw) out.push(await this.withExit(JSON.parse(raw) as ContainerRecord));
    }
    return out.sort((a, b) => compareStrings(b.created, a.created));
  }

  /** A container by full ID, unique ID prefix or name. */
  async find(ref: string): Promise<ContainerRecord> {
    const all = await this.list();
    const exact = all.find((r) => r.id === ref || r.name === ref);
    if (exact) return exact;
    const byPrefix = ref.length >= 1 && /^[a-f0-9]+$/.test(ref) ? all.filter((r) => r.id.startsWith(ref)) : [];
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw new ShaleError('INVALID_ARGUMENT', `container ID prefix "${ref}" is ambiguous`);
    throw new ShaleError('NOT_FOUND', `no such container: ${ref}`, { hint: 'see `shale ps -a`' });
  }

  /** Folds in the exit code a detached container's supervisor wrote when the process ended. */
  private async withExit(r: ContainerRecord): Promise<ContainerRecord> {
    if (r.exitCode !== undefined) return r;
    const code = readSmall(this.pathOf(r.id, 'exit-code'));
    if (code !== undefined && code.trim() !== '') return { ...r, exitCode: Number(code.trim()) };
    return r;
  }

  status(r: ContainerRecord): ContainerStatus {
    if (r.exitCode !== undefined) return 'exited';
    if (r.pid !== undefined && isProcessAlive(r.pid)) return 'running';
    return r.pid === undefined ? 'created' : 'exited';
  }

  async remove(id: string): Promise<void> {
    await rm(this.pathOf(id), { recursive: true, force: true });
  }
}
