/**
 * Webhooks through a transactional outbox.
 *
 * 1. `recordEvent(trx, …)` is called INSIDE the transaction that changes the state it reports, so an
 *    event exists exactly when its state change was committed.
 * 2. `fanOutEvents` turns undispatched events into one `pending` delivery per matching active
 *    subscription of the company (idempotent: unique (subscription_id, event_id)).
 * 3. `claimDueDeliveries` leases, per (subscription, aggregate_key), only the OLDEST pending delivery,
 *    and only when it is due: a document's events reach a subscriber in the order they were recorded,
 *    and a failing one holds back the later ones of the same document (not those of other documents).
 * 4. The sender reports `markDelivered` or `markFailed` (retry at a time, or dead). `redeliver` puts a
 *    dead delivery back in the queue.
 */
import { randomBytes } from 'node:crypto';
import { Rut, TimbreError } from '@timbre/dte';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../database.js';
import { dbKind, writeTransaction } from '../db.js';
import type { SecretBox } from '../secret-box.js';
import type { OutboxEventRow, WebhookDeliveryTable } from '../tables/webhook.table.js';

export type WebhookDeliveryStatus = WebhookDeliveryTable['status'];
export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const satisfies readonly WebhookDeliveryStatus[];

const iso = (d: Date | undefined): string => (d ?? new Date()).toISOString();
const canonicalRut = (rut: string, field: string): string => Rut.parse(rut, { field }).canonical;
const invalid = (field: string, message: string): TimbreError => new TimbreError('ERR_INPUT_INVALID', message, { field });

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

export interface RecordEventInput {
  /** The company the event belongs to (its subscriptions receive it). */
  rutCompany: string;
  /** `dte.status_changed`, `dte.received`, `dte.error`, `caf.low`, `caf.expiring`, `certificate.expiring`, … */
  eventType: string;
  /** What the event is about (`dte:<id>`, `caf:<rut>:<tipo>`, `certificate:<rut>`): deliveries keep order per key. */
  aggregateKey: string;
  /**
   * The JSON body fields, sent as they are. `event` (= eventType) and `timestamp` (ISO 8601, the
   * time of recording) are filled in when absent.
   */
  payload: Record<string, unknown>;
  /** Clock for `created_at` and the default `timestamp` (default: now). */
  now?: Date;
}

/**
 * Write an event to the outbox. Call it with the transaction (`trx`) that makes the state change,
 * so that both commit or neither does. The body sent to subscribers is exactly the stored JSON.
 */
export async function recordEvent(db: Kysely<Database>, input: RecordEventInput): Promise<OutboxEventRow> {
  const rutCompany = canonicalRut(input.rutCompany, 'rutCompany');
  if (typeof input.eventType !== 'string' || !/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(input.eventType)) {
    throw invalid('eventType', `event type ${JSON.stringify(input.eventType)} is not of the form "area.name"`);
  }
  if (typeof input.aggregateKey !== 'string' || input.aggregateKey === '' || input.aggregateKey.length > 200) {
    throw invalid('aggregateKey', 'the aggregate key must be 1 to 200 characters');
  }
  const p = input.payload;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw invalid('payload', 'the payload must be an object');
  if (p.event !== undefined && p.event !== input.eventType) {
    throw invalid('payload.event', `payload.event ${JSON.stringify(p.event)} differs from the event type ${input.eventType}`);
  }
  const createdAt = iso(input.now);
  const body: Record<string, unknown> = { event: input.eventType, ...p };
  body.timestamp ??= createdAt;
  return db
    .insertInto('outbox_event')
    .values({ rut_company: rutCompany, event_type: input.eventType, aggregate_key: input.aggregateKey, payload_json: JSON.stringify(body), created_at: createdAt, dispatched_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The newest event of that type and aggregate (periodic alerts use it to emit once per day). */
export async function findLatestEvent(db: Kysely<Database>, f: { eventType: string; aggregateKey: string }): Promise<OutboxEventRow | undefined> {
  return db
    .selectFrom('outbox_event')
    .selectAll()
    .where('event_type', '=', f.eventType)
    .where('aggregate_key', '=', f.aggregateKey)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Events of a company, oldest first (diagnosis, tests). */
export async function listEvents(db: Kysely<Database>, f: { rutCompany: string; eventType?: string; aggregateKey?: string; limit?: number }): Promise<OutboxEventRow[]> {
  let q = db.selectFrom('outbox_event').selectAll().where('rut_company', '=', canonicalRut(f.rutCompany, 'rutCompany'));
  if (f.eventType !== undefined) q = q.where('event_type', '=', f.eventType);
  if (f.aggregateKey !== undefined) q = q.where('aggregate_key', '=', f.aggregateKey);
  return q
    .orderBy('id')
    .limit(f.limit ?? 1000)
    .execute();
}

// ---------------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------------

/** A subscription as shown: never its secret. */
export interface WebhookSubscription {
  id: number;
  rut_company: string;
  url: string;
  /** Event types, or `["*"]` for all. */
  events: string[];
  active: boolean;
  created_at: string;
  updated_at: string;
}

export interface CreateSubscriptionInput {
  rutCompany: string;
  /** http:// or https:// */
  url: string;
  /** Event types; `"*"` for all. */
  events: readonly string[];
  /** At least 32 characters; generated (`whsec_…`, 49 characters) when absent. */
  secret?: string;
  now?: Date;
}

const MIN_SECRET_LENGTH = 32;

/** Throws TimbreError ERR_INPUT_INVALID (field `url`) unless it is an absolute http(s) URL without credentials. */
export function checkWebhookUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid('url', `${JSON.stringify(url)} is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('url', `the webhook URL must be http:// or https://, not ${u.protocol}`);
  if (u.username !== '' || u.password !== '') throw invalid('url', 'the webhook URL must not carry credentials (the signature authenticates the request)');
  if (u.hash !== '') throw invalid('url', 'the webhook URL must not have a #fragment');
  return u.toString();
}

function toSubscription(r: { id: number; rut_company: string; url: string; events_json: string; active: number | boolean; created_at: string; updated_at: string }): WebhookSubscription {
  return { id: Number(r.id), rut_company: r.rut_company, url: r.url, events: JSON.parse(r.events_json) as string[], active: Boolean(Number(r.active)), created_at: r.created_at, updated_at: r.updated_at };
}

const SUBSCRIPTION = ['id', 'rut_company', 'url', 'events_json', 'active', 'created_at', 'updated_at'] as const;

/**
 * Register a subscription. The secret is stored sealed and returned here, once: nothing else ever
 * returns it. The company must exist.
 */
export async function createSubscription(db: Kysely<Database>, box: SecretBox, input: CreateSubscriptionInput): Promise<{ subscription: WebhookSubscription; secret: string }> {
  const rutCompany = canonicalRut(input.rutCompany, 'rutCompany');
  const url = checkWebhookUrl(input.url);
  if (!Array.isArray(input.events) || input.events.length === 0) throw invalid('events', 'subscribe to at least one event type (or "*")');
  for (const e of input.events) {
    if (typeof e !== 'string' || (e !== '*' && !/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(e))) throw invalid('events', `${JSON.stringify(e)} is not an event type`);
  }
  const events = [...new Set(input.events)];
  const secret = input.secret ?? `whsec_${randomBytes(32).toString('base64url')}`;
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) throw invalid('secret', `the secret must have at least ${MIN_SECRET_LENGTH} characters`);
  const now = iso(input.now);
  const row = await db
    .insertInto('webhook_subscription')
    .values({ rut_company: rutCompany, url, events_json: JSON.stringify(events), secret_encrypted: box.seal(secret), active: 1, created_at: now, updated_at: now })
    .returning(SUBSCRIPTION)
    .executeTakeFirstOrThrow();
  return { subscription: toSubscription(row), secret };
}

export async function listSubscriptions(db: Kysely<Database>, rutCompany: string): Promise<WebhookSubscription[]> {
  const rows = await db.selectFrom('webhook_subscription').select(SUBSCRIPTION).where('rut_company', '=', canonicalRut(rutCompany, 'rutCompany')).orderBy('id').execute();
  return rows.map(toSubscription);
}

export async function findSubscription(db: Kysely<Database>, id: number): Promise<WebhookSubscription | undefined> {
  const row = await db.selectFrom('webhook_subscription').select(SUBSCRIPTION).where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toSubscription(row);
}

/** The plain secret (the sender needs it to sign); undefined if there is no such subscription. */
export async function loadSubscriptionSecret(db: Kysely<Database>, box: SecretBox, id: number): Promise<string | undefined> {
  const row = await db.selectFrom('webhook_subscription').select('secret_encrypted').where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : box.open(row.secret_encrypted).toString('utf8');
}

/** Delete a subscription and its deliveries (pending ones are not sent). False if there was none. */
export async function deleteSubscription(db: Kysely<Database>, id: number): Promise<boolean> {
  return writeTransaction(db, async (trx) => {
    await trx.deleteFrom('webhook_delivery').where('subscription_id', '=', id).execute();
    const r = await trx.deleteFrom('webhook_subscription').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  });
}

/**
 * Stop sending to a subscription (its endpoint answered 410 Gone): it gets no new deliveries, and its
 * pending ones become dead with `reason` (redeliver brings one back and reactivates it).
 */
export async function deactivateSubscription(db: Kysely<Database>, id: number, opts: { reason: string; now?: Date }): Promise<void> {
  const now = iso(opts.now);
  await writeTransaction(db, async (trx) => {
    await trx.updateTable('webhook_subscription').set({ active: 0, updated_at: now }).where('id', '=', id).execute();
    await trx
      .updateTable('webhook_delivery')
      .set({ status: 'dead', lease_until: null, last_error: opts.reason, updated_at: now })
      .where('subscription_id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  });
}

const matches = (eventsJson: string, eventType: string): boolean => {
  try {
    const list = JSON.parse(eventsJson) as unknown;
    return Array.isArray(list) && (list.includes('*') || list.includes(eventType));
  } catch {
    return false;
  }
};

// ---------------------------------------------------------------------------------------------
// Fan-out and delivery
// ---------------------------------------------------------------------------------------------

/**
 * Undispatched events (oldest first, at most `limit`) → one pending delivery per active
 * subscription of the company whose events contain the type or `"*"`, due now; then the events are
 * marked dispatched. One transaction; running it twice (or in two processes) creates no duplicate.
 */
export async function fanOutEvents(db: Kysely<Database>, opts: { limit?: number; now?: Date } = {}): Promise<{ events: number; deliveries: number }> {
  const limit = opts.limit ?? 100;
  // Nothing to do (the usual case, polled every second): no write lock taken.
  const any = await db.selectFrom('outbox_event').select('id').where('dispatched_at', 'is', null).limit(1).executeTakeFirst();
  if (any === undefined) return { events: 0, deliveries: 0 };
  return writeTransaction(db, async (trx) => {
    const events = await trx
      .selectFrom('outbox_event')
      .select(['id', 'rut_company', 'event_type', 'aggregate_key'])
      .where('dispatched_at', 'is', null)
      .orderBy('id')
      .limit(limit)
      .execute();
    if (events.length === 0) return { events: 0, deliveries: 0 };
    const now = iso(opts.now);
    const companies = [...new Set(events.map((e) => e.rut_company))];
    const subs = await trx.selectFrom('webhook_subscription').select(['id', 'rut_company', 'events_json']).where('rut_company', 'in', companies).where('active', '=', 1).orderBy('id').execute();
    const rows = events.flatMap((e) =>
      subs
        .filter((s) => s.rut_company === e.rut_company && matches(s.events_json, e.event_type))
        .map((s) => ({
          subscription_id: Number(s.id),
          event_id: Number(e.id),
          aggregate_key: e.aggregate_key,
          status: 'pending' as const,
          attempts: 0,
          next_attempt_at: now,
          lease_until: null,
          created_at: now,
          updated_at: now,
        })),
    );
    let created = 0;
    for (let i = 0; i < rows.length; i += 500) {
      const r = await trx
        .insertInto('webhook_delivery')
        .values(rows.slice(i, i + 500))
        .onConflict((oc) => oc.columns(['subscription_id', 'event_id']).doNothing())
        .executeTakeFirst();
      created += Number(r.numInsertedOrUpdatedRows ?? 0);
    }
    await trx
      .updateTable('outbox_event')
      .set({ dispatched_at: now })
      .where(
        'id',
        'in',
        events.map((e) => Number(e.id)),
      )
      .where('dispatched_at', 'is', null)
      .execute();
    return { events: events.length, deliveries: created };
  });
}

/** A leased delivery with what sending it needs. `attempts` already counts this attempt. */
export interface ClaimedDelivery {
  id: number;
  subscription_id: number;
  event_id: number;
  aggregate_key: string;
  attempts: number;
  rut_company: string;
  url: string;
  /** Sealed: open it with the SecretBox. */
  secret_encrypted: string;
  event_type: string;
  /** The body to send, byte for byte. */
  payload_json: string;
}

/**
 * Lease up to `limit` deliveries to send now: for each (subscription, aggregate_key) only the
 * pending delivery of the oldest event, if it is due and not leased by someone else, and only for
 * active subscriptions. `attempts` is incremented as the lease is taken (a crash mid-send counts).
 */
export async function claimDueDeliveries(db: Kysely<Database>, opts: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedDelivery[]> {
  const now = opts.now.toISOString();
  const leaseUntil = new Date(opts.now.getTime() + opts.leaseMs).toISOString();
  // Read first, without the write lock (nothing is due most of the time); each claim below is one
  // guarded UPDATE, so two senders never take the same delivery. Order holds: a later delivery of a
  // (subscription, aggregate) is a candidate only once every earlier one is delivered or dead.
  const candidates = await db
    .selectFrom('webhook_delivery as d')
    .innerJoin('webhook_subscription as s', 's.id', 'd.subscription_id')
    .innerJoin('outbox_event as e', 'e.id', 'd.event_id')
    .select(['d.id', 'd.subscription_id', 'd.event_id', 'd.aggregate_key', 's.rut_company', 's.url', 's.secret_encrypted', 'e.event_type', 'e.payload_json'])
    .where('d.status', '=', 'pending')
    .where('s.active', '=', 1)
    .where('d.next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<=', now)]))
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('webhook_delivery as p')
            .select('p.id')
            .whereRef('p.subscription_id', '=', 'd.subscription_id')
            .whereRef('p.aggregate_key', '=', 'd.aggregate_key')
            .where('p.status', '=', 'pending')
            .whereRef('p.event_id', '<', 'd.event_id'),
        ),
      ),
    )
    .orderBy('d.next_attempt_at')
    .orderBy('d.id')
    .limit(opts.limit)
    .execute();
  if (candidates.length === 0) return [];
  return writeTransaction(db, async (trx) => {
    const claimed: ClaimedDelivery[] = [];
    for (const c of candidates) {
      const r = await trx
        .updateTable('webhook_delivery')
        .set((eb) => ({ lease_until: leaseUntil, attempts: eb('attempts', '+', 1), updated_at: now }))
        .where('id', '=', c.id)
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
        .returning('attempts')
        .executeTakeFirst();
      if (r !== undefined) {
        claimed.push({ ...c, id: Number(c.id), subscription_id: Number(c.subscription_id), event_id: Number(c.event_id), attempts: Number(r.attempts) });
      }
    }
    return claimed;
  });
}

/** The subscriber answered 2xx. False if the delivery is no longer pending (deleted, or another sender finished it). */
export async function markDelivered(db: Kysely<Database>, id: number, opts: { statusCode: number; now?: Date }): Promise<boolean> {
  const now = iso(opts.now);
  const r = await db
    .updateTable('webhook_delivery')
    .set({ status: 'delivered', delivered_at: now, lease_until: null, last_status_code: opts.statusCode, last_error: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export interface MarkFailedInput {
  /** The HTTP status, when there was an answer. */
  statusCode?: number | null;
  /** What went wrong (kept short: it is shown in the delivery list). */
  error: string;
  /** Try again at this time … */
  nextAttemptAt?: Date;
  /** … or give up: the delivery goes to the dead-letter list. */
  dead?: boolean;
  now?: Date;
}

/** The attempt failed: schedule the next one, or make the delivery dead. */
export async function markFailed(db: Kysely<Database>, id: number, input: MarkFailedInput): Promise<boolean> {
  const now = iso(input.now);
  if (!input.dead && input.nextAttemptAt === undefined) throw invalid('nextAttemptAt', 'a failed delivery needs nextAttemptAt unless it is dead');
  const r = await db
    .updateTable('webhook_delivery')
    .set({
      status: input.dead ? 'dead' : 'pending',
      lease_until: null,
      last_status_code: input.statusCode ?? null,
      last_error: input.error.slice(0, 1000),
      ...(input.dead ? {} : { next_attempt_at: (input.nextAttemptAt as Date).toISOString() }),
      updated_at: now,
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** A delivery as listed: with its company, event and target. */
export interface WebhookDeliverySummary {
  id: number;
  subscription_id: number;
  rut_company: string;
  url: string;
  event_id: number;
  event_type: string;
  aggregate_key: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: string;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
  updated_at: string;
  /** The body that is (was) sent. */
  payload: Record<string, unknown>;
}

export interface ListDeliveriesFilter {
  rutCompany: string;
  status?: WebhookDeliveryStatus;
  subscriptionId?: number;
  eventId?: number;
  /** Default 50. */
  limit?: number;
  /** Keyset cursor: only ids below this one. */
  before?: number;
}

function deliveryQuery(db: Kysely<Database>) {
  return db
    .selectFrom('webhook_delivery as d')
    .innerJoin('webhook_subscription as s', 's.id', 'd.subscription_id')
    .innerJoin('outbox_event as e', 'e.id', 'd.event_id')
    .select([
      'd.id',
      'd.subscription_id',
      's.rut_company',
      's.url',
      'd.event_id',
      'e.event_type',
      'd.aggregate_key',
      'd.status',
      'd.attempts',
      'd.next_attempt_at',
      'd.last_status_code',
      'd.last_error',
      'd.delivered_at',
      'd.created_at',
      'd.updated_at',
      'e.payload_json',
    ]);
}

type DeliveryQueryRow = Awaited<ReturnType<ReturnType<typeof deliveryQuery>['executeTakeFirstOrThrow']>>;

function toDeliverySummary(r: DeliveryQueryRow): WebhookDeliverySummary {
  const { payload_json, ...rest } = r;
  return {
    ...rest,
    id: Number(r.id),
    subscription_id: Number(r.subscription_id),
    event_id: Number(r.event_id),
    attempts: Number(r.attempts),
    last_status_code: r.last_status_code === null ? null : Number(r.last_status_code),
    payload: JSON.parse(payload_json) as Record<string, unknown>,
  };
}

/** Deliveries of a company's subscriptions, newest first (`status: 'dead'` is the dead-letter list). */
export async function listDeliveries(db: Kysely<Database>, f: ListDeliveriesFilter): Promise<WebhookDeliverySummary[]> {
  let q = deliveryQuery(db).where('s.rut_company', '=', canonicalRut(f.rutCompany, 'rutCompany'));
  if (f.status !== undefined) q = q.where('d.status', '=', f.status);
  if (f.subscriptionId !== undefined) q = q.where('d.subscription_id', '=', f.subscriptionId);
  if (f.eventId !== undefined) q = q.where('d.event_id', '=', f.eventId);
  if (f.before !== undefined) q = q.where('d.id', '<', f.before);
  const rows = await q
    .orderBy('d.id', 'desc')
    .limit(f.limit ?? 50)
    .execute();
  return rows.map(toDeliverySummary);
}

export async function findDelivery(db: Kysely<Database>, id: number): Promise<WebhookDeliverySummary | undefined> {
  const row = await deliveryQuery(db).where('d.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toDeliverySummary(row);
}

/**
 * Send a delivery again: a dead one becomes pending, due now, with its attempts reset (and its
 * subscription reactivated if a 410 had deactivated it); a pending one becomes due now. A delivered
 * one is left alone. Returns the delivery as it is afterwards, undefined if there is none.
 */
export async function redeliver(db: Kysely<Database>, id: number, opts: { now?: Date } = {}): Promise<WebhookDeliverySummary | undefined> {
  const now = iso(opts.now);
  return writeTransaction(db, async (trx) => {
    const row = await trx.selectFrom('webhook_delivery').select(['id', 'status', 'subscription_id']).where('id', '=', id).executeTakeFirst();
    if (row === undefined) return undefined;
    if (row.status === 'dead') {
      await trx
        .updateTable('webhook_delivery')
        .set({ status: 'pending', attempts: 0, next_attempt_at: now, lease_until: null, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'dead')
        .execute();
      await trx.updateTable('webhook_subscription').set({ active: 1, updated_at: now }).where('id', '=', row.subscription_id).where('active', '=', 0).execute();
    } else if (row.status === 'pending') {
      await trx.updateTable('webhook_delivery').set({ next_attempt_at: now, updated_at: now }).where('id', '=', id).where('status', '=', 'pending').execute();
    }
    return toDeliverySummary(await deliveryQuery(trx).where('d.id', '=', id).executeTakeFirstOrThrow());
  });
}

/**
 * Serialize writers of one company inside a write transaction (PostgreSQL: a row lock on the
 * company; SQLite's write transaction already holds the database lock). For check-then-record
 * sequences such as "at most one alert per day".
 */
export async function lockCompany(trx: Kysely<Database>, rutCompany: string): Promise<void> {
  if (dbKind(trx) !== 'postgres') return;
  await sql`select rut from company where rut = ${canonicalRut(rutCompany, 'rutCompany')} for update`.execute(trx);
}
