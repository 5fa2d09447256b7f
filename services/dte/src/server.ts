/** Start the DTE service from the environment. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { jwtKeyFrom } from '@timbre/auth';
import { masterKeyFrom } from '@timbre/store';
import { buildApp } from './app.js';
import type { SiiEnvironmentName } from './config.js';

const env = process.env;
const databaseUrl = env.DATABASE_URL ?? 'sqlite:./.tmp/timbre.db';
const port = Number(env.PORT ?? 8001);
const host = env.HOST ?? '0.0.0.0';
const siiEnv = (env.SII_ENV ?? 'sim') as SiiEnvironmentName;
if (!['sim', 'certificacion', 'produccion'].includes(siiEnv)) throw new Error(`SII_ENV must be sim, certificacion or produccion (got ${siiEnv})`);
const siiUrl = env.SII_URL ?? (siiEnv === 'sim' ? 'http://127.0.0.1:8090' : undefined);
const embedded = databaseUrl.startsWith('sqlite:') || !/^[a-z]+:\/\//i.test(databaseUrl);

const notices: string[] = [];
const ensureDir = (file: string) => mkdirSync(dirname(resolve(file)), { recursive: true });
if (embedded) {
  const file = databaseUrl.replace(/^sqlite:(\/\/)?/, '');
  if (file !== ':memory:') ensureDir(file);
}

let masterKeyText = env.TIMBRE_MASTER_KEY;
if (!masterKeyText) {
  if (!embedded) throw new Error('TIMBRE_MASTER_KEY is required with an external database');
  const keyFile = resolve('.tmp/master.key');
  if (!existsSync(keyFile)) {
    ensureDir(keyFile);
    writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    notices.push(`TIMBRE_MASTER_KEY not set: created a new master key in ${keyFile} (back it up; sealed CAFs and certificates need it)`);
  } else {
    notices.push(`TIMBRE_MASTER_KEY not set: using the master key in ${keyFile}`);
  }
  masterKeyText = readFileSync(keyFile, 'utf8').trim();
}

const app = await buildApp(
  {
    databaseUrl,
    masterKey: masterKeyFrom(masterKeyText),
    jwtKey: jwtKeyFrom(env.TIMBRE_JWT_SECRET),
    sii: { environment: siiEnv, ...(siiUrl ? { url: siiUrl } : {}) },
    // Pretty output is a TTY concern, not an environment one.
    logger: { level: env.LOG_LEVEL ?? 'info', redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] },
  },
  { connectionTimeout: 130_000, requestTimeout: 150_000, keepAliveTimeout: 75_000 },
);
for (const n of notices) app.log.warn(n);

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
