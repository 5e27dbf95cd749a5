export * from './image.js';
export * from './config-edit.js';
