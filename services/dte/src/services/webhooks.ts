/**
 * Webhooks: the outbox dispatcher and the periodic alerts.
 *
 * Events are written to `outbox_event` by whoever changes state, in the same transaction
 * (`recordEvent`). The WebhookDispatcher fans them out into deliveries (one per matching
 * subscription) and POSTs them, signed (@timbre/webhooks), keeping per-document order: only the
 * oldest pending delivery of a (subscription, aggregate_key) is ever in flight. 2xx → delivered;
 * 410 → the subscription is deactivated and the delivery dead; anything else (other status,
 * network error, timeout) → retry with exponential backoff and jitter, dead after maxAttempts (the
 * dead-letter list, `POST …/redeliver`). Delivery is at least once: a receiver dedupes by
 * `X-Timbre-Delivery`.
 *
 * PeriodicAlerts records `caf.low`, `caf.expiring` and `certificate.expiring` at most once per
 * Chilean calendar day per (event type, aggregate).
 */
import { siiDate, siiTimestamp } from '@timbre/dte';
import {
  cafStatus,
  claimDueDeliveries,
  deactivateSubscription,
  fanOutEvents,
  findLatestEvent,
  lockCompany,
  markDelivered,
  markFailed,
  recordEvent,
  writeTransaction,
  type ClaimedDelivery,
  type Database,
  type SecretBox,
} from '@timbre/store';
import { webhookHeaders } from '@timbre/webhooks';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AppConfig } from '../config.js';
import { PeriodicTask } from './periodic.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The webhook workers; undefined when `config.webhooks === false`. */
    webhooks: { dispatcher: WebhookDispatcher; alerts: PeriodicAlerts | undefined } | undefined;
  }
}

export interface WebhookDeps {
  db: Kysely<Database>;
  box: SecretBox;
  log: FastifyBaseLogger;
  now: () => Date;
}

export interface DispatcherOptions {
  /** Pause between passes, ms (default 1 000). */
  intervalMs: number;
  /** First retry delay, ms (default 10 000); doubles per attempt, with jitter. */
  retryBaseMs: number;
  /** Longest retry delay, ms (default 3 600 000). */
  retryMaxMs: number;
  /** Attempts before a delivery is dead (default 15). */
  maxAttempts: number;
  /** Per-request timeout, ms (default 10 000). */
  timeoutMs: number;
  /** Requests in flight at once (default 8). */
  concurrency: number;
  /** How long a claimed delivery belongs to this process, ms (default timeoutMs + 30 000). */
  leaseMs?: number;
  /** Events fanned out per transaction (default 200). */
  fanOutBatch?: number;
}

/** `X-Timbre-Delivery` of a delivery row: unique, and the same on every retry. */
export const deliveryHeaderId = (id: number): string => `whd_${id}`;

/** Exponential backoff with "equal jitter": a delay in [d/2, d], d = min(max, base·2^(attempt−1)). */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + (random() * d) / 2);
}

const RESPONSE_SNIPPET = 300;

/** Up to RESPONSE_SNIPPET characters of the answer (for the delivery list), never the whole body. */
async function snippet(res: Response): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_SNIPPET * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // the answer was cut: what arrived is enough
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, RESPONSE_SNIPPET);
}

const describeError = (err: unknown): string => {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return 'timeout';
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`.slice(0, 300);
};

/**
 * Periodic passes: fan out new events, then send what is due with at most `concurrency` requests in
 * flight. One pass at a time; `stop()` aborts requests in flight (they are retried at the next
 * start) and waits for the pass. Errors (database down) are logged; the next pass retries.
 */
export class WebhookDispatcher {
  private stopped = false;
  private aborter = new AbortController();
  private readonly leaseMs: number;
  private readonly loop: PeriodicTask;

  constructor(
    private readonly deps: WebhookDeps,
    private readonly options: DispatcherOptions,
  ) {
    this.leaseMs = options.leaseMs ?? options.timeoutMs + 30_000;
    this.loop = new PeriodicTask(() => this.pass(), {
      intervalMs: options.intervalMs,
      firstDelayMs: Math.min(200, options.intervalMs),
      onError: (err) => deps.log.error({ err }, 'webhook pass failed'),
    });
  }

  start(): void {
    this.stopped = false;
    this.aborter = new AbortController();
    this.loop.start();
  }

  /** Run a pass soon (after new events or a redeliver) instead of waiting for the interval. */
  kick(): void {
    if (!this.stopped) this.loop.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.aborter.abort();
    await this.loop.stop();
  }

  /** One pass (also callable directly, e.g. from tests); errors are logged, never thrown. */
  async pass(): Promise<void> {
    try {
      await this.fanOut();
      let lastFanOut = Date.now();
      const inFlight = new Set<Promise<void>>();
      for (;;) {
        if (this.stopped) break;
        // New events keep flowing in while a long pass runs.
        if (Date.now() - lastFanOut >= this.options.intervalMs) {
          await this.fanOut();
          lastFanOut = Date.now();
        }
        const free = this.options.concurrency - inFlight.size;
        const claimed = free > 0 ? await claimDueDeliveries(this.deps.db, { now: this.deps.now(), leaseMs: this.leaseMs, limit: free }) : [];
        for (const c of claimed) {
          const p: Promise<void> = this.send(c)
            .catch((err: unknown) => this.deps.log.error({ err, delivery: c.id }, 'webhook delivery bookkeeping failed'))
            .finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
        if (inFlight.size === 0) break;
        if (claimed.length === 0 || inFlight.size >= this.options.concurrency) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    } catch (err) {
      this.deps.log.error({ err }, 'webhook dispatch pass failed');
    }
  }

  private async fanOut(): Promise<void> {
    const batch = this.options.fanOutBatch ?? 200;
    for (let i = 0; i < 50; i++) {
      const r = await fanOutEvents(this.deps.db, { limit: batch, now: this.deps.now() });
      if (r.events < batch) break;
    }
  }

  private async send(c: ClaimedDelivery): Promise<void> {
    const { db, log } = this.deps;
    const deliveryId = deliveryHeaderId(c.id);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.options.timeoutMs);
    const onStop = () => timeout.abort();
    this.aborter.signal.addEventListener('abort', onStop);
    let status: number | undefined;
    let error: string;
    try {
      let secret: string;
      try {
        secret = this.deps.box.open(c.secret_encrypted).toString('utf8');
      } catch {
        throw new Error('the subscription secret cannot be opened (was the master key changed?)');
      }
      const headers = { ...webhookHeaders({ event: c.event_type, deliveryId, secret, body: c.payload_json, now: this.deps.now() }), 'User-Agent': 'Timbre-Webhooks/1' };
      // Redirects are not followed: a signed body goes only where the subscription says.
      const res = await fetch(c.url, { method: 'POST', headers, body: c.payload_json, redirect: 'manual', signal: timeout.signal });
      status = res.status;
      const text = await snippet(res);
      error = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
    } catch (err) {
      error = this.stopped ? 'interrupted: the service stopped' : describeError(err);
    } finally {
      clearTimeout(timer);
      this.aborter.signal.removeEventListener('abort', onStop);
    }
    const now = this.deps.now();
    const where = { delivery: deliveryId, subscription: c.subscription_id, event: c.event_type, attempts: c.attempts };

    if (status !== undefined && status >= 200 && status < 300) {
      await markDelivered(db, c.id, { statusCode: status, now });
      return;
    }
    if (status === 410) {
      await markFailed(db, c.id, { statusCode: 410, error, dead: true, now });
      await deactivateSubscription(db, c.subscription_id, { reason: 'subscription deactivated: the endpoint answered 410 Gone', now });
      log.warn(where, 'webhook endpoint answered 410 Gone: subscription deactivated');
      return;
    }
    if (this.stopped && status === undefined) {
      // Not the receiver's fault: due again as soon as a process runs.
      await markFailed(db, c.id, { statusCode: null, error, nextAttemptAt: now, now });
      return;
    }
    if (c.attempts >= this.options.maxAttempts) {
      await markFailed(db, c.id, { statusCode: status ?? null, error, dead: true, now });
      log.warn({ ...where, error }, 'webhook delivery dead after its last attempt');
      return;
    }
    const next = new Date(now.getTime() + retryDelayMs(c.attempts, this.options.retryBaseMs, this.options.retryMaxMs));
    await markFailed(db, c.id, { statusCode: status ?? null, error, nextAttemptAt: next, now });
    log.info({ ...where, error, next_attempt_at: next.toISOString() }, 'webhook delivery failed, will retry');
  }
}

export interface AlertsOptions {
  /** Pause between checks, ms (default 3 600 000). */
  intervalMs: number;
  /** `caf.low` when fewer usable folios than this are left for a type (default 100). */
  minFolios?: number;
  /** `caf.expiring` when a usable CAF expires within this many days (default 30). */
  cafExpiringDays?: number;
  /** `certificate.expiring` when the company's latest certificate ends within this many days (default 30). */
  certificateExpiringDays?: number;
}

const DAY_MS = 86_400_000;
const chileDate = (d: Date): string => siiDate(siiTimestamp(d));
const daysBetween = (from: string, to: string): number => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);

/**
 * Folio and certificate alerts for every company: `caf.low` and `caf.expiring` (aggregate
 * `caf:<rut>:<tipo>`) from cafStatus, `certificate.expiring` (aggregate `certificate:<rut>`) when the
 * newest certificate ends within 30 days (or has ended). Each (event type, aggregate) is recorded at
 * most once per Chilean calendar day, checked and recorded in one write transaction.
 */
export class PeriodicAlerts {
  private readonly loop: PeriodicTask;

  constructor(
    private readonly deps: WebhookDeps,
    private readonly options: AlertsOptions,
  ) {
    this.loop = new PeriodicTask(() => this.check(), {
      intervalMs: options.intervalMs,
      onError: (err) => deps.log.error({ err }, 'webhook alerts check failed'),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One check of every company; returns the events recorded. */
  async check(): Promise<Array<{ eventType: string; aggregateKey: string }>> {
    const { db } = this.deps;
    const now = this.deps.now();
    const fecha = chileDate(now);
    const minFolios = this.options.minFolios ?? 100;
    const cafDays = this.options.cafExpiringDays ?? 30;
    const certDays = this.options.certificateExpiringDays ?? 30;
    const recorded: Array<{ eventType: string; aggregateKey: string }> = [];
    const emit = async (rut: string, eventType: string, aggregateKey: string, payload: Record<string, unknown>) => {
      if (await this.recordOncePerDay(rut, eventType, aggregateKey, payload, now, fecha)) recorded.push({ eventType, aggregateKey });
    };

    const companies = await db.selectFrom('company').select('rut').orderBy('rut').execute();
    for (const { rut } of companies) {
      for (const t of await cafStatus(db, rut, { fecha, minFolios, expiringWithinDays: cafDays })) {
        const base = { rut_emisor: rut, dte_type: String(t.tipoDte) };
        const key = `caf:${rut}:${t.tipoDte}`;
        if (t.foliosLeft < minFolios) {
          await emit(rut, 'caf.low', key, {
            ...base,
            folios_left: t.foliosLeft,
            next_folio: t.nextFolio ?? null,
            min_folios: minFolios,
            fecha,
            message: t.warnings[0] ?? `only ${t.foliosLeft} folios left for type ${t.tipoDte}`,
          });
        }
        const expiring = t.cafs.filter((c) => c.usable && c.expiresAt !== undefined && daysBetween(fecha, c.expiresAt) <= cafDays);
        if (expiring.length > 0) {
          const first = expiring.map((c) => c.expiresAt as string).sort()[0] as string;
          await emit(rut, 'caf.expiring', key, {
            ...base,
            expires_at: first,
            days_left: daysBetween(fecha, first),
            folios_left: expiring.reduce((n, c) => n + c.foliosLeft, 0),
            cafs: expiring.map((c) => ({ desde: c.desde, hasta: c.hasta, next_folio: c.nextFolio, folios_left: c.foliosLeft, expires_at: c.expiresAt })),
            fecha,
            message: `${expiring.length} CAF(s) of type ${t.tipoDte} expire by ${first}`,
          });
        }
      }

      const cert = await db
        .selectFrom('certificate')
        .select(['id', 'rut_signer', 'not_after'])
        .where('rut_company', '=', rut)
        .orderBy('not_after', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (cert !== undefined) {
        const leftMs = Date.parse(cert.not_after) - now.getTime();
        if (leftMs <= certDays * DAY_MS) {
          await emit(rut, 'certificate.expiring', `certificate:${rut}`, {
            rut_emisor: rut,
            rut_signer: cert.rut_signer,
            certificate_id: Number(cert.id),
            not_after: cert.not_after,
            days_left: Math.floor(leftMs / DAY_MS),
            expired: leftMs <= 0,
            fecha,
          });
        }
      }
    }
    if (recorded.length > 0) this.deps.log.info({ events: recorded }, 'webhook alerts recorded');
    return recorded;
  }

  private async recordOncePerDay(rut: string, eventType: string, aggregateKey: string, payload: Record<string, unknown>, now: Date, fecha: string): Promise<boolean> {
    return writeTransaction(this.deps.db, async (trx) => {
      await lockCompany(trx, rut);
      const last = await findLatestEvent(trx, { eventType, aggregateKey });
      if (last !== undefined && chileDate(new Date(last.created_at)) === fecha) return false;
      await recordEvent(trx, { rutCompany: rut, eventType, aggregateKey, payload, now });
      return true;
    });
  }
}

/** Create the workers from `config.webhooks`, start them when the app is ready and stop them on close. */
export function registerWebhookWorkers(app: FastifyInstance, config: AppConfig): void {
  const w = config.webhooks;
  if (w === false) {
    app.decorate('webhooks', undefined);
    return;
  }
  const o = w ?? {};
  const deps: WebhookDeps = { db: app.db, box: app.secretBox, log: app.log, now: config.now ?? (() => new Date()) };
  const dispatcher = new WebhookDispatcher(deps, {
    intervalMs: o.intervalMs ?? 1_000,
    retryBaseMs: o.retryBaseMs ?? 10_000,
    retryMaxMs: o.retryMaxMs ?? 3_600_000,
    maxAttempts: o.maxAttempts ?? 15,
    timeoutMs: o.timeoutMs ?? 10_000,
    concurrency: o.concurrency ?? 8,
  });
  const alerts = o.alertsIntervalMs === false ? undefined : new PeriodicAlerts(deps, { intervalMs: o.alertsIntervalMs ?? 3_600_000 });
  app.decorate('webhooks', { dispatcher, alerts });
  app.addHook('onReady', async () => {
    dispatcher.start();
    alerts?.start();
  });
  app.addHook('onClose', async () => {
    await Promise.all([dispatcher.stop(), alerts?.stop()]);
  });
}
