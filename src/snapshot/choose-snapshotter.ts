import { ShaleError } from '../internal/errors.js';
import { CopySnapshotter } from './copy-snapshotter.js';
import { probeOverlay } from './overlay-probe.js';
import { OverlaySnapshotter } from './overlay-snapshotter.js';
import type { Snapshotter } from './snapshotter.js';

export { probeOverlay, type OverlayProbe } from './overlay-probe.js';

export type SnapshotterPreference = 'overlayfs' | 'copy' | 'auto';

/**
 * A snapshotter for `root`: `overlayfs` (UNSUPPORTED when it cannot be mounted here), `copy`, or `auto`
 * (the default): overlayfs when a probe mount works, else copy.
 */
export async function chooseSnapshotter(root: string, preference: SnapshotterPreference = 'auto'): Promise<Snapshotter> {
  if (preference === 'copy') return new CopySnapshotter(root);
  const probe = await probeOverlay(root);
  if (probe.ok) return new OverlaySnapshotter(root, { volatile: probe.volatile });
  if (preference === 'overlayfs') {
    throw new ShaleError('UNSUPPORTED', `overlayfs cannot be used under ${root}: ${probe.reason}`, {
      hint: 'run as root on a kernel with overlayfs and a store on ext4/xfs/tmpfs, or use the copy snapshotter',
    });
  }
  return new CopySnapshotter(root);
}
