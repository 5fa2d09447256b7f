import type { Migration, MigrationProvider, MigrationResult } from 'kysely';
import { Migrator } from 'kysely';
import type { Kysely } from 'kysely';
import { StoreError } from '../errors.js';
import * as m20261128T120000 from './20261128T120000_initial.js';

/** All migrations, in code (no file-system scanning), keyed by their frozen timestamp-prefixed name. */
export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '20261128T120000_initial': m20261128T120000,
});

export class InCodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...migrations };
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: new InCodeMigrationProvider() });
}

/** Bring the schema up to date; throws StoreError ERR_MIGRATION_FAILED naming the failed migration. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResult[]> {
  const { error, results = [] } = await createMigrator(db).migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error');
    throw new StoreError('ERR_MIGRATION_FAILED', `migration ${failed?.migrationName ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return results;
}
