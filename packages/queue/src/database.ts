/**
 * The embedded durable queue on the service's own database (`job` table, SQLite or PostgreSQL).
 *
 * publish = INSERT (ON CONFLICT (queue, dedupe_key) DO NOTHING). Consumers poll (`pollMs`, plus an
 * in-process wake-up when this process publishes) and claim due jobs with ONE guarded UPDATE that
 * sets a lease (`locked_until`, `locked_by`) and counts the attempt; on PostgreSQL the candidate rows
 * are picked with FOR UPDATE SKIP LOCKED. Running handlers extend their lease every leaseMs/3; a job
 * whose consumer died is claimed again once its lease lapses. Success → `done`; failure → retry at
 * now + backoff, or `dead` with `last_error` after max_attempts.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { dbKind, writeTransaction } from '@timbre/store';
import type { Database, JobRow, NewJobRow } from '@timbre/store';
import {
  asRetryLater,
  backoffMs,
  checkQueueName,
  encodePayload,
  errorText,
  QueueError,
  resolveConsumeOptions,
  resolveDelay,
  resolveMaxAttempts,
  settledWithin,
  sleep,
} from './types.js';
import type { Consumer, ConsumeOptions, DeadLetter, Job, JobQueue, PublishOptions, QueueLogger, QueueStats, ResolvedConsumeOptions } from './types.js';

export interface DatabaseQueueOptions {
  db: Kysely<Database>;
  /** How long a claimed job is held before another consumer may take it (default 60 s). */
  leaseMs?: number;
  /** How often idle consumers look for due jobs (default 250 ms). */
  pollMs?: number;
  /** How long close()/cancel() wait for running handlers (default 30 s). */
  closeTimeoutMs?: number;
  logger: QueueLogger;
}

/** In-process wake-ups: a publish in this process wakes this process's consumers of that queue at once. */
const wakers = new Map<string, Set<DbConsumer>>();

function wakeQueue(queue: string): void {
  for (const c of wakers.get(queue) ?? []) c.wake();
}

const iso = (ms: number): string => new Date(ms).toISOString();
const INSERT_CHUNK = 500;

export class DatabaseJobQueue implements JobQueue {
  readonly kind = 'database' as const;
  private readonly db: Kysely<Database>;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly closeTimeoutMs: number;
  private readonly logger: QueueLogger;
  private readonly workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly consumers = new Set<DbConsumer>();
  private closed = false;

  constructor(o: DatabaseQueueOptions) {
    this.db = o.db;
    this.leaseMs = o.leaseMs ?? 60_000;
    this.pollMs = o.pollMs ?? 250;
    this.closeTimeoutMs = o.closeTimeoutMs ?? 30_000;
    this.logger = o.logger;
    if (!(this.leaseMs >= 30)) throw new QueueError('ERR_QUEUE_CONFIG', `leaseMs must be ≥ 30, got ${this.leaseMs}`);
    if (!(this.pollMs >= 1)) throw new QueueError('ERR_QUEUE_CONFIG', `pollMs must be ≥ 1, got ${this.pollMs}`);
  }

  private open(): void {
    if (this.closed) throw new QueueError('ERR_QUEUE_CLOSED', 'the queue is closed');
  }

  private row(queue: string, payload: unknown, options: PublishOptions | undefined, now: number): NewJobRow {
    return {
      queue,
      payload: encodePayload(payload),
      dedupe_key: options?.dedupeKey ?? null,
      status: 'ready',
      run_at: iso(now + resolveDelay(options?.delayMs)),
      max_attempts: resolveMaxAttempts(options),
      locked_until: null,
      locked_by: null,
      last_error: null,
      created_at: iso(now),
      updated_at: iso(now),
    };
  }

  private async insert(db: Kysely<Database>, rows: NewJobRow[]): Promise<void> {
    await db
      .insertInto('job')
      .values(rows)
      .onConflict((oc) => oc.columns(['queue', 'dedupe_key']).doNothing())
      .execute();
  }

  async publish<T>(queue: string, payload: T, options?: PublishOptions): Promise<void> {
    this.open();
    checkQueueName(queue);
    const row = this.row(queue, payload, options, Date.now());
    try {
      await this.insert(this.db, [row]);
    } catch (e) {
      throw new QueueError('ERR_QUEUE_UNAVAILABLE', `could not store the job: ${errorText(e)}`, { cause: e });
    }
    wakeQueue(queue);
  }

  async publishMany<T>(queue: string, payloads: Array<{ payload: T; options?: PublishOptions }>): Promise<void> {
    this.open();
    checkQueueName(queue);
    if (payloads.length === 0) return;
    const now = Date.now();
    const rows = payloads.map((p) => this.row(queue, p.payload, p.options, now));
    try {
      await writeTransaction(this.db, async (trx) => {
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) await this.insert(trx, rows.slice(i, i + INSERT_CHUNK));
      });
    } catch (e) {
      throw new QueueError('ERR_QUEUE_UNAVAILABLE', `could not store the jobs: ${errorText(e)}`, { cause: e });
    }
    wakeQueue(queue);
  }

  async consume<T>(queue: string, handler: (job: Job<T>) => Promise<void>, options?: ConsumeOptions): Promise<Consumer> {
    this.open();
    checkQueueName(queue);
    const c = new DbConsumer({
      db: this.db,
      queue,
      handler: handler as (job: Job) => Promise<void>,
      options: resolveConsumeOptions(options),
      leaseMs: this.leaseMs,
      pollMs: this.pollMs,
      closeTimeoutMs: this.closeTimeoutMs,
      workerId: this.workerId,
      logger: this.logger,
      onStopped: () => this.consumers.delete(c),
    });
    this.consumers.add(c);
    c.start();
    return { cancel: () => c.stop() };
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const rows = await this.db
      .selectFrom('job')
      .select(['id', 'payload', 'attempts', 'last_error'])
      .where('queue', '=', queue)
      .where('status', '=', 'dead')
      .orderBy('id')
      .limit(Math.max(0, Math.trunc(limit)))
      .execute();
    return rows.map((r) => ({ id: String(r.id), payload: safeParse(r.payload), attempts: r.attempts, error: r.last_error }));
  }

  async redrive(queue: string, id?: string): Promise<number> {
    this.open();
    const now = iso(Date.now());
    let q = this.db
      .updateTable('job')
      .set({ status: 'ready', attempts: 0, run_at: now, locked_until: null, locked_by: null, updated_at: now })
      .where('queue', '=', queue)
      .where('status', '=', 'dead');
    if (id !== undefined) {
      const n = Number(id);
      if (!Number.isSafeInteger(n)) return 0;
      q = q.where('id', '=', n);
    }
    const r = await q.executeTakeFirst();
    const count = Number(r.numUpdatedRows);
    if (count > 0) wakeQueue(queue);
    return count;
  }

  async stats(queue: string): Promise<QueueStats> {
    const now = iso(Date.now());
    const r = await this.db
      .selectFrom('job')
      .select([
        sql<number>`count(case when status = 'ready' and run_at <= ${now} and (locked_until is null or locked_until < ${now}) then 1 end)`.as('ready'),
        sql<number>`count(case when status = 'ready' and run_at > ${now} and (locked_until is null or locked_until < ${now}) then 1 end)`.as('delayed'),
        sql<number>`count(case when status = 'ready' and locked_until >= ${now} then 1 end)`.as('in_flight'),
        sql<number>`count(case when status = 'dead' then 1 end)`.as('dead'),
      ])
      .where('queue', '=', queue)
      .executeTakeFirstOrThrow();
    return { ready: Number(r.ready), delayed: Number(r.delayed), inFlight: Number(r.in_flight), dead: Number(r.dead) };
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    const probe = this.db.selectFrom('job').select('id').limit(1).execute();
    probe.catch(() => undefined);
    try {
      const ok = await Promise.race([probe.then(() => true), sleep(3000).then(() => false)]);
      return ok ? { ok: true } : { ok: false, detail: 'the database did not answer within 3 s' };
    } catch (e) {
      return { ok: false, detail: `database queue: ${errorText(e, 500)}` };
    }
  }

  async purge(olderThan: Date): Promise<number> {
    const r = await this.db.deleteFrom('job').where('status', '=', 'done').where('updated_at', '<', olderThan.toISOString()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.stop()));
  }
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
}

interface DbConsumerOptions {
  db: Kysely<Database>;
  queue: string;
  handler: (job: Job) => Promise<void>;
  options: ResolvedConsumeOptions;
  leaseMs: number;
  pollMs: number;
  closeTimeoutMs: number;
  workerId: string;
  logger: QueueLogger;
  onStopped: () => void;
}

interface Running {
  id: number;
  token: string;
  done: Promise<void>;
}

type Outcome = { kind: 'done' } | { kind: 'later'; delayMs: number } | { kind: 'failed'; error: string };

class DbConsumer {
  private readonly o: DbConsumerOptions;
  private readonly running = new Map<string, Running>();
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private wakeFn: (() => void) | null = null;
  private wakePending = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private beating = false;
  private seq = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private doneBatch: Array<{ row: JobRow; token: string; resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(o: DbConsumerOptions) {
    this.o = o;
  }

  start(): void {
    let set = wakers.get(this.o.queue);
    if (!set) wakers.set(this.o.queue, (set = new Set()));
    set.add(this);
    this.heartbeat = setInterval(() => void this.beat(), Math.max(10, Math.floor(this.o.leaseMs / 3)));
    this.loopDone = this.loop();
  }

  wake(): void {
    if (this.wakeFn) this.wakeFn();
    else this.wakePending = true;
  }

  /** Wake up at `ms` from now (a retry or RetryLater due before the next poll). */
  private wakeIn(ms: number): void {
    if (ms >= this.o.pollMs || this.stopping) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.wake();
    }, ms + 1);
    this.timers.add(t);
  }

  private wait(ms: number): Promise<void> {
    if (this.wakePending || this.stopping) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakeFn = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakeFn = done;
    });
  }

  private async loop(): Promise<void> {
    let errorDelay = 0;
    while (!this.stopping) {
      const free = this.o.options.prefetch - this.running.size;
      if (free <= 0) {
        await this.wait(this.o.pollMs);
        continue;
      }
      let claimed: JobRow[];
      try {
        claimed = await this.claim(free);
        errorDelay = 0;
      } catch (e) {
        errorDelay = Math.min(5000, Math.max(this.o.pollMs, errorDelay * 2));
        this.o.logger.warn({ queue: this.o.queue, err: errorText(e, 500), retryInMs: errorDelay }, 'queue: claiming jobs failed');
        await this.wait(errorDelay);
        continue;
      }
      for (const row of claimed) this.run(row);
      if (claimed.length < free) await this.wait(this.o.pollMs);
    }
  }

  private async claim(n: number): Promise<JobRow[]> {
    const { db, queue, leaseMs } = this.o;
    const nowMs = Date.now();
    const now = iso(nowMs);
    // A plain read first: an idle poll never takes SQLite's write lock or PostgreSQL row locks.
    const any = await db
      .selectFrom('job')
      .select('id')
      .where('queue', '=', queue)
      .where('status', '=', 'ready')
      .where('run_at', '<=', now)
      .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<', now)]))
      .limit(1)
      .executeTakeFirst();
    if (any === undefined) return [];
    const token = `${this.o.workerId}#${++this.seq}`;
    const postgres = dbKind(db) === 'postgres';
    return db
      .updateTable('job')
      .set({ locked_until: iso(nowMs + leaseMs), locked_by: token, attempts: sql<number>`attempts + 1`, updated_at: now })
      .where('id', 'in', (eb) => {
        const candidates = eb
          .selectFrom('job')
          .select('id')
          .where('queue', '=', queue)
          .where('status', '=', 'ready')
          .where('run_at', '<=', now)
          .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<', now)]))
          .orderBy('run_at')
          .orderBy('id')
          .limit(n);
        return postgres ? candidates.forUpdate().skipLocked() : candidates;
      })
      .where('status', '=', 'ready')
      .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<', now)]))
      .returningAll()
      .execute();
  }

  private run(row: JobRow): void {
    const token = row.locked_by ?? '';
    const key = `${token}/${row.id}`;
    const done = (async () => {
      let outcome: Outcome;
      if (row.attempts > row.max_attempts) {
        // Its last attempt's consumer vanished without answering (crash, kill, lost lease).
        outcome = { kind: 'failed', error: `gave up after ${row.max_attempts} attempts: the consumer of the last one stopped without answering (lease expired)` };
      } else {
        let payload: unknown;
        let bad: string | undefined;
        try {
          payload = JSON.parse(row.payload) as unknown;
        } catch (e) {
          bad = `malformed payload: ${errorText(e, 200)}`;
        }
        if (bad !== undefined) {
          outcome = { kind: 'failed', error: bad };
          row = { ...row, attempts: row.max_attempts };
        } else {
          try {
            await this.o.handler({ id: String(row.id), queue: row.queue, payload, attempt: row.attempts, maxAttempts: row.max_attempts });
            outcome = { kind: 'done' };
          } catch (e) {
            const later = asRetryLater(e);
            outcome = later ? { kind: 'later', delayMs: resolveDelay(later.delayMs) } : { kind: 'failed', error: errorText(e) };
          }
        }
      }
      try {
        await this.finish(row, token, outcome);
      } catch (e) {
        this.o.logger.error({ queue: row.queue, id: row.id, err: errorText(e, 500) }, 'queue: could not record the outcome of a job; it will run again when its lease lapses');
      }
    })().finally(() => {
      this.running.delete(key);
      this.wake();
    });
    this.running.set(key, { id: row.id, token, done });
  }

  private async finish(row: JobRow, token: string, outcome: Outcome): Promise<void> {
    if (outcome.kind === 'done') return this.markDone(row, token);
    const nowMs = Date.now();
    const now = iso(nowMs);
    const unlock = { locked_until: null, locked_by: null, updated_at: now };
    let update;
    if (outcome.kind === 'later') {
      update = this.o.db.updateTable('job').set({ ...unlock, attempts: sql<number>`attempts - 1`, run_at: iso(nowMs + outcome.delayMs) });
      this.wakeIn(outcome.delayMs);
    } else if (row.attempts >= row.max_attempts) {
      update = this.o.db.updateTable('job').set({ ...unlock, status: 'dead', last_error: outcome.error });
    } else {
      const delay = backoffMs(row.attempts, this.o.options.retryBaseMs, this.o.options.retryMaxMs);
      update = this.o.db.updateTable('job').set({ ...unlock, run_at: iso(nowMs + delay), last_error: outcome.error });
      this.wakeIn(delay);
    }
    const r = await update.where('id', '=', row.id).where('locked_by', '=', token).where('status', '=', 'ready').executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      this.o.logger.warn({ queue: row.queue, id: row.id, outcome: outcome.kind }, 'queue: the lease of a job lapsed before it finished; another consumer has it');
    }
  }

  /**
   * Successes are recorded in batches: every job that finished in the same tick is marked done by
   * ONE guarded UPDATE (one commit instead of one per job; on SQLite with synchronous=FULL each
   * commit is an fsync).
   */
  private markDone(row: JobRow, token: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.doneBatch.push({ row, token, resolve, reject });
      if (this.doneBatch.length === 1) setImmediate(() => void this.flushDone());
    });
  }

  private async flushDone(): Promise<void> {
    const batch = this.doneBatch;
    this.doneBatch = [];
    if (batch.length === 0) return;
    const now = iso(Date.now());
    try {
      const updated = await this.o.db
        .updateTable('job')
        .set({ status: 'done', locked_until: null, locked_by: null, updated_at: now })
        .where('id', 'in', [...new Set(batch.map((b) => b.row.id))])
        .where('locked_by', 'in', [...new Set(batch.map((b) => b.token))])
        .where('status', '=', 'ready')
        .returning('id')
        .execute();
      const ok = new Set(updated.map((u) => Number(u.id)));
      for (const b of batch) {
        if (!ok.has(b.row.id)) this.o.logger.warn({ queue: b.row.queue, id: b.row.id, outcome: 'done' }, 'queue: the lease of a job lapsed before it finished; another consumer has it');
        b.resolve();
      }
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }

  /** Extend the lease of every running job (every leaseMs/3). */
  private async beat(): Promise<void> {
    if (this.beating || this.running.size === 0) return;
    this.beating = true;
    try {
      const jobs = [...this.running.values()];
      await this.o.db
        .updateTable('job')
        .set({ locked_until: iso(Date.now() + this.o.leaseMs) })
        .where('id', 'in', [...new Set(jobs.map((j) => j.id))])
        .where('locked_by', 'in', [...new Set(jobs.map((j) => j.token))])
        .where('status', '=', 'ready')
        .execute();
    } catch (e) {
      this.o.logger.warn({ queue: this.o.queue, err: errorText(e, 500) }, 'queue: could not extend job leases');
    } finally {
      this.beating = false;
    }
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      wakers.get(this.o.queue)?.delete(this);
      if (wakers.get(this.o.queue)?.size === 0) wakers.delete(this.o.queue);
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      this.wake();
      await this.loopDone;
      const all = Promise.all([...this.running.values()].map((r) => r.done));
      if (!(await settledWithin(all, this.o.closeTimeoutMs))) {
        this.o.logger.warn({ queue: this.o.queue, running: this.running.size }, 'queue: handlers still running at close; their jobs run again when the lease lapses');
      }
      clearInterval(this.heartbeat);
      this.o.onStopped();
    })();
    return this.stopped;
  }
}
