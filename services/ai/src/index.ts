export { aiService, buildApp, type AppConfig } from './app.js';
export { toProblem, type Problem } from './problems.js';
export { forecastResponse, forecastBody } from './routes/forecast.js';
