export * from './problems.js';
export * from './plugins.js';
export * from './server.js';
