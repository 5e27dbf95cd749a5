import { digestOf, type Digest } from '../oci/index.js';
import { makeHeader, writeTar, type TarWriteEntry } from '../layer/index.js';

/**
 * The init layer Docker puts between an image and a container's writable layer: the mount points the
 * runtime needs (/proc, /sys, /dev, /etc/hosts, ...). It sits below the writable layer, so what a
 * RUN step commits never holds them.
 */
export function initLayerEntries(): TarWriteEntry[] {
  const dir = (name: string) => ({ header: makeHeader({ name, type: 'dir', mode: 0o755 }) });
  const file = (name: string) => ({ header: makeHeader({ name, type: 'file', mode: 0o755, size: 0 }), body: new Uint8Array(0) });
  return [
    file('.dockerenv'),
    dir('dev/'),
    file('dev/console'),
    dir('dev/pts/'),
    dir('dev/shm/'),
    dir('etc/'),
    file('etc/hostname'),
    file('etc/hosts'),
    { header: makeHeader({ name: 'etc/mtab', type: 'symlink', mode: 0o777, linkname: '/proc/mounts' }) },
    file('etc/resolv.conf'),
    dir('proc/'),
    dir('sys/'),
  ];
}

/** The init layer as a tar, with a stable identity for snapshot caches. */
export async function initLayer(): Promise<{ diffId: Digest; bytes: Buffer }> {
  const parts: Buffer[] = [];
  for await (const c of writeTar(initLayerEntries())) parts.push(c);
  const bytes = Buffer.concat(parts);
  return { diffId: digestOf(bytes), bytes };
}
