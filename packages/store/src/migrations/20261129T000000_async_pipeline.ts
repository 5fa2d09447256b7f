// Frozen: never edit a migration that has shipped; add a new timestamp-prefixed file instead.
import { sql } from 'kysely';
import type { CreateTableBuilder, Kysely } from 'kysely';
import { dbKind } from '../db.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

function idColumn<T extends string>(db: AnyDb, table: CreateTableBuilder<T, never>): CreateTableBuilder<T, 'id'> {
  return dbKind(db) === 'postgres'
    ? table.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/**
 * The asynchronous pipeline: envelopes of several documents (`envio`, which now carries the envelope
 * bytes and upload attempts the `dte` row carried), batches, status polling, the embedded job queue,
 * and webhooks through a transactional outbox.
 */
export async function up(db: AnyDb): Promise<void> {
  // ---- envelopes ----
  await idColumn(db, db.schema.createTable('envio'))
    .addColumn('rut_emisor', 'text', (c) => c.notNull().references('company.rut'))
    /** EnvioDTE | EnvioBOLETA */
    .addColumn('kind', 'text', (c) => c.notNull())
    /** built → sent → final | error */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('documents', 'integer', (c) => c.notNull())
    .addColumn('xml', 'text', (c) => c.notNull())
    .addColumn('track_id', 'text')
    .addColumn('sii_status', 'text')
    .addColumn('upload_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_until', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('next_attempt_at', 'text')
    .addColumn('error_message', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('envio_status_check', sql`status in ('built', 'sent', 'final', 'error')`)
    .execute();
  await db.schema.createIndex('envio_status_idx').on('envio').columns(['status', 'next_attempt_at']).execute();

  await db.schema.alterTable('dte').addColumn('envio_id', 'bigint').execute();
  await db.schema.alterTable('dte').addColumn('batch_id', 'text').execute();
  await db.schema.alterTable('dte').addColumn('poll_attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('dte').addColumn('next_poll_at', 'text').execute();
  /** Who holds the lease (a queue job id): the same job, retried, may take it back at once. */
  await db.schema.alterTable('dte').addColumn('lease_owner', 'text').execute();
  await db.schema.createIndex('dte_envio_idx').on('dte').column('envio_id').execute();
  await db.schema.createIndex('dte_poll_idx').on('dte').columns(['status', 'next_poll_at']).execute();

  // Documents whose envelope was stored on the row: one envío each, so uploads continue from it.
  const now = new Date().toISOString();
  const legacy = await db
    .selectFrom('dte')
    .select(['id', 'rut_emisor', 'tipo_dte', 'status', 'xml_envelope', 'upload_attempts', 'sii_track_id'])
    .where('xml_envelope', 'is not', null)
    .execute();
  for (const d of legacy) {
    const row = await db
      .insertInto('envio')
      .values({
        rut_emisor: d.rut_emisor,
        kind: d.tipo_dte === 39 || d.tipo_dte === 41 ? 'EnvioBOLETA' : 'EnvioDTE',
        status: d.status === 'signed' ? 'built' : d.status === 'error' ? 'error' : 'sent',
        documents: 1,
        xml: d.xml_envelope,
        track_id: d.sii_track_id,
        upload_attempts: d.upload_attempts,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db.updateTable('dte').set({ envio_id: row.id }).where('id', '=', d.id).execute();
  }
  await db.schema.alterTable('dte').dropColumn('xml_envelope').execute();
  await db.schema.alterTable('dte').dropColumn('upload_attempts').execute();

  // ---- batches ----
  await db.schema
    .createTable('batch')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('rut_emisor', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('callback_url', 'text')
    .addColumn('idempotency_key', 'text')
    /** open → done */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('batch_item')
    .addColumn('batch_id', 'text', (c) => c.notNull().references('batch.id'))
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('tipo_dte', 'integer', (c) => c.notNull())
    .addColumn('request_json', 'text', (c) => c.notNull())
    .addColumn('dte_id', 'bigint')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addPrimaryKeyConstraint('batch_item_pk', ['batch_id', 'idx'])
    .execute();
  await db.schema.createIndex('batch_item_dte_idx').on('batch_item').column('dte_id').execute();

  // ---- the embedded job queue (QUEUE_URL unset) ----
  await idColumn(db, db.schema.createTable('job'))
    .addColumn('queue', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    /** Publishing the same (queue, dedupe_key) twice keeps one job. */
    .addColumn('dedupe_key', 'text')
    /** ready → done | dead */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('run_at', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('locked_by', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('job_queue_dedupe_unique', ['queue', 'dedupe_key'])
    .addCheckConstraint('job_status_check', sql`status in ('ready', 'done', 'dead')`)
    .execute();
  await db.schema.createIndex('job_ready_idx').on('job').columns(['queue', 'status', 'run_at']).execute();

  // ---- webhooks: the transactional outbox, subscriptions and deliveries ----
  await idColumn(db, db.schema.createTable('outbox_event'))
    .addColumn('rut_company', 'text', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    /** What the event is about (`dte:<id>`, `caf:<rut>:<tipo>`): deliveries keep order per key. */
    .addColumn('aggregate_key', 'text', (c) => c.notNull())
    .addColumn('payload_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    /** Set once deliveries were created for every matching subscription. */
    .addColumn('dispatched_at', 'text')
    .execute();
  await db.schema.createIndex('outbox_pending_idx').on('outbox_event').columns(['dispatched_at', 'id']).execute();

  await idColumn(db, db.schema.createTable('webhook_subscription'))
    .addColumn('rut_company', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('url', 'text', (c) => c.notNull())
    /** JSON array of event types, `["*"]` for all. */
    .addColumn('events_json', 'text', (c) => c.notNull())
    /** The HMAC secret, sealed with the SecretBox. */
    .addColumn('secret_encrypted', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await idColumn(db, db.schema.createTable('webhook_delivery'))
    .addColumn('subscription_id', 'bigint', (c) => c.notNull().references('webhook_subscription.id'))
    .addColumn('event_id', 'bigint', (c) => c.notNull().references('outbox_event.id'))
    .addColumn('aggregate_key', 'text', (c) => c.notNull())
    /** pending → delivered | dead */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('lease_until', 'text')
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('delivered_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('webhook_delivery_unique', ['subscription_id', 'event_id'])
    .addCheckConstraint('webhook_delivery_status_check', sql`status in ('pending', 'delivered', 'dead')`)
    .execute();
  await db.schema.createIndex('webhook_delivery_due_idx').on('webhook_delivery').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('webhook_delivery_order_idx').on('webhook_delivery').columns(['subscription_id', 'aggregate_key', 'status', 'event_id']).execute();
}

export async function down(db: AnyDb): Promise<void> {
  for (const t of ['webhook_delivery', 'webhook_subscription', 'outbox_event', 'job', 'batch_item', 'batch']) await db.schema.dropTable(t).execute();
  await db.schema.alterTable('dte').addColumn('xml_envelope', 'text').execute();
  await db.schema.alterTable('dte').addColumn('upload_attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.dropIndex('dte_poll_idx').execute();
  await db.schema.dropIndex('dte_envio_idx').execute();
  for (const c of ['lease_owner', 'next_poll_at', 'poll_attempts', 'batch_id', 'envio_id']) await db.schema.alterTable('dte').dropColumn(c).execute();
  await db.schema.dropTable('envio').execute();
}
