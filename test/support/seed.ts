/** The seed example of MISSION.md (examples/seed): where it is, and the facts its tests check. */
import { join } from 'node:path';
import { REPO_ROOT } from './shale.js';

export const SEED = join(REPO_ROOT, 'examples', 'seed');
/** 52,428,800 bytes: the seed's `dd bs=1M count=50`. */
export const FIFTY_MIB = 50 * 1024 * 1024;
/** The split Dockerfile's two steps, as image history records them. */
export const DD = '/bin/sh -c dd if=/dev/zero of=50M.file bs=1M count=50';
export const RM = '/bin/sh -c rm -rf 50M.file';
