export * from './shell-script.js';
export * from './slim-rewrite.js';
export * from './verify-equivalence.js';
export * from './slim.js';
export * from './squash-changes.js';
export * from './squash-image.js';
