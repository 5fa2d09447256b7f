// Frozen: never edit a migration that has shipped; add a new timestamp-prefixed file instead.
import type { Kysely } from 'kysely';
import { dbKind } from '../db.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/**
 * The issuer's logo for the printed representation (PDF): the image bytes (PNG or JPEG, bytea on
 * PostgreSQL, blob on SQLite) and their media type. Both null when the company has none.
 */
export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('company').addColumn('logo', dbKind(db) === 'postgres' ? 'bytea' : 'blob').execute();
  await db.schema.alterTable('company').addColumn('logo_type', 'text').execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('company').dropColumn('logo_type').execute();
  await db.schema.alterTable('company').dropColumn('logo').execute();
}
