import { ShaleError } from '../internal/errors.js';
import type { BuildArgValues } from '../dockerfile/expand.js';
import type { ImageConfig } from '../oci/index.js';

/**
 * `--build-arg SOURCE_DATE_EPOCH=N` as BuildKit reads it: whole seconds since 1970, or an error naming the
 * value. Undefined when the build arg is absent or empty.
 */
export function sourceDateEpoch(args: BuildArgValues | undefined): number | undefined {
  const raw = args?.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new ShaleError('INVALID_ARGUMENT', `invalid SOURCE_DATE_EPOCH "${raw}": want whole seconds since 1970-01-01 UTC`);
  }
  return Number(raw);
}

/**
 * The config with the epoch as its `created` and as the `created` of every history entry this build made
 * (those after the first `baseEntries`, which keep the base image's times), as Docker 26 with BuildKit
 * records them. Layer contents are not touched: Docker 26's image exporter leaves file times as they are.
 */
export function stampCreated(config: ImageConfig, baseEntries: number, epoch: number): ImageConfig {
  const created = new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
  return {
    ...config,
    created,
    history: config.history?.map((h, i) => (i < baseEntries ? h : { ...h, created })),
  };
}
