import { Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { IdempotencyRow } from '../tables/idempotency.table.js';

export interface IdempotencyRecord {
  key: string;
  rutCompany: string;
  requestHash: string;
  responseJson: string;
  statusCode: number;
}

const canon = (rut: string): string => Rut.parse(rut, { field: 'rutCompany' }).canonical;

export async function getIdempotency(db: Kysely<Database>, key: string, rutCompany: string): Promise<IdempotencyRow | undefined> {
  return db.selectFrom('idempotency').selectAll().where('key', '=', key).where('rut_company', '=', canon(rutCompany)).executeTakeFirst();
}

/**
 * Record the response for (key, company) unless one is already there (first writer wins).
 * Returns the stored row and whether this call stored it; compare `request_hash` to detect a key
 * reused with a different request.
 */
export async function putIdempotency(db: Kysely<Database>, rec: IdempotencyRecord): Promise<{ row: IdempotencyRow; inserted: boolean }> {
  const inserted = await db
    .insertInto('idempotency')
    .values({
      key: rec.key,
      rut_company: canon(rec.rutCompany),
      request_hash: rec.requestHash,
      response_json: rec.responseJson,
      status_code: rec.statusCode,
      created_at: new Date().toISOString(),
    })
    .onConflict((oc) => oc.columns(['key', 'rut_company']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted !== undefined) return { row: inserted, inserted: true };
  const row = await getIdempotency(db, rec.key, rec.rutCompany);
  if (row === undefined) throw new Error(`idempotency row ${rec.key} vanished after a conflict`);
  return { row, inserted: false };
}
