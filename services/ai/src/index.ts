export { aiService, buildApp, type AppConfig } from './app.js';
export { FieldError, STATUS_BY_CODE, type Problem } from './problems.js';
export { forecastResponse, forecastBody } from './routes/forecast.js';
export { siiMonitorFromEnv } from './monitor/env.js';
export { llmConfigFromEnv } from './config.js';
