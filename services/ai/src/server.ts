/** Start the AI service from the environment: PORT (8002), HOST (0.0.0.0), TIMBRE_JWT_SECRET, LOG_LEVEL. */
import { jwtKeyFrom } from '@timbre/auth';
import { buildApp } from './app.js';

const env = process.env;
const port = Number(env.PORT ?? 8002);
const host = env.HOST ?? '0.0.0.0';
if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer in 0..65535 (got ${env.PORT})`);

const app = await buildApp(
  {
    jwtKey: jwtKeyFrom(env.TIMBRE_JWT_SECRET),
    // Never log auth headers.
    logger: { level: env.LOG_LEVEL ?? 'info', redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] },
  },
  { connectionTimeout: 60_000, requestTimeout: 60_000, keepAliveTimeout: 75_000 },
);

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'closing');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  });
}

await app.listen({ port, host });
