export * from './shell-script.js';
export * from './slim-rewrite.js';
export * from './verify-equivalence.js';
export * from './slim.js';
