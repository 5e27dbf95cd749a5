import { readSync } from 'node:fs';

/**
 * Reads up to `length` bytes of a file at `position` into the start of `buffer`, over as many reads as it
 * takes: fewer only where the file ends. Returns how many were read.
 */
export function readAt(fd: number, buffer: Uint8Array, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
