export * from './shell-commands.js';
export * from './lint-model.js';
export * from './lint-rules.js';
export * from './lint.js';
export * from './sarif.js';
