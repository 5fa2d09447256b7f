import type { Migration, MigrationProvider, MigrationResult } from 'kysely';
import { Migrator } from 'kysely';
import type { Kysely } from 'kysely';
import { StoreError } from '../errors.js';
import * as m20261128T120000 from './20261128T120000_initial.js';
import * as m20261128T230000 from './20261128T230000_dte_pipeline.js';
import * as m20261129T000000 from './20261129T000000_async_pipeline.js';
import * as m20261204T030000 from './20261204T030000_company_logo.js';
import * as m20261204T040000 from './20261204T040000_received.js';

/** All migrations, in code (no file-system scanning), keyed by their frozen timestamp-prefixed name. */
export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '20261128T120000_initial': m20261128T120000,
  '20261128T230000_dte_pipeline': m20261128T230000,
  '20261129T000000_async_pipeline': m20261129T000000,
  '20261204T030000_company_logo': m20261204T030000,
  '20261204T040000_received': m20261204T040000,
});

export class InCodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...migrations };
  }
}

export interface MigrateOptions {
  /**
   * PostgreSQL: the schema the database's tables live in (the `searchPath` given to createDb). Kysely
   * looks for its own migration tables in every schema unless told which, so a second Timbre schema
   * in the same database would otherwise make it skip creating them here.
   */
  schema?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createMigrator(db: Kysely<any>, options: MigrateOptions = {}): Migrator {
  return new Migrator({ db, provider: new InCodeMigrationProvider(), ...(options.schema ? { migrationTableSchema: options.schema } : {}) });
}

/** Bring the schema up to date; throws StoreError ERR_MIGRATION_FAILED naming the failed migration. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>, options: MigrateOptions = {}): Promise<MigrationResult[]> {
  const { error, results = [] } = await createMigrator(db, options).migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error');
    throw new StoreError('ERR_MIGRATION_FAILED', `migration ${failed?.migrationName ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return results;
}
