// Frozen: never edit a migration that has shipped; add a new timestamp-prefixed file instead.
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/**
 * What a document needs so that any process can finish it after a crash: the validated request and
 * issue date (a `draft` is stamped from them), the CAF its folio came from, the TED, the exact envelope
 * bytes (a re-upload must be the SAME bytes for the SII's duplicate rule), how many uploads were
 * attempted (after one, the SII is asked before uploading again), a lease (one worker at a time) and
 * the retry schedule.
 */
const COLUMNS: Array<[string, 'text' | 'integer' | 'bigint']> = [
  ['fecha_emision', 'text'],
  ['request_json', 'text'],
  ['caf_id', 'bigint'],
  ['ted', 'text'],
  ['xml_envelope', 'text'],
  ['lease_until', 'text'],
  ['next_attempt_at', 'text'],
];

export async function up(db: AnyDb): Promise<void> {
  for (const [name, type] of COLUMNS) await db.schema.alterTable('dte').addColumn(name, type).execute();
  await db.schema.alterTable('dte').addColumn('upload_attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('dte').addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  // The recovery sweep: unfinished documents by due time.
  await db.schema.createIndex('dte_pending_idx').on('dte').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('dte_idempotency_idx').on('dte').columns(['rut_emisor', 'idempotency_key']).execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropIndex('dte_idempotency_idx').execute();
  await db.schema.dropIndex('dte_pending_idx').execute();
  for (const name of ['attempts', 'upload_attempts', ...COLUMNS.map(([n]) => n).reverse()]) await db.schema.alterTable('dte').dropColumn(name).execute();
}
