export * from './format.js';
export * from './analysis-text.js';
export * from './analysis-html.js';
export * from './comparison.js';
