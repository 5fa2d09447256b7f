/**
 * Delivers `sii.regulatory_change` to Odoo's `/dte/webhook/sii_change`, signed like every Timbre
 * webhook (@timbre/webhooks). The state is the publication row (`notified_at`, `notify_attempts`,
 * `next_notify_at`, `last_error`), so nothing is lost across restarts: a pending row is retried by
 * whichever process runs next. Failures back off exponentially (base × 2^attempts, capped) and never
 * give up; `X-Timbre-Delivery` is fixed per publication, so a delivery repeated after a crash between
 * Odoo's 2xx and our commit is recognisable as a duplicate (at-least-once, idempotent receiver).
 *
 * Which publications are notified: `relevante_dte`, or `prioridad ≥ minPrioridad` (default 7) for an
 * urgent non-DTE publication (e.g. an IVA change). The rest are stored and visible in the status.
 */
import { webhookHeaders } from '@timbre/webhooks';
import type { MonitorRepository, PublicationRow } from './repository.js';

export const SII_CHANGE_EVENT = 'sii.regulatory_change';

export interface NotifierOptions {
  /** Full URL of Odoo's sii_change endpoint. */
  url: string;
  secret: string;
  /** First retry delay, ms (default 30 s); doubled per failed attempt. */
  backoffMs?: number;
  /** Longest retry delay, ms (default 1 h). */
  maxBackoffMs?: number;
  /** Per attempt, ms (default 10 s). */
  timeoutMs?: number;
  now?: () => Date;
  fetch?: typeof fetch;
}

/** The webhook body, as api-contract.md fixes it. `timestamp` is when the publication was detected. */
export function webhookBody(row: PublicationRow): Record<string, unknown> {
  return {
    event: SII_CHANGE_EVENT,
    tipo: row.tipo,
    numero: row.numero,
    fecha: row.fecha,
    vigencia: row.vigencia,
    titulo: row.titulo,
    resumen: row.resumen,
    impacto: row.impacto,
    prioridad: row.prioridad,
    url: row.url,
    timestamp: row.first_seen_at,
  };
}

export class Notifier {
  private running: Promise<number> | undefined;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => Date;
  private readonly fetchFn: typeof fetch;

  constructor(
    private readonly repo: MonitorRepository,
    private readonly options: NotifierOptions,
  ) {
    this.backoffMs = options.backoffMs ?? 30_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 3_600_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.now = options.now ?? (() => new Date());
    this.fetchFn = options.fetch ?? fetch;
  }

  /** Delay before the retry after `attempts` failed attempts. */
  backoff(attempts: number): number {
    return Math.min(this.maxBackoffMs, this.backoffMs * 2 ** Math.max(0, attempts - 1));
  }

  /** Deliver every due notification; one pass at a time (a second caller joins the first). Returns how many were delivered. */
  deliverDue(): Promise<number> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** Wait for a pass in flight (shutdown). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<number> {
    let delivered = 0;
    const rows = await this.repo.due(this.now().toISOString());
    for (const row of rows) {
      const error = await this.send(row);
      const at = this.now();
      if (error === undefined) {
        await this.repo.markNotified(row.id, at.toISOString());
        delivered++;
      } else {
        await this.repo.markFailed(row.id, error, new Date(at.getTime() + this.backoff(row.notify_attempts + 1)).toISOString());
      }
    }
    return delivered;
  }

  /** One attempt; undefined on 2xx, else why not. */
  private async send(row: PublicationRow): Promise<string | undefined> {
    const body = JSON.stringify(webhookBody(row));
    const headers = webhookHeaders({ event: SII_CHANGE_EVENT, deliveryId: row.delivery_id, secret: this.options.secret, body, now: this.now() });
    try {
      const res = await this.fetchFn(this.options.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      await res.body?.cancel();
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      return err.cause?.code ? `${err.message} (${err.cause.code})` : err.message;
    }
  }
}
