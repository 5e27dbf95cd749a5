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
