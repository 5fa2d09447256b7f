/** Start the AI service from the environment: PORT (8002), HOST (0.0.0.0), TIMBRE_JWT_SECRET, LOG_LEVEL. */
import { jwtKeyFrom } from '@timbre/auth';
import { listenAddress, runServer, serverLogger } from '@timbre/http';
import { buildApp } from './app.js';

const env = process.env;
const address = listenAddress(env, 8002);

const app = await buildApp(
  {
    jwtKey: jwtKeyFrom(env.TIMBRE_JWT_SECRET),
    logger: serverLogger(env.LOG_LEVEL),
  },
  { connectionTimeout: 60_000, requestTimeout: 60_000, keepAliveTimeout: 75_000 },
);

await runServer(app, address);
