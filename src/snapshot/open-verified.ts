import { createHash } from 'node:crypto';
import { ShaleError } from '../internal/errors.js';
import type { StoredLayerRef } from './snapshotter.js';

/**
 * The layer's tar, passed through unchanged while it is hashed; reaching its end with a digest other than
 * the diffId is DIGEST_MISMATCH (readTar reads its source to the end, so an unpack always gets there).
 */
export async function* openVerified(layer: StoredLayerRef): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  for await (const chunk of layer.open()) {
    hash.update(chunk);
    yield chunk;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== layer.diffId) {
    throw new ShaleError('DIGEST_MISMATCH', `layer ${layer.diffId}: its uncompressed tar has digest ${actual}`, {
      hint: 'the layer source is corrupt or is not the layer the image names',
    });
  }
}
