import { Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { DteRow, DteStatus } from '../tables/dte.table.js';

export interface DteKey {
  rutEmisor: string;
  tipoDte: number;
  folio: number;
}

export interface DteInput extends DteKey {
  status?: DteStatus;
  xmlSigned?: string | null;
  idempotencyKey?: string | null;
}

const canon = (rut: string): string => Rut.parse(rut, { field: 'rutEmisor' }).canonical;

export async function insertDte(db: Kysely<Database>, input: DteInput): Promise<DteRow> {
  const now = new Date().toISOString();
  return db
    .insertInto('dte')
    .values({
      rut_emisor: canon(input.rutEmisor),
      tipo_dte: input.tipoDte,
      folio: input.folio,
      status: input.status ?? 'draft',
      sii_status: null,
      sii_track_id: null,
      xml_signed: input.xmlSigned ?? null,
      error_message: null,
      idempotency_key: input.idempotencyKey ?? null,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface DteStatusUpdate {
  status: DteStatus;
  siiStatus?: string | null;
  siiTrackId?: string | null;
  xmlSigned?: string | null;
  errorMessage?: string | null;
}

/** Set the status (and whatever else is given); undefined when there is no such DTE. */
export async function updateDteStatus(db: Kysely<Database>, key: DteKey, update: DteStatusUpdate): Promise<DteRow | undefined> {
  return db
    .updateTable('dte')
    .set({
      status: update.status,
      updated_at: new Date().toISOString(),
      ...(update.siiStatus === undefined ? {} : { sii_status: update.siiStatus }),
      ...(update.siiTrackId === undefined ? {} : { sii_track_id: update.siiTrackId }),
      ...(update.xmlSigned === undefined ? {} : { xml_signed: update.xmlSigned }),
      ...(update.errorMessage === undefined ? {} : { error_message: update.errorMessage }),
    })
    .where('rut_emisor', '=', canon(key.rutEmisor))
    .where('tipo_dte', '=', key.tipoDte)
    .where('folio', '=', key.folio)
    .returningAll()
    .executeTakeFirst();
}

export async function findDteByKey(db: Kysely<Database>, key: DteKey): Promise<DteRow | undefined> {
  return db
    .selectFrom('dte')
    .selectAll()
    .where('rut_emisor', '=', canon(key.rutEmisor))
    .where('tipo_dte', '=', key.tipoDte)
    .where('folio', '=', key.folio)
    .executeTakeFirst();
}

export interface ListDtesFilter {
  rutEmisor: string;
  tipoDte?: number;
  status?: DteStatus | DteStatus[];
  /** Page size, 1..500 (default 50). */
  limit?: number;
  /** Keyset cursor: return DTEs with id < before (newest first). Use the last `nextBefore`. */
  before?: number;
}

export interface DtePage {
  items: DteRow[];
  /** Pass as `before` for the next page; undefined on the last page. */
  nextBefore: number | undefined;
}

/** Newest first, keyset-paginated by id. */
export async function listDtes(db: Kysely<Database>, filter: ListDtesFilter): Promise<DtePage> {
  const limit = Math.min(500, Math.max(1, Math.trunc(filter.limit ?? 50)));
  let q = db.selectFrom('dte').selectAll().where('rut_emisor', '=', canon(filter.rutEmisor));
  if (filter.tipoDte !== undefined) q = q.where('tipo_dte', '=', filter.tipoDte);
  if (filter.status !== undefined) {
    const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    if (statuses.length === 0) return { items: [], nextBefore: undefined };
    q = q.where('status', 'in', statuses);
  }
  if (filter.before !== undefined) q = q.where('id', '<', filter.before);
  const rows = await q.orderBy('id', 'desc').limit(limit + 1).execute();
  const items = rows.slice(0, limit);
  return { items, nextBefore: rows.length > limit ? items[items.length - 1]?.id : undefined };
}
