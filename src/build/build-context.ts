import { createReadStream, readdirSync } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ShaleError, hasErrno } from '../internal/errors.js';
import { contextEntryHasher, dirSourceName } from './context-hash.js';
import { copySelector, expandCopySources, hasWildcards, splitParentsSource } from './copy-sources.js';
import { cleanPath } from '../dockerfile/go-path.js';
import type { SourcePath } from './copy-files.js';
import { DockerignoreMatcher, parseDockerignore } from '../dockerfile/dockerignore.js';
import { combinedSourceName, copySourceName } from '../dockerfile/history.js';
import { hostOwnerNames } from './host-owner-names.js';
import { ContextSums, RootfsSums, relativeTo, type SourceSums } from './source-sums.js';
import { resolveInRoot } from '../snapshot/index.js';

/** Directory entry names in Go's walk order (bytewise). */
const sortedNames = async (dir: string): Promise<string[]> =>
  (await readdir(dir)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

/** `paths` with every ancestor directory of them (what unpacking them makes), in no set order. */
function withAncestors(paths: readonly string[]): string[] {
  const all = new Set(paths);
  for (const p of paths) for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) all.add(p.slice(0, i));
  return [...all];
}

/** A directory that COPY/ADD read from: the build context (with .dockerignore) or a stage's root. */
export class SourceTree {
  private constructor(
    readonly root: string,
    private readonly paths: string[],
    private readonly matcher: DockerignoreMatcher | undefined,
    private readonly what: string,
    private readonly sums: SourceSums,
    /** What the builder finds on disk below the root: for the context, the sent paths and their parents. */
    private readonly present: readonly string[],
  ) {}

  /** The build context: every path not excluded by its .dockerignore. */
  static async context(dir: string): Promise<SourceTree> {
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new ShaleError('NOT_FOUND', `build context ${dir} is not a directory`);
    const ignore = await readFile(join(dir, '.dockerignore'), 'utf8').catch(() => '');
    const matcher = new DockerignoreMatcher(parseDockerignore(ignore));
    const paths: string[] = [];
    const firstNames = new Map<number, string>();
    const walk = async (rel: string): Promise<void> => {
      for (const name of await sortedNames(join(dir, rel))) {
        const p = rel ? `${rel}/${name}` : name;
        const st = await lstat(join(dir, p));
        if (!matcher.matches(p)) {
          paths.push(p);
          if (!st.isDirectory() && st.nlink > 1 && !firstNames.has(st.ino)) firstNames.set(st.ino, p);
        }
        if (st.isDirectory() && (!matcher.matches(p) || matcher.walksInto(p))) await walk(p);
      }
    };
    await walk('');
    const sums = new ContextSums(dir, new Set(paths), firstNames);
    return new SourceTree(dir, paths, matcher, 'build context', sums, withAncestors(paths));
  }

  /** A stage's or image's root filesystem (COPY --from): everything, no ignore file. */
  static async rootfs(dir: string, what: string): Promise<SourceTree> {
    // synchronous, with the types readdir gives (no lstat each): a round trip a path made a large stage's
    // tree take a quarter of a second
    const paths: string[] = [];
    const walk = (rel: string): void => {
      for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        paths.push(p);
        if (e.isDirectory()) walk(p);
      }
    };
    walk('');
    return new SourceTree(dir, paths, undefined, what, new RootfsSums(dir, await hostOwnerNames()), paths);
  }

  excluded = (rel: string): boolean => this.matcher?.matches(rel) ?? false;

  /**
   * The sources a COPY/ADD names (globs expanded), each checked to exist and not be excluded.
   * `exclude` (`--exclude`) filters what is below each directory source. With `parents`
   * (`COPY --parents`) each source becomes the directory its `/./` pivot names (the root without
   * one) with a selector for its pattern; a pattern without wildcards must name something, one
   * with wildcards may match nothing (BuildKit's rules; without `parents` only with `allowEmptyWildcard`).
   */
  async resolve(sources: string[], options: { parents?: boolean; exclude?: readonly string[]; allowEmptyWildcard?: boolean } = {}): Promise<SourcePath[]> {
    const exclude = options.exclude ?? [];
    const out: SourcePath[] = [];
    for (const src of sources) {
      if (options.parents) {
        out.push(...(await this.resolveWithParents(src, exclude)));
        continue;
      }
      const rels = expandCopySources(src, this.paths);
      // only a wildcard matches nothing: BuildKit copies nothing, the classic builder fails
      if (rels.length === 0 && options.allowEmptyWildcard) continue;
      if (rels.length === 0) throw new ShaleError('NOT_FOUND', `COPY failed: no source files were specified by "${src}" in the ${this.what}`);
      const select = copySelector({ exclude });
      for (const rel of rels) out.push({ hostPath: await this.existing(rel), rel, ...(select ? { select } : {}) });
    }
    return out;
  }

  private async resolveWithParents(src: string, exclude: readonly string[]): Promise<SourcePath[]> {
    const { dir, pattern } = splitParentsSource(src);
    const dirRel = cleanPath(dir.slice(1) || '.');
    if (!hasWildcards(dir) && !hasWildcards(pattern)) await this.existing(cleanPath(`${dirRel}/${pattern}`));
    const dirs = hasWildcards(dir) ? expandCopySources(dirRel, this.paths) : [dirRel];
    const select = copySelector({ include: pattern, exclude });
    const out: SourcePath[] = [];
    for (const rel of dirs) out.push({ hostPath: await this.existing(rel), rel, ...(select ? { select } : {}) });
    return out;
  }

  /** The host path of a source path that exists in the tree and is not left out by .dockerignore. */
  private async existing(rel: string): Promise<string> {
    const hostPath = rel === '.' ? this.root : await resolveInRoot(this.root, rel);
    const exists = await stat(hostPath).then(() => true, (e) => (hasErrno(e, 'ENOENT') || hasErrno(e, 'ENOTDIR') ? false : Promise.reject(e)));
    if (!exists || (rel !== '.' && this.excluded(rel))) {
      throw new ShaleError('NOT_FOUND', `COPY failed: file not found in ${this.what} or excluded by .dockerignore: ${rel}`);
    }
    return hostPath;
  }

  /**
   * Docker's history name of what a COPY copies: `file:<sum>` for a file (a symlink followed),
   * `dir:<hex>` over the sums of everything below a directory (itself included unless it is the
   * root), `multi:<hex>` for several sources.
   */
  async sourceName(sources: SourcePath[]): Promise<string> {
    const names: string[] = [];
    for (const s of sources) {
      if (s.inline) {
        const st = await stat(s.hostPath);
        const hash = contextEntryHasher({ path: s.rel, type: 'file', mode: st.mode & 0o7777, size: st.size });
        for await (const c of createReadStream(s.hostPath)) hash.update(c as Buffer);
        names.push(copySourceName('file', hash.digest('hex')));
        continue;
      }
      const host = s.rel === '.' ? this.root : await resolveInRoot(this.root, s.rel);
      if (!(await stat(host)).isDirectory()) {
        names.push(copySourceName('file', await this.sums.sum(s.rel)));
        continue;
      }
      const dir = relativeTo(this.root, host);
      const all = dir === '.' ? this.present : this.present.filter((p) => p === dir || p.startsWith(`${dir}/`));
      // with --parents/--exclude: what is copied (a directory only entered is left out, what it holds is not)
      const select = s.select;
      const below = select ? all.filter((p) => p === dir || select(dir === '.' ? p : p.slice(dir.length + 1), false) === 'copy') : all;
      const entrySums: string[] = [];
      for (const p of below) entrySums.push(await this.sums.sum(p));
      names.push(dirSourceName(entrySums));
    }
    return combinedSourceName(names);
  }
}
