export * from './runtime-spec.js';
export * from './init-layer.js';
export * from './user.js';
export * from './runc.js';
export * from './container-records.js';
export * from './container.js';
