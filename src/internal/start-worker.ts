import { getAsset, isSea } from 'node:sea';
import { join } from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker program `name`, which scripts/build.mjs bundles as `NAME.cjs` beside the CLI bundle:
 * in the single executable it is the asset of that name (evaluated, nothing is read from disk); in the
 * CLI bundle, the file beside it; from the compiled modules (tests, the library), `module()`, the URL of
 * the worker's own module.
 */
export function startWorker(name: string, module: () => URL, options: WorkerOptions = {}): Worker {
  if (isSea()) return new Worker(getAsset(`${name}.cjs`, 'utf8'), { ...options, eval: true });
  return new Worker(typeof __dirname === 'string' ? join(__dirname, `${name}.cjs`) : module(), options);
}
