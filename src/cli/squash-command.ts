import { ShaleError } from '../internal/errors.js';
import { squashImage } from '../optimize/index.js';
import { humanSize } from '../report/index.js';
import { findBaseLayers, type Store } from '../store/index.js';
import type { CommandResult } from './output.js';

export interface SquashFlags {
  tag: string;
  fromLayer?: string;
  all?: boolean;
}

/**
 * `shale squash REF -t NEWREF`: the layers above the base become one. The base is, by default, the
 * longest proper prefix of the image's layers that another stored image has; `--from-layer N` keeps
 * layers 0..N-1, `--all` squashes every layer.
 */
export async function squashCommand(store: Store, spec: string, flags: SquashFlags): Promise<CommandResult> {
  if (flags.all && flags.fromLayer !== undefined) throw new ShaleError('INVALID_ARGUMENT', '--all and --from-layer cannot be used together');
  if (flags.fromLayer !== undefined && !/^\d+$/.test(flags.fromLayer)) {
    throw new ShaleError('INVALID_ARGUMENT', `--from-layer "${flags.fromLayer}" is not a layer index`);
  }
  const { image } = await store.resolve(spec);
  let kept: number;
  if (flags.all) kept = 0;
  else if (flags.fromLayer !== undefined) kept = Number(flags.fromLayer);
  else {
    kept = await findBaseLayers([store], image);
    if (kept === 0) {
      throw new ShaleError('FAILED_PRECONDITION', `no base image of ${spec} is in the store`, {
        hint: 'say which layers stay with --from-layer N (keeps layers 0..N-1), or squash every layer with --all',
      });
    }
  }
  const r = await squashImage(store, image, { kept, tag: flags.tag });
  const data = { id: r.id, ref: r.ref, before: r.before, after: r.after, savedBytes: r.savedBytes, keptBaseLayers: r.keptBaseLayers };
  const text =
    r.before.layers === r.after.layers && r.id === image.id
      ? `${r.ref}: nothing to squash above the ${r.keptBaseLayers} kept layer${r.keptBaseLayers === 1 ? '' : 's'}; tagged the same image ${r.id}`
      : [
          `${r.ref}: ${r.before.layers} layers (${humanSize(r.before.sizeBytes)}) -> ${r.after.layers} layers (${humanSize(r.after.sizeBytes)}), ` +
            `kept ${r.keptBaseLayers} base layer${r.keptBaseLayers === 1 ? '' : 's'}, saved ${humanSize(r.savedBytes)}`,
          r.id,
        ].join('\n');
  return { data, text };
}
