import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBinfmtEntry, type BinfmtEntry } from './platform-support.js';

export const BINFMT_MISC = '/proc/sys/fs/binfmt_misc';

/** The binfmt_misc registrations of this machine; undefined when binfmt_misc is not mounted. */
export async function readBinfmt(dir = BINFMT_MISC): Promise<BinfmtEntry[] | undefined> {
  const names = await readdir(dir).catch(() => undefined);
  if (!names || !names.includes('register')) return undefined;
  const out: BinfmtEntry[] = [];
  for (const name of names) {
    if (name === 'register' || name === 'status') continue;
    const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) out.push(parseBinfmtEntry(name, text));
  }
  return out;
}
