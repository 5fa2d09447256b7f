/** `timbre serve dte`: the DTE service in the foreground with real settings, until SIGINT/SIGTERM. */
import { buildApp } from '@timbre/dte-service';
import { serviceConfig, untilInterrupted } from '../local.js';

export interface ServeCliOptions {
  port?: string;
  host?: string;
  databaseUrl?: string;
  siiEnv?: string;
  siiUrl?: string;
}

export async function runServeDte(o: ServeCliOptions): Promise<number> {
  const env = process.env;
  const { config, notices } = serviceConfig({
    ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}),
    ...(o.siiEnv ? { siiEnv: o.siiEnv } : {}),
    ...(o.siiUrl ? { siiUrl: o.siiUrl } : {}),
  });
  const port = Number(o.port ?? env.PORT ?? 8001);
  const host = o.host ?? env.HOST ?? '0.0.0.0';
  const app = await buildApp(
    {
      ...config,
      logger: { level: env.LOG_LEVEL ?? 'info', redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] },
    },
    { connectionTimeout: 130_000, requestTimeout: 150_000, keepAliveTimeout: 75_000 },
  );
  for (const n of notices) app.log.warn(n);
  const url = await app.listen({ port, host });
  process.stdout.write(
    [
      `DTE service listening on ${url} (API docs: ${url}/docs)`,
      `  database: ${config.databaseUrl.replace(/\/\/[^@/]*@/, '//***@')}`,
      `  SII: ${config.sii.environment}${config.sii.url ? ` at ${config.sii.url}` : ''}`,
      ...notices.map((n) => `  ${n}`),
      '',
    ].join('\n'),
  );
  await untilInterrupted();
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  await app.close();
  return 0;
}
