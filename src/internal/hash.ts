import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ShaleError } from './errors.js';

export const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private hex?: string;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.update(chunk);
    done(null, chunk);
  }
  /** Hashes bytes that do not flow through the stream. */
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }
  /** The digest of everything seen; valid once the input has ended. */
  digest(): `sha256:${string}` {
    return `sha256:${this.digestHex()}`;
  }
  /** The sha256 hex of everything that passed; valid once the stream has ended. */
  digestHex(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}

/** Throws DIGEST_MISMATCH / SIZE_MISMATCH when what was read is not what was promised. */
export function verifyContent(
  what: string,
  expected: { digest?: string; size?: number },
  actual: { digest: string; size: number },
): void {
  if (expected.size !== undefined && expected.size >= 0 && expected.size !== actual.size) {
    throw new ShaleError('SIZE_MISMATCH', `${what}: size is ${actual.size} bytes, expected ${expected.size}`);
  }
  if (expected.digest !== undefined && expected.digest !== actual.digest) {
    throw new ShaleError('DIGEST_MISMATCH', `${what}: content has digest ${actual.digest}, expected ${expected.digest}`);
  }
}

/**
 * The bytes of `source` passed through as they come; SIZE_MISMATCH or DIGEST_MISMATCH when they end
 * without the size and digest promised (too many bytes fail as soon as they arrive).
 */
export async function* verifyStream(source: AsyncIterable<Uint8Array>, expected: { digest: string; size?: number }, what: string): AsyncGenerator<Buffer> {
  const hash = new HashingStream();
  for await (const chunk of source) {
    hash.update(chunk);
    if (expected.size !== undefined && expected.size >= 0 && hash.bytes > expected.size) {
      throw new ShaleError('SIZE_MISMATCH', `${what}: more than the ${expected.size} bytes expected`);
    }
    yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  verifyContent(what, expected, { digest: hash.digest(), size: hash.bytes });
}
