/**
 * Local settings shared by `timbre serve dte`, `timbre token` and `npm start`: the embedded data
 * directory (`.tmp` of the working directory) and its secret files, created on first use.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jwtKeyFrom } from '@timbre/auth';
import type { AppConfig, SiiEnvironmentName } from '@timbre/dte-service';
import { masterKeyFrom } from '@timbre/store';

export const defaultDataDir = (): string => path.resolve('.tmp');
export const jwtSecretFile = (dataDir: string): string => path.join(dataDir, 'jwt.secret');
export const masterKeyFile = (dataDir: string): string => path.join(dataDir, 'master.key');

/** The text of a 32-byte hex secret file (mode 600), created when absent. */
export function ensureSecretFile(file: string): { text: string; created: boolean } {
  let created = false;
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  }
  return { text: readFileSync(file, 'utf8').trim(), created };
}

export interface ServiceSettings {
  databaseUrl?: string;
  siiEnv?: string;
  siiUrl?: string;
  /** Where the embedded database and secret files live (default `.tmp`). */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The DTE service configuration from options, then the environment variables of
 * services/dte/README.md, then the embedded defaults. `notices` tell where secrets came from.
 */
export function serviceConfig(s: ServiceSettings): { config: AppConfig; notices: string[] } {
  const env = s.env ?? process.env;
  const dataDir = path.resolve(s.dataDir ?? defaultDataDir());
  const notices: string[] = [];
  const databaseUrl = s.databaseUrl ?? env.DATABASE_URL ?? `sqlite:${path.join(dataDir, 'timbre.db')}`;
  const siiEnv = (s.siiEnv ?? env.SII_ENV ?? 'sim') as SiiEnvironmentName;
  if (!['sim', 'certificacion', 'produccion'].includes(siiEnv)) {
    throw new Error(`the SII environment must be sim, certificacion or produccion (got ${siiEnv})`);
  }
  const siiUrl = s.siiUrl ?? env.SII_URL ?? (siiEnv === 'sim' ? 'http://127.0.0.1:8090' : undefined);
  const embedded = databaseUrl.startsWith('sqlite:') || !/^[a-z]+:\/\//i.test(databaseUrl);
  if (embedded) {
    const file = databaseUrl.replace(/^sqlite:(\/\/)?/, '');
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }

  let masterKeyText = env.TIMBRE_MASTER_KEY;
  if (!masterKeyText) {
    if (!embedded) throw new Error('TIMBRE_MASTER_KEY is required with an external database');
    const file = masterKeyFile(dataDir);
    const k = ensureSecretFile(file);
    masterKeyText = k.text;
    notices.push(`master key: ${file}${k.created ? ' (created — back it up; sealed CAFs and certificates need it)' : ''}`);
  }
  let jwtText = env.TIMBRE_JWT_SECRET;
  if (!jwtText) {
    const file = jwtSecretFile(dataDir);
    const k = ensureSecretFile(file);
    jwtText = k.text;
    notices.push(`JWT secret: ${file}${k.created ? ' (created)' : ''} — \`timbre token --company RUT\` signs with it`);
  }
  return {
    config: {
      databaseUrl,
      masterKey: masterKeyFrom(masterKeyText),
      jwtKey: jwtKeyFrom(jwtText),
      sii: { environment: siiEnv, ...(siiUrl ? { url: siiUrl } : {}) },
    },
    notices,
  };
}

/** Resolve when SIGINT or SIGTERM arrives. */
export function untilInterrupted(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
