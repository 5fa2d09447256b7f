/**
 * Finishing what was left unfinished: documents in `draft` or `signed` whose lease ran out (the
 * process that held them died, or the SII was unreachable and the retry time has come). Used by
 * `POST /api/v1/dte/recovery/resend` (on demand) and by a periodic sweep that starts with the
 * service — so that the next start finishes the job on its own.
 *
 * Each document is taken with its lease (one guarded UPDATE), so several service processes sharing
 * a database never work on the same document at once.
 */
import { findDteByKey, leaseDte, listDueDtes, type DteRow, type DteStatus } from '@timbre/store';
import { recordOutcome, type IssuerDeps } from './issuer.js';
import { advance } from './pipeline.js';
import { PeriodicTask } from './periodic.js';

export interface ResendFilter {
  rutEmisor?: string;
  tipoDte?: number;
  folio?: number;
  ids?: readonly number[];
  limit?: number;
  /** Ignore the retry schedule (an operator asked). */
  now?: boolean;
  /** Batch documents untouched since this instant are included (their queue job died). */
  batchStaleBefore?: Date;
}

export interface ResendResult {
  id: number;
  folio: number;
  dte_type: string;
  status_before: DteStatus;
  status: DteStatus;
  sii_track_id: string | null;
  /** `sent`, `retry` (transient failure, scheduled), `failed`, `skipped` (another worker holds it), `none` (nothing to do). */
  outcome: 'sent' | 'retry' | 'failed' | 'skipped' | 'none';
  next_attempt_at: string | null;
  error: { code: string; message: string } | null;
}

const errorOf = (body: unknown): { code: string; message: string } | null => {
  const p = body as { code?: string; detail?: string } | undefined;
  return p?.code ? { code: p.code, message: p.detail ?? '' } : null;
};

/** Advance every due document matching the filter, one at a time. */
export async function resendDue(deps: IssuerDeps, filter: ResendFilter = {}): Promise<ResendResult[]> {
  const rows = await listDueDtes(deps.db, {
    now: deps.now(),
    limit: filter.limit ?? 100,
    ignoreSchedule: filter.now ?? false,
    ...(filter.rutEmisor !== undefined ? { rutEmisor: filter.rutEmisor } : {}),
    ...(filter.tipoDte !== undefined ? { tipoDte: filter.tipoDte } : {}),
    ...(filter.folio !== undefined ? { folio: filter.folio } : {}),
    ...(filter.ids !== undefined ? { ids: filter.ids } : {}),
    ...(filter.batchStaleBefore !== undefined ? { batchStaleBefore: filter.batchStaleBefore } : {}),
  });
  const results: ResendResult[] = [];
  for (const row of rows) results.push(await resendOne(deps, row));
  // Asked for one folio that is not due: say what state it is in instead of an empty list.
  if (results.length === 0 && filter.rutEmisor !== undefined && filter.tipoDte !== undefined && filter.folio !== undefined) {
    const row = await findDteByKey(deps.db, { rutEmisor: filter.rutEmisor, tipoDte: filter.tipoDte, folio: filter.folio });
    if (row !== undefined) results.push(result(row, row, 'none', null));
  }
  return results;
}

async function resendOne(deps: IssuerDeps, row: DteRow): Promise<ResendResult> {
  const leased = await leaseDte(deps.db, row.id, { now: deps.now(), leaseMs: deps.leaseMs });
  if (leased === undefined) return result(row, row, 'skipped', null);
  const outcome = await advance(deps, leased);
  const recorded = await recordOutcome(deps, outcome);
  return result(row, outcome.row, outcome.kind === 'busy' ? 'skipped' : outcome.kind, outcome.kind === 'sent' ? null : errorOf(recorded.body));
}

function result(before: DteRow, after: DteRow, outcome: ResendResult['outcome'], error: ResendResult['error']): ResendResult {
  return {
    id: after.id,
    folio: after.folio,
    dte_type: String(after.tipo_dte),
    status_before: before.status,
    status: after.status,
    sii_track_id: after.sii_track_id,
    outcome,
    next_attempt_at: after.next_attempt_at,
    error,
  };
}

/**
 * The periodic sweep: first run shortly after start, then every `intervalMs`. One sweep at a time;
 * `stop()` waits for the running one. Errors (database down) are logged and the next sweep retries.
 */
export class RecoverySweeper {
  private readonly loop: PeriodicTask;

  constructor(
    private readonly deps: IssuerDeps,
    private readonly options: { intervalMs: number; batch: number; firstDelayMs?: number; batchGraceMs: number },
  ) {
    this.loop = new PeriodicTask(() => this.sweep(), {
      intervalMs: options.intervalMs,
      ...(options.firstDelayMs !== undefined ? { firstDelayMs: options.firstDelayMs } : {}),
      onError: (err) => deps.log.error({ err }, 'recovery sweep failed'),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** One pass; returns how many documents it touched. */
  async sweep(): Promise<void> {
    try {
      const results = await resendDue(this.deps, { limit: this.options.batch, batchStaleBefore: new Date(this.deps.now().getTime() - this.options.batchGraceMs) });
      const touched = results.filter((r) => r.outcome !== 'skipped');
      if (touched.length > 0) {
        this.deps.log.info({ documents: touched.map((r) => ({ id: r.id, folio: r.folio, outcome: r.outcome })) }, 'recovery sweep');
      }
    } catch (err) {
      this.deps.log.error({ err }, 'recovery sweep failed');
    }
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
