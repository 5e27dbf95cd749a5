import type { Digest } from '../oci/index.js';

/** What a pull or push reports as it goes, for progress on stderr. */
export interface TransferEvent {
  kind: 'config' | 'layer' | 'manifest';
  digest: Digest;
  size: number;
  /** `start` then `bytes` (with the count just moved) then `done`; or `exists` / `mounted` alone; `retry` before another attempt. */
  state: 'start' | 'bytes' | 'done' | 'exists' | 'mounted' | 'retry';
  bytes?: number;
  /** The repository a blob was mounted from. */
  from?: string;
}

export type TransferListener = (e: TransferEvent) => void;

/**
 * Runs `fn` over `items`, at most `limit` at once. After the first failure no new item starts; the ones
 * running are waited for, then the first error is thrown (so the caller can clean up what they made).
 */
export async function runLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.e;
  return out;
}
