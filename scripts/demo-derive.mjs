// Appends one layer holding /data/blob (N zero bytes) to an image: a stand-in for `RUN dd` until build lands.
import { Store, makeHeader, writeTar, describeLayerBlob, appendLayerToConfig, makeManifest, canonicalJson, createdNow, MediaType, ImageConfigSchema, parseJson } from '../dist/src/index.js';
import { createReadStream } from 'node:fs';

const [root, base, target, bytes] = process.argv.slice(2);
const size = Number(bytes);
const store = await Store.open(root);
const { image } = await store.resolve(base);
async function* zeros() {
  const chunk = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= chunk.length) yield chunk.subarray(0, Math.min(chunk.length, left));
}
const tar = writeTar([
  { header: makeHeader({ name: 'data/', type: 'dir' }) },
  { header: makeHeader({ name: 'data/blob', type: 'file', size }), body: zeros() },
]);
const ing = await store.content.ingest(tar);
const info = await describeLayerBlob(ing.digest, createReadStream(ing.tempPath), 'layer');
const config = appendLayerToConfig(parseJson(ImageConfigSchema, image.rawConfig, 'config'), info.diffId, {
  created: createdNow(),
  created_by: `/bin/sh -c dd if=/dev/zero of=/data/blob bs=${size} count=1`,
});
const rawConfig = canonicalJson(config);
await store.withLock(async () => {
  await store.content.commit(ing);
  await store.layerInfos.put(info);
  const configDigest = await store.content.putBytes(rawConfig);
  const manifest = makeManifest({ mediaType: MediaType.ociConfig, digest: configDigest, size: rawConfig.length }, [
    ...image.manifest.layers,
    { mediaType: MediaType.ociLayer, digest: ing.digest, size: ing.size },
  ]);
  const raw = canonicalJson(manifest);
  const digest = await store.content.putBytes(raw);
  await store.setTags({ mediaType: MediaType.ociManifest, digest, size: raw.length }, [target]);
  console.log(configDigest);
});
