import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CopySource } from './copy-files.js';

/**
 * A digest of what a COPY/ADD would copy: names, types, modes, link targets and file contents (mtimes
 * ignored, so touching a file does not break the build cache). `file:` for one file, `dir:` otherwise,
 * as Docker's history names them.
 */
export async function digestSources(sources: CopySource[], exclude?: (rel: string) => boolean): Promise<{ kind: 'file' | 'dir'; hex: string }> {
  const h = createHash('sha256');
  const add = (s: string) => h.update(`${s}\0`);
  const addFile = async (path: string) => {
    for await (const c of createReadStream(path)) h.update(c as Buffer);
  };
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (exclude?.(childRel)) continue;
      const p = join(dir, name);
      const st = await lstat(p);
      add(`${childRel}|${st.mode.toString(8)}`);
      if (st.isSymbolicLink()) add(await readlink(p));
      else if (st.isDirectory()) await walk(p, childRel);
      else if (st.isFile()) await addFile(p);
    }
  };
  let kind: 'file' | 'dir' = sources.length === 1 ? 'file' : 'dir';
  for (const src of sources) {
    const st = await stat(src.hostPath);
    add(`${src.rel}|${st.mode.toString(8)}`);
    if (st.isDirectory()) {
      kind = 'dir';
      await walk(src.hostPath, src.rel === '.' ? '' : src.rel);
    } else {
      await addFile(src.hostPath);
    }
  }
  return { kind, hex: h.digest('hex') };
}
