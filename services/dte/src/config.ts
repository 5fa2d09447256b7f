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
  /** Clock (tests). Default: `() => new Date()`. */
  now?: () => Date;
  /** Fastify logger option (server.ts sets it; tests leave it off). */
  logger?: boolean | Record<string, unknown>;
}
