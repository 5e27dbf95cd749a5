export * from './format.js';
export * from './step-label.js';
export * from './analysis-text.js';
export * from './analysis-html.js';
