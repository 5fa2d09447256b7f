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
 * Received documents (issue 7): the company's exchange mailbox settings (passwords sealed), the
 * IMAP cursor (informational), received envelopes (the bytes as received, deduplicated by SHA-256
 * per company), the DTEs in them (one row per issuer/type/folio) and the commercial responses sent.
 */
export async function up(db: AnyDb): Promise<void> {
  const bytes = dbKind(db) === 'postgres' ? 'bytea' : 'blob';

  await db.schema
    .createTable('company_mail')
    .addColumn('rut_company', 'text', (c) => c.primaryKey().references('company.rut'))
    .addColumn('imap_host', 'text')
    .addColumn('imap_port', 'integer')
    .addColumn('imap_secure', 'integer')
    .addColumn('imap_user', 'text')
    /** Sealed with the SecretBox. */
    .addColumn('imap_password_encrypted', 'text')
    .addColumn('mailbox', 'text')
    /** 0: accept any TLS certificate (test servers, self-signed); 1 (default): verify. */
    .addColumn('imap_tls_verify', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('smtp_host', 'text')
    .addColumn('smtp_port', 'integer')
    .addColumn('smtp_secure', 'integer')
    .addColumn('smtp_user', 'text')
    /** Sealed with the SecretBox. */
    .addColumn('smtp_password_encrypted', 'text')
    .addColumn('smtp_from', 'text')
    .addColumn('smtp_tls_verify', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('inbox_cursor')
    .addColumn('rut_company', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('mailbox', 'text', (c) => c.notNull())
    .addColumn('uid_validity', 'text', (c) => c.notNull())
    .addColumn('last_uid', 'bigint')
    .addColumn('checked_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('inbox_cursor_pk', ['rut_company', 'mailbox'])
    .execute();

  await idColumn(db, db.schema.createTable('received_envelope'))
    .addColumn('rut_company', 'text', (c) => c.notNull().references('company.rut'))
    /** imap | upload */
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text')
    .addColumn('uid', 'bigint')
    .addColumn('sender', 'text')
    .addColumn('filename', 'text')
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('xml', bytes, (c) => c.notNull())
    .addColumn('root', 'text')
    .addColumn('envio_dte_id', 'text')
    .addColumn('digest', 'text')
    .addColumn('rut_emisor', 'text')
    .addColumn('estado_recep_env', 'integer', (c) => c.notNull())
    .addColumn('glosa', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('received_envelope_sha_unique', ['rut_company', 'sha256'])
    .addCheckConstraint('received_envelope_source_check', sql`source in ('imap', 'upload')`)
    .execute();

  await idColumn(db, db.schema.createTable('received_dte'))
    .addColumn('rut_company', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('envelope_id', 'bigint', (c) => c.notNull().references('received_envelope.id'))
    .addColumn('rut_emisor', 'text', (c) => c.notNull())
    .addColumn('tipo_dte', 'integer', (c) => c.notNull())
    .addColumn('folio', 'bigint', (c) => c.notNull())
    .addColumn('fch_emis', 'text')
    .addColumn('mnt_total', 'bigint')
    .addColumn('rut_recep', 'text')
    .addColumn('correo_emisor', 'text')
    /** The DTE element as received (text of the decoded envelope). */
    .addColumn('xml', 'text', (c) => c.notNull())
    .addColumn('verification_json', 'text', (c) => c.notNull())
    .addColumn('valid', 'integer', (c) => c.notNull())
    .addColumn('estado_recep_dte', 'integer', (c) => c.notNull())
    .addColumn('recep_dte_glosa', 'text')
    /** received → acknowledged → accepted | accepted_with_discrepancies | rejected | claimed */
    .addColumn('status', 'text', (c) => c.notNull())
    /** 8 calendar days after reception (ISO-8601 UTC). */
    .addColumn('deadline', 'text', (c) => c.notNull())
    .addColumn('due_notified_at', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('received_dte_doc_unique', ['rut_company', 'rut_emisor', 'tipo_dte', 'folio'])
    .addCheckConstraint('received_dte_status_check', sql`status in ('received', 'acknowledged', 'accepted', 'accepted_with_discrepancies', 'rejected', 'claimed')`)
    .execute();
  await db.schema.createIndex('received_dte_due_idx').on('received_dte').columns(['status', 'deadline']).execute();
  await db.schema.createIndex('received_dte_envelope_idx').on('received_dte').column('envelope_id').execute();

  await idColumn(db, db.schema.createTable('dte_response'))
    .addColumn('rut_company', 'text', (c) => c.notNull().references('company.rut'))
    .addColumn('received_dte_id', 'bigint', (c) => c.references('received_dte.id'))
    .addColumn('envelope_id', 'bigint', (c) => c.references('received_envelope.id'))
    /** RecepcionEnvio | ResultadoDTE | EnvioRecibos | RCV */
    .addColumn('kind', 'text', (c) => c.notNull())
    /** What the caller asked for (acuse_recibo, aceptar, …). */
    .addColumn('response', 'text', (c) => c.notNull())
    .addColumn('xml', 'text')
    .addColumn('sent_to', 'text')
    .addColumn('smtp_message_id', 'text')
    .addColumn('send_error', 'text')
    .addColumn('rcv_action', 'text')
    .addColumn('rcv_cod_resp', 'integer')
    .addColumn('rcv_desc', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addCheckConstraint('dte_response_kind_check', sql`kind in ('RecepcionEnvio', 'ResultadoDTE', 'EnvioRecibos', 'RCV')`)
    .execute();
  await db.schema.createIndex('dte_response_received_idx').on('dte_response').column('received_dte_id').execute();
}

export async function down(db: AnyDb): Promise<void> {
  for (const t of ['dte_response', 'received_dte', 'received_envelope', 'inbox_cursor', 'company_mail']) await db.schema.dropTable(t).execute();
}
