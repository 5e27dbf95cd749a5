import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError, hasErrno } from '../internal/errors.js';
import { contextEntryHasher, dirSourceName } from './context-hash.js';
import { expandCopySources } from './copy-sources.js';
import type { SourcePath } from './copy-files.js';
import { DockerignoreMatcher, parseDockerignore } from './dockerignore.js';
import { combinedSourceName, copySourceName } from './history.js';
import { resolveInRoot } from '../snapshot/index.js';

/** A directory that COPY/ADD read from: the build context (with .dockerignore) or a stage's root. */
export class SourceTree {
  private constructor(
    readonly root: string,
    private readonly paths: string[],
    private readonly matcher: DockerignoreMatcher | undefined,
    private readonly what: string,
  ) {}

  /** The build context: every path not excluded by its .dockerignore. */
  static async context(dir: string): Promise<SourceTree> {
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new ShaleError('NOT_FOUND', `build context ${dir} is not a directory`);
    const ignore = await readFile(join(dir, '.dockerignore'), 'utf8').catch(() => '');
    const matcher = new DockerignoreMatcher(parseDockerignore(ignore));
    const paths: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      for (const name of await readdir(join(dir, rel))) {
        const p = rel ? `${rel}/${name}` : name;
        const isDir = (await lstat(join(dir, p))).isDirectory();
        if (!matcher.matches(p)) paths.push(p);
        if (isDir && (!matcher.matches(p) || matcher.walksInto(p))) await walk(p);
      }
    };
    await walk('');
    return new SourceTree(dir, paths, matcher, 'build context');
  }

  /** A stage's or image's root filesystem (COPY --from): everything, no ignore file. */
  static async rootfs(dir: string, what: string): Promise<SourceTree> {
    const paths: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      for (const name of await readdir(join(dir, rel))) {
        const p = rel ? `${rel}/${name}` : name;
        paths.push(p);
        if ((await lstat(join(dir, p))).isDirectory()) await walk(p);
      }
    };
    await walk('');
    return new SourceTree(dir, paths, undefined, what);
  }

  excluded = (rel: string): boolean => this.matcher?.matches(rel) ?? false;

  /** The sources a COPY/ADD names (globs expanded), each checked to exist and not be excluded. */
  async resolve(sources: string[]): Promise<SourcePath[]> {
    const out: SourcePath[] = [];
    for (const src of sources) {
      const rels = expandCopySources(src, this.paths);
      if (rels.length === 0) throw new ShaleError('NOT_FOUND', `COPY failed: no source files were specified by "${src}" in the ${this.what}`);
      for (const rel of rels) {
        const hostPath = rel === '.' ? this.root : await resolveInRoot(this.root, rel);
        const exists = await stat(hostPath).then(() => true, (e) => (hasErrno(e, 'ENOENT') || hasErrno(e, 'ENOTDIR') ? false : Promise.reject(e)));
        if (!exists || (rel !== '.' && this.excluded(rel))) {
          throw new ShaleError('NOT_FOUND', `COPY failed: file not found in ${this.what} or excluded by .dockerignore: ${rel}`);
        }
        out.push({ hostPath, rel });
      }
    }
    return out;
  }

  /** Docker's history name of what a COPY copies: `file:<hex>`, `dir:<hex>`, or `multi:<hex>`. */
  async sourceName(sources: SourcePath[]): Promise<string> {
    const names: string[] = [];
    for (const s of sources) {
      const st = await stat(s.hostPath);
      if (!st.isDirectory()) {
        names.push(copySourceName('file', await this.entryHex(s.hostPath, s.rel, true)));
        continue;
      }
      const hexes: string[] = [];
      const walk = async (host: string, rel: string): Promise<void> => {
        hexes.push(await this.entryHex(host, rel, false));
        if (!(await lstat(host)).isDirectory()) return;
        for (const name of (await readdir(host)).sort()) {
          const childRel = rel === '.' ? name : `${rel}/${name}`;
          if (this.excluded(childRel)) continue;
          await walk(join(host, name), childRel);
        }
      };
      await walk(s.hostPath, s.rel);
      names.push(dirSourceName(hexes));
    }
    return combinedSourceName(names);
  }

  private async entryHex(host: string, rel: string, follow: boolean): Promise<string> {
    const st = follow ? await stat(host) : await lstat(host);
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
    const h = contextEntryHasher({
      path: rel,
      type,
      mode: st.mode & 0o7777,
      size: type === 'file' ? st.size : 0,
      linkname: type === 'symlink' ? await readlink(host) : undefined,
    });
    if (type === 'file') for await (const c of createReadStream(host)) h.update(c as Buffer);
    return h.digest('hex');
  }
}
