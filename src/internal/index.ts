export * from './errors.js';
export * from './hash.js';
export * from './fs-atomic.js';
export * from './lock.js';
