import { runTool } from './run-tool.js';

export type NodeKind = 'char' | 'block' | 'fifo';

/**
 * Creates a device node or fifo at `path` (which must not exist) with the permission bits of `mode`
 * (umask not applied), through coreutils' `mknod`/`mkfifo` since Node has no mknod API.
 */
export async function makeNode(path: string, kind: NodeKind, mode: number, major = 0, minor = 0): Promise<void> {
  const perm = (mode & 0o777).toString(8);
  if (kind === 'fifo') await runTool('mkfifo', ['-m', perm, '--', path]);
  else await runTool('mknod', ['-m', perm, '--', path, kind === 'char' ? 'c' : 'b', String(major), String(minor)]);
}
