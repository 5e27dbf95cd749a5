export * from './image.js';
export * from './config-edit.js';
export * from './image-source.js';
export * from './edit.js';
export * from './mutate.js';
export * from './append.js';
export * from './rebase.js';
