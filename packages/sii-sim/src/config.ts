/**
 * Simulator options and their defaults.
 */
import type { KeyObject } from 'node:crypto';
import type { FastifyServerOptions } from 'fastify';
import type { SimClock } from './clock.js';
import type { FaultRuleInput } from './faults.js';

export interface CompanyConfig {
  /**
   * RUTs of the people allowed to sign and send for the company. Absent: anyone with a valid
   * certificate may (the simulator's default, so that any test company works).
   */
  authorizedSigners?: string[];
}

export interface SimulatorOptions {
  /** Default port for `start()`, default 8090 (0 = any free port). */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /**
   * Directory holding the SII XSDs (DTE_v10.xsd, EnvioDTE_v10.xsd, EnvioBOLETA_v11.xsd, …). When set
   * and `xmllint-wasm` can be loaded, envelopes are schema-validated (RSC on failure); otherwise
   * the schema step is skipped and the envío records a note saying so.
   */
  schemasDir?: string;
  /**
   * Extra SII keys trusted for CAF signatures (FRMA), besides the simulator's own: e.g. the real
   * certificación key 100 to accept real CAFs, or a test fixture key.
   */
  trustedKeys?: Array<{ idk: number; pem: string }> | Map<number, KeyObject>;
  /**
   * The simulator's own SII key (PEM, PKCS#8 or PKCS#1) and IDK, to keep CAFs valid across runs.
   * Default: a fresh RSA-1024 key per simulator and IDK `SIM_DEFAULT_IDK`.
   */
  siiKey?: { idk?: number; privateKeyPem: string };
  /** IDK of a generated key, default `SIM_DEFAULT_IDK`. */
  idk?: number;
  /** Time from upload to the final envelope state (REC → SOK → FOK → CRT → EPR), default 1000 ms; 0 = immediate. */
  statusDelayMs?: number;
  /** Token lifetime, default 1 h (the SII does not document it). */
  tokenTtlMs?: number;
  /** Seed lifetime, default 2 minutes (AUTH ch. 2). */
  seedTtlMs?: number;
  /** Window in which the same file is refused with STATUS 99, default 900 s. */
  duplicateWindowMs?: number;
  /** Largest accepted upload, default 20 MiB (STATUS 2 above it). */
  maxUploadBytes?: number;
  /**
   * Longest accepted line in an uploaded file, default 4096 characters (the SII gateway is
   * line-based: `CHR-00002: Line too long`); 0 disables the check.
   */
  maxLineLength?: number;
  /** Check that NC/ND references point at DTEs the SII has (REF-3-750), default true. */
  checkReferences?: boolean;
  /** Injectable clock (epoch ms); default the system clock. */
  clock?: SimClock;
  /** Seed for deterministic seeds, tokens, track ids and fault draws. */
  seed?: number | string;
  /** Per-company settings keyed by RUT (`76086428-5`). */
  companies?: Record<string, CompanyConfig>;
  /** Fault rules active from the start (see faults.ts); more can be added at runtime. */
  faults?: FaultRuleInput[];
  /** Namespace host written in the SOAP answers (`https://{host}/DTEWS/…`), default `maullin.sii.cl`. */
  soapHost?: string;
  /** Fastify logger option, default false. */
  logger?: FastifyServerOptions['logger'];
}

/** IDK of the simulator's own CAF-signing key: not 100/300 (the real SII's), visibly artificial. */
export const SIM_DEFAULT_IDK = 999_999_100;

export interface ResolvedConfig {
  port: number;
  host: string;
  schemasDir?: string;
  statusDelayMs: number;
  tokenTtlMs: number;
  seedTtlMs: number;
  duplicateWindowMs: number;
  maxUploadBytes: number;
  maxLineLength: number;
  checkReferences: boolean;
  soapHost: string;
}

export function resolveConfig(o: SimulatorOptions): ResolvedConfig {
  const nonNegative = (name: string, v: number | undefined, dflt: number): number => {
    const x = v ?? dflt;
    if (!Number.isFinite(x) || x < 0) throw new TypeError(`createSimulator: ${name} must be a non-negative number, got ${String(v)}`);
    return x;
  };
  return {
    port: nonNegative('port', o.port, 8090),
    host: o.host ?? '127.0.0.1',
    ...(o.schemasDir ? { schemasDir: o.schemasDir } : {}),
    statusDelayMs: nonNegative('statusDelayMs', o.statusDelayMs, 1000),
    tokenTtlMs: nonNegative('tokenTtlMs', o.tokenTtlMs, 3_600_000),
    seedTtlMs: nonNegative('seedTtlMs', o.seedTtlMs, 120_000),
    duplicateWindowMs: nonNegative('duplicateWindowMs', o.duplicateWindowMs, 900_000),
    maxUploadBytes: nonNegative('maxUploadBytes', o.maxUploadBytes, 20 * 1024 * 1024),
    maxLineLength: nonNegative('maxLineLength', o.maxLineLength, 4096),
    checkReferences: o.checkReferences ?? true,
    soapHost: o.soapHost ?? 'maullin.sii.cl',
  };
}
