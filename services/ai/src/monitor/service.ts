/**
 * The SII monitor inside the AI service: one pass (`runOnce`) = SiiMonitor over the SII's pages,
 * classification, storing the new publications with the run (one transaction), then — after the
 * commit — a delivery pass of the notifier. A scheduler runs a pass shortly after start and then
 * every `intervalMs`; the notifier retries pending deliveries every `notifyPollMs`. One pass at a
 * time per process: a manual pass while one runs is refused (the route answers 409), a scheduled tick
 * is skipped. Two processes on one database may both run a pass: the unique key keeps each
 * publication once and only the inserting pass reports it.
 */
import { SiiMonitor, classify, type ResumenEnricher, type SiiMonitorOptions, type SiiPublication } from '@timbre/sii-monitor';
import type { Kysely } from 'kysely';
import { Notifier } from './notifier.js';
import { MonitorRepository, type PublicationRow, type RunRow } from './repository.js';
import { migrateAiDb, openAiDb, type AiDatabase } from './schema.js';

export interface SiiMonitorConfig {
  /** The SII site root (TIMBRE_SII_BASE_URL), default https://www.sii.cl. */
  baseUrl?: string;
  /** Between passes, ms (TIMBRE_SII_MONITOR_INTERVAL_MS; default 6 h). 0: no schedule, manual passes only. */
  intervalMs?: number;
  /** First scheduled pass after start, ms (default 30 s). */
  firstRunDelayMs?: number;
  /** Odoo's sii_change endpoint (from ODOO_WEBHOOK_URL); absent: publications are stored, not sent. */
  odooWebhookUrl?: string;
  /** HMAC secret of the webhook (TIMBRE_AI_WEBHOOK_SECRET). */
  webhookSecret?: string;
  /** Notify non-DTE publications from this priority up (default 7). */
  minPrioridad?: number;
  /** Retry delays of the notifier (default 30 s doubling to 1 h) and how often it looks (default 15 s). */
  notifyBackoffMs?: number;
  notifyMaxBackoffMs?: number;
  notifyPollMs?: number;
  /** HTTP options of the SII client (timeouts, retries, an injected fetch; tests shorten them). */
  siiHttp?: Pick<SiiMonitorOptions, 'timeoutMs' | 'retries' | 'backoffMs' | 'maxBytes' | 'fetch'>;
  /** Rewrites `resumen` of new items (e.g. an LLM); a failure or a timeout (10 s) keeps the deterministic one. */
  enricher?: ResumenEnricher;
  /** Clock (tests). */
  now?: () => Date;
}

export class MonitorBusyError extends Error {
  readonly code = 'ERR_SII_MONITOR_BUSY';
  constructor() {
    super('a monitor pass is already running');
    this.name = 'MonitorBusyError';
  }
}

export interface RunOutcome {
  run: RunRow;
  newItems: PublicationRow[];
  errors: Array<{ code: string; message: string; url?: string | undefined }>;
}

export class MonitorService {
  readonly repo: MonitorRepository;
  readonly notifier: Notifier | undefined;
  private readonly monitor: SiiMonitor;
  private readonly now: () => Date;
  private readonly minPrioridad: number;
  private current: Promise<RunOutcome> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** When the scheduler runs next (ISO), if it runs. */
  nextRunAt: string | undefined;

  private constructor(
    readonly db: Kysely<AiDatabase>,
    private readonly config: SiiMonitorConfig,
  ) {
    this.repo = new MonitorRepository(db);
    this.now = config.now ?? (() => new Date());
    this.minPrioridad = config.minPrioridad ?? 7;
    this.monitor = new SiiMonitor({ ...(config.baseUrl ? { baseUrl: config.baseUrl } : {}), ...(config.siiHttp ?? {}) });
    this.notifier =
      config.odooWebhookUrl && config.webhookSecret
        ? new Notifier(this.repo, {
            url: config.odooWebhookUrl,
            secret: config.webhookSecret,
            now: this.now,
            ...(config.notifyBackoffMs !== undefined ? { backoffMs: config.notifyBackoffMs } : {}),
            ...(config.notifyMaxBackoffMs !== undefined ? { maxBackoffMs: config.notifyMaxBackoffMs } : {}),
          })
        : undefined;
  }

  /** Open the database, migrate, close runs a dead process left open, start the timers. */
  static async start(input: { databaseUrl: string; searchPath?: string; config: SiiMonitorConfig; onError?: (e: unknown) => void }): Promise<MonitorService> {
    const db = openAiDb(input.databaseUrl, input.searchPath);
    try {
      await migrateAiDb(db, input.searchPath ? { schema: input.searchPath } : {});
      const svc = new MonitorService(db, input.config);
      await svc.repo.abandonRunning(svc.now().toISOString());
      svc.startTimers(input.onError ?? (() => undefined));
      return svc;
    } catch (e) {
      await db.destroy();
      throw e;
    }
  }

  private startTimers(onError: (e: unknown) => void): void {
    const interval = this.config.intervalMs ?? 6 * 3_600_000;
    if (interval > 0) {
      const first = this.config.firstRunDelayMs ?? 30_000;
      const tick = (): void => {
        if (this.closed) return;
        this.nextRunAt = new Date(this.now().getTime() + interval).toISOString();
        if (!this.current) this.runOnce('schedule').catch(onError);
      };
      this.nextRunAt = new Date(this.now().getTime() + first).toISOString();
      const t = setTimeout(() => {
        tick();
        const i = setInterval(tick, interval);
        i.unref();
        this.timers.push(i);
      }, first);
      t.unref();
      this.timers.push(t);
    }
    if (this.notifier) {
      const notifier = this.notifier;
      // Right away: deliveries a previous process left pending go out without waiting for a pass.
      notifier.deliverDue().catch(onError);
      const p = setInterval(() => {
        if (!this.closed) notifier.deliverDue().catch(onError);
      }, this.config.notifyPollMs ?? 15_000);
      p.unref();
      this.timers.push(p);
    }
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  /** One pass now; MonitorBusyError if one is running in this process. */
  runOnce(trigger: 'schedule' | 'manual'): Promise<RunOutcome> {
    if (this.current) return Promise.reject(new MonitorBusyError());
    this.current = this.pass(trigger).finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  private async pass(trigger: 'schedule' | 'manual'): Promise<RunOutcome> {
    const startedAt = this.now();
    const runId = await this.repo.startRun(trigger, startedAt.toISOString());
    let result: Awaited<ReturnType<SiiMonitor['run']>>;
    try {
      result = await this.monitor.run({ now: startedAt, store: { unseen: (items) => this.repo.unseen(items) } });
    } catch (e) {
      // Not a page failure (those are in result.errors): the store or a bug. Recorded all the same.
      const errors = [{ code: (e as { code?: string }).code ?? 'ERR_INTERNAL', message: (e as Error).message }];
      await this.repo.finishRun({ runId, finishedAt: this.now().toISOString(), status: 'failed', errors, items: [] });
      throw e;
    }
    const errors = result.errors.map((e) => ({ code: e.code, message: e.message, url: e.url }));
    const status = errors.length === 0 ? 'ok' : result.items.length > 0 ? 'partial' : 'failed';
    const items = await Promise.all(
      result.newItems.map(async (item: SiiPublication) => {
        const classification = classify(item);
        if (this.config.enricher) classification.resumen = await this.enrich(item, classification);
        return { item, classification, notify: classification.relevante_dte || classification.prioridad >= this.minPrioridad };
      }),
    );
    const newItems = await this.repo.finishRun({ runId, finishedAt: this.now().toISOString(), status, errors, items });
    // After the commit: a crash before this line leaves the rows due, and the next process sends them.
    if (this.notifier && newItems.some((r) => r.notify === 1)) this.notifier.deliverDue().catch(() => undefined);
    const run = await this.repo.getRun(runId);
    if (!run) throw new Error(`run ${runId} vanished`);
    return { run, newItems, errors };
  }

  private async enrich(item: SiiPublication, c: ReturnType<typeof classify>): Promise<string> {
    try {
      const text = await this.config.enricher!.enrich(item, c, AbortSignal.timeout(10_000));
      return typeof text === 'string' && text.trim() !== '' ? text.trim().slice(0, 2000) : c.resumen;
    } catch {
      return c.resumen;
    }
  }

  /** Stop the timers, let a pass and a delivery in flight finish, close the database. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    await this.current?.catch(() => undefined);
    await this.notifier?.idle();
    await this.db.destroy();
  }
}
