import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isShaleError } from '../internal/errors.js';
import { BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION, digestOf, MediaType, type Digest, type History, type ImageConfig, type Manifest } from '../oci/index.js';
import { appendEdit } from './append.js';
import { editedImage } from './edit.js';
import type { Image, Layer } from './image.js';
import { mutateConfig } from './mutate.js';
import { rebaseEdit } from './rebase.js';

async function* bytes(s: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(s);
}
const d = (s: string): Digest => digestOf(s);
const layer = (s: string): Layer => ({
  descriptor: { mediaType: MediaType.ociLayer, digest: d(`blob ${s}`), size: s.length },
  diffId: d(`diff ${s}`),
  what: s,
  openBlob: () => bytes(s),
  open: () => bytes(s),
});

/** An image of these layers, each with a history entry named after it unless `history` is given. */
function image(names: string[], options: { history?: History[]; mediaType?: string; annotations?: Record<string, string>; runtime?: Record<string, unknown> } = {}): Image {
  const layers = names.map(layer);
  const config: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    config: options.runtime ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: options.history ?? names.map((n) => ({ created_by: n })),
  };
  const source: Pick<Image, 'manifest'> = { manifest: { schemaVersion: 2, mediaType: options.mediaType ?? MediaType.ociManifest } as Manifest };
  return editedImage(source, { config, layers, annotations: options.annotations });
}

test('mutateConfig replaces entrypoint and cmd, sets env in place, merges labels and ports; the input stays', () => {
  const config = image(['a'], { runtime: { Env: ['PATH=/bin', 'A=1'], Labels: { keep: 'x' }, Cmd: ['sh'], ExposedPorts: { '22/tcp': {} } } }).config;
  const frozen = JSON.stringify(config);
  const out = mutateConfig(config, {
    entrypoint: ['/init'],
    cmd: [],
    env: [['A', '2'], ['B', 'x=y']],
    labels: { new: 'y' },
    user: 'nobody',
    workdir: '/w',
    exposedPorts: ['80', '53/UDP'],
  });
  assert.deepEqual(out.config, {
    Env: ['PATH=/bin', 'A=2', 'B=x=y'],
    Labels: { keep: 'x', new: 'y' },
    Cmd: null,
    Entrypoint: ['/init'],
    User: 'nobody',
    WorkingDir: '/w',
    ExposedPorts: { '22/tcp': {}, '80/tcp': {}, '53/udp': {} },
  });
  assert.equal(JSON.stringify(config), frozen);
  assert.throws(() => mutateConfig(config, { exposedPorts: ['http'] }), (e) => isShaleError(e, 'INVALID_ARGUMENT'));
});

test('editedImage keeps the manifest kind: Docker schema 2 gets its config media type and no annotations', () => {
  const docker = image(['a'], { mediaType: MediaType.dockerManifest, annotations: { x: 'y' } });
  assert.equal(docker.manifest.mediaType, MediaType.dockerManifest);
  assert.equal(docker.manifest.config.mediaType, MediaType.dockerConfig);
  assert.equal(docker.manifest.annotations, undefined);
  assert.equal(docker.manifestDigest, digestOf(docker.rawManifest));
  assert.equal(docker.id, digestOf(docker.rawConfig));
  const oci = image(['a'], { annotations: { x: 'y' } });
  assert.deepEqual(oci.manifest.annotations, { x: 'y' });
});

test('appendEdit adds the layer, its diffId and history entry on top', () => {
  const base = image(['a'], { annotations: { k: 'v' } });
  const edit = appendEdit(base, layer('b'), { created: '2020-01-01T00:00:00Z', created_by: 'shale append b.tar' });
  assert.deepEqual(edit.config.rootfs.diff_ids, [layer('a').diffId, layer('b').diffId]);
  assert.deepEqual(edit.config.history?.map((h) => h.created_by), ['a', 'shale append b.tar']);
  assert.equal(edit.config.created, '2020-01-01T00:00:00Z');
  assert.deepEqual(edit.annotations, { k: 'v' });
});

test("rebaseEdit swaps the old base's layers and history for the new base's and names it", () => {
  const oldBase = image(['o1', 'o2'], { history: [{ created_by: 'o1' }, { created_by: 'ENV X=1', empty_layer: true }, { created_by: 'o2' }] });
  const newBase = image(['n1']);
  const app = image(['o1', 'o2', 'app'], {
    history: [...oldBase.config.history!, { created_by: 'WORKDIR /x', empty_layer: true }, { created_by: 'app' }],
    runtime: { Cmd: ['app'] },
    annotations: { [BASE_NAME_ANNOTATION]: 'old:1', other: 'kept' },
  });
  const edit = rebaseEdit(app, oldBase, { image: newBase, name: 'new:1' });
  assert.deepEqual(edit.config.rootfs.diff_ids, [layer('n1').diffId, layer('app').diffId]);
  assert.deepEqual(edit.layers.map((l) => l.what), ['n1', 'app']);
  assert.deepEqual(edit.config.history?.map((h) => h.created_by), ['n1', 'WORKDIR /x', 'app']);
  assert.deepEqual(edit.config.config, { Cmd: ['app'] });
  assert.deepEqual(edit.annotations, { [BASE_NAME_ANNOTATION]: 'new:1', [BASE_DIGEST_ANNOTATION]: newBase.manifestDigest, other: 'kept' });
});

test('rebaseEdit refuses an old base that is not at the bottom of the image, and another platform', () => {
  const app = image(['o1', 'app']);
  const refused = (e: unknown) => isShaleError(e, 'FAILED_PRECONDITION') && /layer 0/.test(e.message);
  assert.throws(() => rebaseEdit(app, image(['x']), { image: image(['n']), name: 'n' }), refused);
  assert.throws(() => rebaseEdit(app, image(['o1', 'app', 'more']), { image: image(['n']), name: 'n' }), (e) => isShaleError(e, 'FAILED_PRECONDITION'));
  const arm = image(['n']);
  arm.config.architecture = 'arm64';
  assert.throws(() => rebaseEdit(app, image(['o1']), { image: arm, name: 'n' }), (e) => isShaleError(e, 'INVALID_ARGUMENT'));
});
