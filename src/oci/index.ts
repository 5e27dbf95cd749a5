export * from './media-types.js';
export * from './digest.js';
export * from './reference.js';
export * from './schemas.js';
export * from './annotations.js';
export * from './platform.js';
