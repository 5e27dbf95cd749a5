export * from './squash-changes.js';
export * from './squash-image.js';
