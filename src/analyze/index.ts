export * from './analysis.js';
export * from './analyze-image.js';
export * from './ci-rules.js';
export * from './compare-images.js';
export * from './fixes.js';
export * from './step-label.js';
