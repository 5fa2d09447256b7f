/** Start the DTE service from the environment. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { jwtKeyFrom } from '@timbre/auth';
import { listenAddress, rateLimitFromEnv, runServer, serverLogger } from '@timbre/http';
import { masterKeyFrom } from '@timbre/store';
import { buildApp } from './app.js';
import type { SiiEnvironmentName } from './config.js';

const env = process.env;
const databaseUrl = env.DATABASE_URL ?? 'sqlite:./.tmp/timbre.db';
const address = listenAddress(env, 8001);
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

const ms = (name: string): number | undefined => {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of milliseconds (got ${v})`);
  return n;
};
const recoveryIntervalMs = ms('TIMBRE_RECOVERY_INTERVAL_MS');
const pollIntervalMs = ms('TIMBRE_POLL_INTERVAL_MS');
const pollBaseMs = ms('TIMBRE_POLL_BASE_MS');
const pipeline = {
  ...(pollIntervalMs === 0
    ? { poll: false as const }
    : pollIntervalMs !== undefined || pollBaseMs !== undefined
      ? { poll: { ...(pollIntervalMs !== undefined ? { intervalMs: pollIntervalMs } : {}), ...(pollBaseMs !== undefined ? { baseMs: pollBaseMs } : {}) } }
      : {}),
  ...(ms('TIMBRE_LEASE_MS') !== undefined ? { leaseMs: ms('TIMBRE_LEASE_MS') } : {}),
  ...(ms('TIMBRE_RETRY_BASE_MS') !== undefined ? { retryBaseMs: ms('TIMBRE_RETRY_BASE_MS') } : {}),
  ...(recoveryIntervalMs !== undefined ? { recoveryIntervalMs: recoveryIntervalMs === 0 ? (false as const) : recoveryIntervalMs } : {}),
};

// Webhooks: TIMBRE_WEBHOOKS=off disables the dispatcher and the CAF/certificate alerts (the API stays).
const webhooks =
  env.TIMBRE_WEBHOOKS === 'off'
    ? (false as const)
    : {
        ...(ms('TIMBRE_WEBHOOK_INTERVAL_MS') !== undefined ? { intervalMs: ms('TIMBRE_WEBHOOK_INTERVAL_MS') } : {}),
        ...(ms('TIMBRE_WEBHOOK_RETRY_BASE_MS') !== undefined ? { retryBaseMs: ms('TIMBRE_WEBHOOK_RETRY_BASE_MS') } : {}),
        ...(ms('TIMBRE_WEBHOOK_TIMEOUT_MS') !== undefined ? { timeoutMs: ms('TIMBRE_WEBHOOK_TIMEOUT_MS') } : {}),
        ...(ms('TIMBRE_WEBHOOK_MAX_ATTEMPTS') !== undefined ? { maxAttempts: ms('TIMBRE_WEBHOOK_MAX_ATTEMPTS') } : {}),
      };

// Crash tests only: die without any cleanup right after the named step is persisted.
const crashAt = env.TIMBRE_TEST_CRASH_AT;
const faultPoint = crashAt
  ? (point: string) => {
      if (point === crashAt) process.kill(process.pid, 'SIGKILL');
    }
  : undefined;

// Per principal (IP when unauthenticated): RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS; RATE_LIMIT_MAX=0 turns it off.
const rateLimit = rateLimitFromEnv(env);

const app = await buildApp(
  {
    databaseUrl,
    ...(env.DATABASE_SCHEMA ? { databaseSearchPath: env.DATABASE_SCHEMA } : {}),
    masterKey: masterKeyFrom(masterKeyText),
    jwtKey: jwtKeyFrom(env.TIMBRE_JWT_SECRET),
    sii: { environment: siiEnv, ...(siiUrl ? { url: siiUrl } : {}) },
    rateLimit,
    pipeline,
    webhooks,
    ...(env.QUEUE_URL ? { queueUrl: env.QUEUE_URL } : {}),
    ...(env.QUEUE_PREFIX ? { queueName: env.QUEUE_PREFIX } : {}),
    // Shared cache (SII tokens, CAF verifications) and rate-limit store; absent: in memory, per process.
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    ...(ms('TIMBRE_ENVELOPE_SIZE') !== undefined ? { batch: { envelopeSize: ms('TIMBRE_ENVELOPE_SIZE') as number } } : {}),
    ...(faultPoint ? { faultPoint } : {}),
    // SII XML schemas: received documents are validated against them (absent: not schema-validated).
    ...(env.TIMBRE_SII_SCHEMAS ? { schemasDir: env.TIMBRE_SII_SCHEMAS } : {}),
    // Pretty output is a TTY concern, not an environment one.
    logger: serverLogger(env.LOG_LEVEL),
  },
  { connectionTimeout: 130_000, requestTimeout: 150_000, keepAliveTimeout: 75_000 },
);
for (const n of notices) app.log.warn(n);

await runServer(app, address);
