/**
 * Start the AI service from the environment: PORT (8002), HOST (0.0.0.0), TIMBRE_JWT_SECRET, LOG_LEVEL,
 * TIMBRE_DTE_URL (http://127.0.0.1:8001), RATE_LIMIT_MAX / RATE_LIMIT_WINDOW_MS, the SII monitor's
 * (monitor/env.ts) and Claude's (config.ts).
 */
import { jwtKeyFrom } from '@timbre/auth';
import { listenAddress, rateLimitFromEnv, runServer, serverLogger } from '@timbre/http';
import { buildApp } from './app.js';
import { siiMonitorFromEnv } from './monitor/env.js';
import { llmConfigFromEnv } from './config.js';

const env = process.env;
const address = listenAddress(env, 8002);

const app = await buildApp(
  {
    jwtKey: jwtKeyFrom(env.TIMBRE_JWT_SECRET),
    logger: serverLogger(env.LOG_LEVEL),
    rateLimit: rateLimitFromEnv(env),
    dteServiceUrl: env.TIMBRE_DTE_URL ?? 'http://127.0.0.1:8001',
    ...siiMonitorFromEnv(env),
    // Claude when ANTHROPIC_API_KEY is set (+ ANTHROPIC_BASE_URL, TIMBRE_AI_MODEL, TIMBRE_AI_TIMEOUT_MS, TIMBRE_AI_MAX_RETRIES, TIMBRE_AI_DAILY_TOKEN_BUDGET)
    llm: llmConfigFromEnv(env),
  },
  { connectionTimeout: 60_000, requestTimeout: 60_000, keepAliveTimeout: 75_000 },
);

await runServer(app, address);
