import { closeSync, fstatSync, openSync } from 'node:fs';
import { ShaleError } from '../internal/errors.js';
import { HashingStream, verifyContent } from '../internal/hash.js';
import { readAt } from '../internal/read-at.js';
import type { StoredLayerFile } from '../layer/index.js';

/** Bytes read and hashed per step: large reads, and a step short enough (about a millisecond) to yield between. */
const STEP = 1 << 20;

/**
 * Checks that a stored file's bytes have the SHA-256 it was given (DIGEST_MISMATCH, or CORRUPT_INPUT when
 * it is short), one read-and-hash step per iteration: a worker runs the steps straight through, the main
 * thread yields between them to take in the workers' answers meanwhile.
 */
export function* verifyFileSteps(what: string, file: StoredLayerFile): Generator<void, void, void> {
  const fd = openSync(file.path, 'r');
  try {
    const base = file.region?.offset ?? 0;
    const length = file.region?.length ?? fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(Math.min(STEP, Math.max(1, length)));
    const hash = new HashingStream();
    for (let pos = 0; pos < length; pos += buf.length) {
      const want = Math.min(buf.length, length - pos);
      const n = readAt(fd, buf, want, base + pos);
      if (n < want) throw new ShaleError('CORRUPT_INPUT', `${what}: unexpected end of data at byte ${pos + n} (truncated)`);
      hash.update(buf.subarray(0, n));
      yield;
    }
    verifyContent(what, { digest: file.unverifiedDigest }, { digest: hash.digest(), size: hash.bytes });
  } finally {
    closeSync(fd);
  }
}

/** verifyFileSteps run straight through. */
export function verifyFile(what: string, file: StoredLayerFile): void {
  for (const _ of verifyFileSteps(what, file));
}

/** verifyFileSteps run on this thread, giving way to other callbacks between steps; given up (unsettled) once `stopped` says so. */
export async function verifyFileYielding(what: string, file: StoredLayerFile, stopped: () => boolean): Promise<void> {
  for (const _ of verifyFileSteps(what, file)) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (stopped()) return new Promise<void>(() => undefined);
  }
}
