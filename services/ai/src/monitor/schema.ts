/**
 * The AI service's own tables (the SII monitor's state) and their frozen migrations. Separate from
 * @timbre/store's DTE schema: own Kysely migration tables (`ai_migration*`), so the AI service can
 * share a database with the DTE service or have its own (the default, `sqlite:./.tmp/timbre-ai.db`).
 * Timestamps are ISO-8601 UTC text (`toISOString()`, fixed width): they sort and compare as text on
 * SQLite and PostgreSQL alike.
 */
import { createDb, dbKind } from '@timbre/store';
import { Migrator, type Generated, type Kysely, type Migration } from 'kysely';

export interface SiiPublicationTable {
  id: Generated<number>;
  tipo: 'circular' | 'resolucion' | 'noticia';
  numero: string;
  anio: number;
  fecha: string;
  vigencia: string;
  titulo: string;
  materia: string | null;
  resumen: string;
  impacto: string;
  prioridad: number;
  /** 0/1 (one integer type on both databases). */
  relevante_dte: number;
  url: string;
  /** 1 when Odoo must be told (see notifier.ts for the rule). */
  notify: number;
  /** X-Timbre-Delivery: fixed when the row is created, the same on every retry. */
  delivery_id: string;
  first_seen_at: string;
  run_id: number;
  notified_at: string | null;
  notify_attempts: Generated<number>;
  next_notify_at: string | null;
  last_error: string | null;
}

export interface SiiMonitorRunTable {
  id: Generated<number>;
  trigger: 'schedule' | 'manual';
  started_at: string;
  finished_at: string | null;
  status: 'running' | 'ok' | 'partial' | 'failed';
  /** JSON array of {code, message, url}. */
  error: string | null;
  new_count: Generated<number>;
}

export interface AiDatabase {
  sii_publication: SiiPublicationTable;
  sii_monitor_run: SiiMonitorRunTable;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

const idColumn = (db: AnyDb) => (dbKind(db) === 'postgres' ? 'serial' : 'integer');

const m20261204T080000: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('sii_monitor_run')
      .addColumn('id', idColumn(db), (c) => (dbKind(db) === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('trigger', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('new_count', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('sii_publication')
      .addColumn('id', idColumn(db), (c) => (dbKind(db) === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('tipo', 'text', (c) => c.notNull())
      .addColumn('numero', 'text', (c) => c.notNull())
      .addColumn('anio', 'integer', (c) => c.notNull())
      .addColumn('fecha', 'text', (c) => c.notNull())
      .addColumn('vigencia', 'text', (c) => c.notNull())
      .addColumn('titulo', 'text', (c) => c.notNull())
      .addColumn('materia', 'text')
      .addColumn('resumen', 'text', (c) => c.notNull())
      .addColumn('impacto', 'text', (c) => c.notNull())
      .addColumn('prioridad', 'integer', (c) => c.notNull())
      .addColumn('relevante_dte', 'integer', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('notify', 'integer', (c) => c.notNull())
      .addColumn('delivery_id', 'text', (c) => c.notNull().unique())
      .addColumn('first_seen_at', 'text', (c) => c.notNull())
      .addColumn('run_id', 'integer', (c) => c.notNull().references('sii_monitor_run.id'))
      .addColumn('notified_at', 'text')
      .addColumn('notify_attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_notify_at', 'text')
      .addColumn('last_error', 'text')
      // Numbers restart every year: a circular is (tipo, año, número).
      .addUniqueConstraint('sii_publication_key', ['tipo', 'anio', 'numero'])
      .execute();
    await db.schema.createIndex('sii_publication_due').on('sii_publication').columns(['notified_at', 'next_notify_at']).execute();
    await db.schema.createIndex('sii_publication_seen').on('sii_publication').columns(['first_seen_at']).execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('sii_publication').execute();
    await db.schema.dropTable('sii_monitor_run').execute();
  },
};

/** Frozen: add new ones, never edit these. */
export const aiMigrations: Readonly<Record<string, Migration>> = Object.freeze({ '20261204T080000_sii_monitor': m20261204T080000 });

export class AiMigrationError extends Error {
  readonly code = 'ERR_MIGRATION_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AiMigrationError';
  }
}

export async function migrateAiDb(db: Kysely<AiDatabase>, options: { schema?: string } = {}): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...aiMigrations }) },
    migrationTableName: 'ai_migration',
    migrationLockTableName: 'ai_migration_lock',
    ...(options.schema ? { migrationTableSchema: options.schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new AiMigrationError(`AI service migration ${failed} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
}

/** Open the AI service's database (`createDb` of @timbre/store, typed with this service's tables). */
export function openAiDb(url: string, searchPath?: string): Kysely<AiDatabase> {
  // createDb is typed for the DTE schema; the connection itself is schema-agnostic.
  return createDb({ url, ...(searchPath ? { searchPath } : {}) }) as unknown as Kysely<AiDatabase>;
}
