import type { ApiKeyRecord } from '@timbre/auth';

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
  };
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
  };
  /**
   * Test hook, called right after each persisted step of a document (`draft`, `signed`, `enveloped`,
   * `uploading`, `uploaded`, `sent`). server.ts wires `TIMBRE_TEST_CRASH_AT` to a SIGKILL here.
   */
  faultPoint?: (point: 'draft' | 'signed' | 'enveloped' | 'uploading' | 'uploaded' | 'sent') => void;
  /**
   * Requests per principal (JWT `sub` / API key id; the client IP when unauthenticated) and window.
   * Default 600 per 60 000 ms; `false` turns limiting off. `/health`, `/ready`, `/metrics` are exempt.
   */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /** Clock (tests). Default: `() => new Date()`. */
  now?: () => Date;
  /** Fastify logger option (server.ts sets it; tests leave it off). */
  logger?: boolean | Record<string, unknown>;
}
