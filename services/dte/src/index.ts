export { buildApp, dteService } from './app.js';
export type { AppConfig, SiiEnvironmentName } from './config.js';
export { toProblem, ServiceError, type Problem } from './problems.js';
