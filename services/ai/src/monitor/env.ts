/**
 * The SII monitor's configuration from the environment (server.ts): TIMBRE_AI_DATABASE_URL (default
 * `sqlite:./.tmp/timbre-ai.db`, its directory created), TIMBRE_SII_MONITOR_INTERVAL_MS (default 6 h;
 * 0 = manual passes only; `off` disables the monitor), TIMBRE_SII_BASE_URL (https://www.sii.cl),
 * ODOO_WEBHOOK_URL (Odoo's base URL, or any of its `/dte/webhook/…` URLs: the sii_change path is
 * derived) and TIMBRE_AI_WEBHOOK_SECRET (both needed to notify; without them publications are only stored).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseDbUrl } from '@timbre/store';
import type { SiiMonitorConfig } from './service.js';

export const SII_CHANGE_PATH = '/dte/webhook/sii_change';

/** Odoo's sii_change URL from ODOO_WEBHOOK_URL (a base URL or another webhook URL of the same Odoo). */
export function siiChangeUrl(odoo: string): string {
  const u = new URL(odoo);
  const i = u.pathname.indexOf('/dte/webhook/');
  u.pathname = (i >= 0 ? u.pathname.slice(0, i) : u.pathname.replace(/\/+$/, '')) + SII_CHANGE_PATH;
  return u.href;
}

export function siiMonitorFromEnv(env: NodeJS.ProcessEnv): { databaseUrl: string; siiMonitor: SiiMonitorConfig | false } {
  const databaseUrl = env.TIMBRE_AI_DATABASE_URL || 'sqlite:./.tmp/timbre-ai.db';
  const target = parseDbUrl(databaseUrl);
  if (target.kind === 'sqlite' && target.filename !== ':memory:') mkdirSync(dirname(target.filename), { recursive: true });
  const interval = (env.TIMBRE_SII_MONITOR_INTERVAL_MS ?? '').trim();
  if (/^(off|false|disabled)$/i.test(interval)) return { databaseUrl, siiMonitor: false };
  const intervalMs = interval === '' ? undefined : Number(interval);
  if (intervalMs !== undefined && (!Number.isInteger(intervalMs) || intervalMs < 0)) {
    throw new Error(`TIMBRE_SII_MONITOR_INTERVAL_MS must be whole milliseconds ≥ 0 or "off", got "${interval}"`);
  }
  return {
    databaseUrl,
    siiMonitor: {
      baseUrl: env.TIMBRE_SII_BASE_URL || 'https://www.sii.cl',
      ...(intervalMs !== undefined ? { intervalMs } : {}),
      ...(env.ODOO_WEBHOOK_URL ? { odooWebhookUrl: siiChangeUrl(env.ODOO_WEBHOOK_URL) } : {}),
      ...(env.TIMBRE_AI_WEBHOOK_SECRET ? { webhookSecret: env.TIMBRE_AI_WEBHOOK_SECRET } : {}),
    },
  };
}
