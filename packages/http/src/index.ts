export * from './problems.js';
export * from './plugins.js';
export * from './server.js';
export * from './health.js';
export * from './rate-limit.js';
