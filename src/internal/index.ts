export * from './errors.js';
export * from './hash.js';
export * from './fs-atomic.js';
export * from './lock.js';
export * from './async-queue.js';
export * from './hash-worker.js';
export * from './compare.js';
export * from './map-limit.js';
