import { statSync } from 'node:fs';
import type { Image } from '../image/index.js';
import { ArchiveView, archiveImages, archiveImageView } from './source-archive.js';

/**
 * Opens the first image of an archive where it lies, to read it only (analyze's way): a plain
 * docker-archive or OCI archive found from the tar's headers, or an OCI layout directory; layers are read
 * by offset, not copied, and their digests checked by whoever reads them. The documents (manifests,
 * configs) are checked here. Undefined when it cannot be read so (compressed as a whole, an old GNU
 * sparse member, a compressed layer of unknown digest, neither manifest.json nor index.json): the
 * caller stages it instead, which also gives the errors of a malformed archive.
 */
export async function openArchiveInPlace(
  kind: 'docker-archive' | 'oci-archive' | 'oci',
  path: string,
  what: string,
  options: { ref?: string; platform?: string } = {},
): Promise<{ image: Image; refs: string[] } | undefined> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st || (kind === 'oci' ? !st.isDirectory() : !st.isFile())) return undefined;
  const view = kind === 'oci' ? ArchiveView.directory(path, what) : ArchiveView.tar(path, what);
  if (!view || !(view.has('manifest.json') || view.has('index.json'))) return undefined;
  const first = archiveImages(view, options)[0];
  const image = first && archiveImageView(first, what);
  return image && { image, refs: first.refs };
}
