/**
 * An arm64 busybox base image for the platform tests: Debian's arm64 busybox-static (fetched into
 * .cache/arm64-busybox by scripts/setup-binfmt.sh) in the usual test rootfs, stored as a one-layer image
 * whose config says linux/arm64. Running it needs qemu-aarch64 registered in binfmt_misc with the F flag.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { importedConfig } from '../../src/image/index.js';
import { decompress } from '../../src/layer/index.js';
import { putImage, putLayer, Store } from '../../src/store/index.js';
import { makeBusyboxRootfs, tarDir } from './rootfs.js';
import { REPO_ROOT } from './shale.js';

export const ARM64_BUSYBOX = join(REPO_ROOT, '.cache', 'arm64-busybox', 'bin', 'busybox');

/** Why arm64 programs cannot run here (no busybox fetched, no qemu-aarch64 with F), or undefined. */
function whyNot(): string | undefined {
  if (!existsSync(ARM64_BUSYBOX)) return `no ${ARM64_BUSYBOX} (run scripts/setup-binfmt.sh)`;
  let entry = '';
  try {
    entry = readFileSync('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8');
  } catch {
    return 'qemu-aarch64 is not registered in binfmt_misc (run scripts/setup-binfmt.sh)';
  }
  if (!/^enabled$/m.test(entry) || !/^flags:.*F/m.test(entry)) return 'qemu-aarch64 is not enabled with the F flag';
  return undefined;
}

/** True when arm64 emulation works here; else a failure in CI (CI=true), a skip elsewhere. */
export function requireArm64Emulation(t: Pick<TestContext, 'skip'>): boolean {
  const why = whyNot();
  if (why === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`arm64 emulation is required in CI (CI=true): ${why}`);
  t.skip(`arm64 emulation is not available: ${why}`);
  return false;
}

/** Stores an arm64 busybox image as `ref` in the store at `root`; returns its image ID. */
export async function arm64BusyboxBase(work: string, root: string, ref: string): Promise<string> {
  const rootfs = makeBusyboxRootfs(join(work, 'arm64-rootfs'), ARM64_BUSYBOX);
  const tar = tarDir(rootfs, join(work, 'arm64-rootfs.tar'));
  const store = await Store.open(root);
  const { descriptor, info } = await putLayer(store, decompress(createReadStream(tar), { what: tar }), tar);
  const { id } = await putImage(store, { ...importedConfig(info.diffId), architecture: 'arm64' }, [descriptor], [ref]);
  return id;
}
