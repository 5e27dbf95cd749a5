import type { History } from '../oci/index.js';
import { appendLayerToConfig } from './config-edit.js';
import type { ImageEdit } from './edit.js';
import type { Image, Layer } from './image.js';

/**
 * `image` with `layer` on top: its diffId and `history` added to the config, the manifest's annotations
 * kept (the base below is unchanged).
 */
export function appendEdit(image: Image, layer: Layer, history: History): ImageEdit {
  return {
    config: appendLayerToConfig(image.config, layer.diffId, history),
    layers: [...image.layers, layer],
    annotations: image.manifest.annotations,
  };
}
