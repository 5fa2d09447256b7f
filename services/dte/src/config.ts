import type { ApiKeyRecord } from '@timbre/auth';
import type { TokenCache } from '@timbre/sii';

export type SiiEnvironmentName = 'sim' | 'certificacion' | 'produccion';

/** Everything the DTE service needs; `server.ts` builds it from the environment, tests build it directly. */
export interface AppConfig {
  /** `sqlite:PATH`, `sqlite::memory:` or `postgres://…` (see @timbre/store). */
  databaseUrl: string;
  /** PostgreSQL only: schema for every connection (tests use a fresh one). */
  databaseSearchPath?: string;
  /** 32 bytes (AES-256-GCM key for the SecretBox). */
  masterKey: Buffer;
  /** HS256 key for bearer tokens (≥ 32 bytes, see jwtKeyFrom). */
  jwtKey: Uint8Array;
  /** Hashed API keys for service-to-service calls. */
  apiKeys?: readonly ApiKeyRecord[];
  sii: {
    environment: SiiEnvironmentName;
    /** Base URL override (the simulator: http://127.0.0.1:8090). */
    url?: string;
    /** Per-attempt timeout of SII queries, ms. */
    timeoutMs?: number;
    /** Attempts per SII call (first included). */
    maxAttempts?: number;
    /**
     * Keys that sign CAFs (`{ idk, pem }`). When absent in `sim`, the simulator's key is fetched from
     * `{url}/sim/trust`; in other environments an unverified CAF is stored and reported as such.
     */
    cafTrustedKeys?: Array<{ idk: number; pem: string }>;
    /**
     * SII tokens shared by every SII client of the service. Absent: buildApp makes one, backed by
     * the cache (`redisUrl`) so that every instance shares one SII login (see plugins/cache.ts).
     */
    tokenCache?: TokenCache;
  };
  /**
   * `redis://…` / `rediss://…` (REDIS_URL): the shared cache (SII tokens, CAF verifications) and
   * rate-limit store. Absent: an in-memory LRU and per-process rate limits. Redis is an accelerator:
   * when it is unreachable every answer stays the same (cache misses; per-process rate limits).
   */
  redisUrl?: string;
  /** Redis key prefix (default `timbre:`; tests use a fresh one). */
  cachePrefix?: string;
  /** `amqp://…` selects RabbitMQ for batches; absent: the embedded queue on the database. */
  queueUrl?: string;
  /** RabbitMQ queue/exchange prefix (default `timbre`; QUEUE_PREFIX); one per deployment sharing a broker. */
  queueName?: string;
  /** Embedded queue: lease of a claimed job, ms (default 60 000) and idle polling, ms (default 250). */
  queueLeaseMs?: number;
  queuePollMs?: number;
  /** Batches: documents per envelope (default 200), send jobs in flight per process (2), `workers: false` = no consumers in this process. */
  batch?: { envelopeSize?: number; sendConcurrency?: number; workers?: boolean; janitorIntervalMs?: number };
  /** Document pipeline and recovery (see services/pipeline.ts and services/recovery.ts). */
  pipeline?: {
    /** How long a worker owns a document, ms (default 300 000; must exceed the longest upload). */
    leaseMs?: number;
    /** First retry delay after a transient SII failure, ms (default 5 000; doubles, at most 15 min). */
    retryBaseMs?: number;
    /** After a lost upload answer: how long to ask the SII before uploading the same bytes again, ms (default 20 000). */
    deliverStatusWaitMs?: number;
    /** Recovery sweep period, ms (default 30 000); `false` turns the sweep off (resend stays available). */
    recoveryIntervalMs?: number | false;
    /** Documents per sweep (default 50). */
    recoveryBatch?: number;
    /**
     * The status poller (documents `sent` → final): wake-up period (default 5 000 ms), first delay
     * after a non-final answer (default 15 000 ms, doubling, at most `maxMs`, default 1 h), documents
     * per pass (200), SII queries per company per pass (20). `false` turns it off (GET /status stays).
     */
    poll?: { intervalMs?: number; baseMs?: number; maxMs?: number; batch?: number; perCompany?: number } | false;
  };
  /**
   * Test hook, called right after each persisted step of a document (`draft`, `signed`, `enveloped`,
   * `uploading`, `uploaded`, `sent`) and after a received message is stored, before it is marked
   * in the mailbox (`inbox.stored`). server.ts wires `TIMBRE_TEST_CRASH_AT` to a SIGKILL here.
   */
  faultPoint?: (point: 'draft' | 'signed' | 'enveloped' | 'uploading' | 'uploaded' | 'sent' | 'inbox.stored') => void;
  /**
   * Received documents (services/inbox.ts): the `dte.response_due` check period (default 3 600 000
   * ms; `false`: off) and how long before the 8-day deadline a DTE without a commercial response is
   * reported (default 2 days).
   */
  inbox?: { responseDueIntervalMs?: number | false; dueWithinMs?: number };
  /**
   * Directory of the SII XML schemas (TIMBRE_SII_SCHEMAS; see @timbre/xsd's SCHEMAS_HELP). Set:
   * loaded once at startup (a missing or incomplete directory fails the start) and every received
   * EnvioDTE / EnvioBOLETA / DTE is validated against its XSD (failing → EstadoRecepEnv 1). Absent:
   * received documents are not schema-validated (their reports say so).
   */
  schemasDir?: string;
  /**
   * Requests per principal (JWT `sub` / API key id; the client IP when unauthenticated) and window.
   * Default 600 per 60 000 ms; `false` turns limiting off. `/health`, `/ready`, `/metrics` are exempt.
   */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /**
   * Webhooks (services/webhooks.ts): dispatcher pass period (default 1 000 ms), first retry delay
   * (10 000 ms, doubling with jitter, at most `retryMaxMs`, 1 h), attempts before a delivery is dead
   * (15), request timeout (10 000 ms), requests in flight (8), CAF/certificate alert check period
   * (3 600 000 ms; `false`: no alerts). `false` turns dispatcher and alerts off (the API stays).
   */
  webhooks?:
    | { intervalMs?: number; retryBaseMs?: number; retryMaxMs?: number; maxAttempts?: number; timeoutMs?: number; concurrency?: number; alertsIntervalMs?: number | false }
    | false;
  /** Clock (tests). Default: `() => new Date()`. */
  now?: () => Date;
  /** Fastify logger option (server.ts sets it; tests leave it off). */
  logger?: boolean | Record<string, unknown>;
}
