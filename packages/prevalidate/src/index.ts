export * from './codes.js';
export * from './prevalidate.js';
export * from './evaluate.js';
