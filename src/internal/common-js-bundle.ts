import Module from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** A CommonJS bundle run by {@link runCommonJsBundle}: its exports, and the compiled script. */
export interface LoadedBundle {
  exports: Record<string, unknown>;
  /** `createCachedData()` gives a code cache for the next start; `cachedDataRejected` says the given one did not fit. */
  script: Script;
}

/**
 * Runs `source` as a CommonJS module (Node's module wrapper, `require` the given one) through V8's code
 * cache: `cachedData` made by {@link LoadedBundle.script} of the same source on the same Node skips the
 * compilation of everything it holds; a cache of another source or Node is rejected and the source
 * compiled. The CLI's launchers (bin/shale.mjs, the single executable) and the packaging step that makes
 * the executable's cache all compile through here, so a cache made by one fits the others.
 */
export function runCommonJsBundle(source: string, filename: string, require: NodeJS.Require, cachedData?: Uint8Array): LoadedBundle {
  const script = new Script(Module.wrap(source), { filename, cachedData });
  const module = { exports: {} as Record<string, unknown> };
  (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, require, module, filename, dirname(filename));
  return { exports: module.exports, script };
}
