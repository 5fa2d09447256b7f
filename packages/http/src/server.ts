/**
 * What every service's `server.ts` does around its own configuration: a logger that never writes
 * credentials, the listening address from the environment, and a graceful close on SIGINT/SIGTERM.
 */
import type { FastifyInstance } from 'fastify';

/** Pino options: the level from LOG_LEVEL; auth headers are never logged (bodies never are). */
export const serverLogger = (level = 'info'): { level: string; redact: string[] } => ({
  level,
  redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
});

/** PORT / HOST from the environment, checked. */
export function listenAddress(env: NodeJS.ProcessEnv, defaultPort: number): { port: number; host: string } {
  const port = Number(env.PORT ?? defaultPort);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer in 0..65535 (got ${env.PORT})`);
  return { port, host: env.HOST ?? '0.0.0.0' };
}

/**
 * Listen, and close gracefully on the first SIGINT/SIGTERM: in-flight requests and the service's
 * workers finish (onClose hooks); after `forceAfterMs` the process exits anyway.
 */
export async function runServer(app: FastifyInstance, address: { port: number; host: string }, opts: { forceAfterMs?: number } = {}): Promise<void> {
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (closing) return;
      closing = true;
      app.log.info({ signal }, 'closing');
      const force = setTimeout(() => process.exit(1), opts.forceAfterMs ?? 10_000);
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
  await app.listen(address);
}
