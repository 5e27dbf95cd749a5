export * from './copy-sources.js';
export * from './context-hash.js';
export * from './build-image.js';
export * from './build-progress.js';
export * from './build-cache.js';
export * from './build-context.js';
export * from './copy-files.js';
export * from './stage-scheduler.js';
