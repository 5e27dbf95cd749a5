import { readFile } from 'node:fs/promises';
import type { OwnerNames } from './context-hash.js';

/** name by id from an /etc/passwd or /etc/group text (the first entry of an id wins). */
function namesById(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (!name || name.startsWith('#') || id === undefined || !/^\d+$/.test(id)) continue;
    if (!names.has(Number(id))) names.set(Number(id), name);
  }
  return names;
}

/** Owner names as this host's /etc/passwd and /etc/group give them (`''` for an unknown id). */
export async function hostOwnerNames(etc = '/etc'): Promise<OwnerNames> {
  const read = (f: string) => readFile(`${etc}/${f}`, 'utf8').catch(() => '');
  const users = namesById(await read('passwd'));
  const groups = namesById(await read('group'));
  return { user: (uid) => users.get(uid) ?? '', group: (gid) => groups.get(gid) ?? '' };
}
