// Frozen: never edit a migration that has shipped; add a new timestamp-prefixed file instead.
import { sql } from 'kysely';
import type { CreateTableBuilder, Kysely } from 'kysely';
import { dbKind } from '../db.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/** The surrogate key: an identity column on PostgreSQL, a rowid alias on SQLite. */
function idColumn<T extends string>(db: AnyDb, table: CreateTableBuilder<T, never>): CreateTableBuilder<T, 'id'> {
  return dbKind(db) === 'postgres'
    ? table.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('company')
    .addColumn('rut', 'text', (c) => c.primaryKey())
    .addColumn('razon_social', 'text', (c) => c.notNull())
    .addColumn('resolution_nro', 'integer', (c) => c.notNull())
    .addColumn('resolution_fecha', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await idColumn(db, db.schema.createTable('caf'))
    .addColumn('rut_emisor', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('tipo_dte', 'integer', (c) => c.notNull())
    .addColumn('desde', 'bigint', (c) => c.notNull())
    .addColumn('hasta', 'bigint', (c) => c.notNull())
    .addColumn('fecha_autorizacion', 'text', (c) => c.notNull())
    .addColumn('idk', 'integer', (c) => c.notNull())
    .addColumn('next_folio', 'bigint', (c) => c.notNull())
    .addColumn('caf_xml_encrypted', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('caf_rut_tipo_desde_unique', ['rut_emisor', 'tipo_dte', 'desde'])
    .addCheckConstraint('caf_range_check', sql`desde >= 1 and hasta >= desde and next_folio >= desde and next_folio <= hasta + 1`)
    .execute();
  await db.schema.createIndex('caf_rut_tipo_idx').on('caf').columns(['rut_emisor', 'tipo_dte', 'desde']).execute();

  await idColumn(db, db.schema.createTable('certificate'))
    .addColumn('rut_company', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('rut_signer', 'text', (c) => c.notNull())
    .addColumn('not_before', 'text', (c) => c.notNull())
    .addColumn('not_after', 'text', (c) => c.notNull())
    .addColumn('p12_encrypted', 'text', (c) => c.notNull())
    .addColumn('password_encrypted', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await idColumn(db, db.schema.createTable('dte'))
    .addColumn('rut_emisor', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('tipo_dte', 'integer', (c) => c.notNull())
    .addColumn('folio', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('sii_status', 'text')
    .addColumn('sii_track_id', 'text')
    .addColumn('xml_signed', 'text')
    .addColumn('error_message', 'text')
    .addColumn('idempotency_key', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('dte_rut_tipo_folio_unique', ['rut_emisor', 'tipo_dte', 'folio'])
    .addCheckConstraint(
      'dte_status_check',
      sql`status in ('draft', 'signed', 'sent', 'accepted', 'accepted_with_reparos', 'rejected', 'error')`,
    )
    .execute();
  await db.schema.createIndex('dte_rut_status_idx').on('dte').columns(['rut_emisor', 'status']).execute();

  await db.schema
    .createTable('idempotency')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('rut_company', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('response_json', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_pk', ['key', 'rut_company'])
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  for (const t of ['idempotency', 'dte', 'certificate', 'caf', 'company']) await db.schema.dropTable(t).execute();
}
