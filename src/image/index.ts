export * from './image.js';
export * from './config-edit.js';
export * from './image-source.js';
