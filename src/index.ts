/** shale as a library: the same capabilities the CLI has, as typed functions. */
export * from './internal/index.js';
export * from './oci/index.js';
export * from './layer/index.js';
export * from './image/index.js';
export * from './store/index.js';
export * from './registry/index.js';
export * from './report/index.js';
export * from './snapshot/index.js';
export * from './runtime/index.js';
export * from './dockerfile/index.js';
export * from './build/index.js';
export * from './analyze/index.js';
export * from './optimize/index.js';
