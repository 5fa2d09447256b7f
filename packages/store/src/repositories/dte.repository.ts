import { Rut } from '@timbre/dte';
import { sql, type Kysely } from 'kysely';
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
  fechaEmision?: string | null;
  requestJson?: string | null;
  cafId?: number | null;
  /** ISO-8601 UTC: the inserting worker owns the document until then. */
  leaseUntil?: string | null;
  /** The batch it comes in. */
  batchId?: string | null;
}

const canon = (rut: string): string => Rut.parse(rut, { field: 'rutEmisor' }).canonical;

function newDteRow(input: DteInput, now: string) {
  return {
    rut_emisor: canon(input.rutEmisor),
    tipo_dte: input.tipoDte,
    folio: input.folio,
    status: input.status ?? 'draft',
    sii_status: null,
    sii_track_id: null,
    xml_signed: input.xmlSigned ?? null,
    error_message: null,
    idempotency_key: input.idempotencyKey ?? null,
    fecha_emision: input.fechaEmision ?? null,
    request_json: input.requestJson ?? null,
    caf_id: input.cafId ?? null,
    lease_until: input.leaseUntil ?? null,
    batch_id: input.batchId ?? null,
    created_at: now,
    updated_at: now,
  } as const;
}

export async function insertDte(db: Kysely<Database>, input: DteInput): Promise<DteRow> {
  const now = new Date().toISOString();
  return db.insertInto('dte').values(newDteRow(input, now)).returningAll().executeTakeFirstOrThrow();
}

/** Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const BULK_ROWS = 500;

/**
 * Insert many documents with one multi-row INSERT per 500 (inside the caller's transaction, so that
 * they commit with their folios). Returns id, type and folio of each, in no particular order (match
 * them by type and folio, unique per issuer).
 */
export async function insertDtes(db: Kysely<Database>, inputs: readonly DteInput[]): Promise<Array<Pick<DteRow, 'id' | 'tipo_dte' | 'folio'>>> {
  const now = new Date().toISOString();
  const out: Array<Pick<DteRow, 'id' | 'tipo_dte' | 'folio'>> = [];
  for (let i = 0; i < inputs.length; i += BULK_ROWS) {
    const rows = await db
      .insertInto('dte')
      .values(inputs.slice(i, i + BULK_ROWS).map((input) => newDteRow(input, now)))
      .returning(['id', 'tipo_dte', 'folio'])
      .execute();
    for (const r of rows) out.push({ id: Number(r.id), tipo_dte: Number(r.tipo_dte), folio: Number(r.folio) });
  }
  return out;
}

/**
 * Link batch items to their documents: ONE `UPDATE batch_item … FROM (VALUES …)` per 500, guarded
 * by `dte_id IS NULL`. Returns how many items were linked (fewer than given when another worker
 * linked some first: the caller rolls back).
 */
export async function linkBatchItems(db: Kysely<Database>, batchId: string, links: ReadonlyArray<{ idx: number; dteId: number }>): Promise<number> {
  let linked = 0;
  for (let i = 0; i < links.length; i += BULK_ROWS) {
    const values = sql.join(links.slice(i, i + BULK_ROWS).map((l) => sql`(cast(${l.idx} as integer), cast(${l.dteId} as bigint))`));
    const r = await sql`update batch_item set dte_id = v.column2 from (values ${values}) as v
      where batch_item.batch_id = ${batchId} and batch_item.idx = v.column1 and batch_item.dte_id is null`.execute(db);
    linked += Number(r.numAffectedRows ?? 0);
  }
  return linked;
}

/**
 * `draft → signed` for many documents at once: ONE `UPDATE dte … FROM (VALUES (id, xml, ted) …)`
 * per 500 (status, XML, TED, error cleared, `updated_at`). Returns how many rows it updated.
 */
export async function storeSignedDtes(db: Kysely<Database>, docs: ReadonlyArray<{ id: number; xmlSigned: string; ted: string }>, now = new Date().toISOString()): Promise<number> {
  let updated = 0;
  for (let i = 0; i < docs.length; i += BULK_ROWS) {
    const values = sql.join(docs.slice(i, i + BULK_ROWS).map((d) => sql`(cast(${d.id} as bigint), cast(${d.xmlSigned} as text), cast(${d.ted} as text))`));
    const r = await sql`update dte set status = 'signed', xml_signed = v.column2, ted = v.column3, error_message = null, updated_at = ${now}
      from (values ${values}) as v where dte.id = v.column1`.execute(db);
    updated += Number(r.numAffectedRows ?? 0);
  }
  return updated;
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

/** Statuses from which the service still has work to do (stamp/sign, envelope, upload). */
export const UNFINISHED_STATUSES: readonly DteStatus[] = ['draft', 'signed'];

export type DtePatch = Partial<
  Pick<
    DteRow,
    | 'status'
    | 'sii_status'
    | 'sii_track_id'
    | 'xml_signed'
    | 'ted'
    | 'error_message'
    | 'attempts'
    | 'lease_until'
    | 'lease_owner'
    | 'next_attempt_at'
    | 'envio_id'
    | 'poll_attempts'
    | 'next_poll_at'
  >
>;

/** Update a document by id; `updated_at` is set. Undefined when there is no such row. */
export async function patchDte(db: Kysely<Database>, id: number, patch: DtePatch): Promise<DteRow | undefined> {
  return db
    .updateTable('dte')
    .set({ ...patch, updated_at: new Date().toISOString() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function findDteById(db: Kysely<Database>, id: number): Promise<DteRow | undefined> {
  return db.selectFrom('dte').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findDteByIdempotencyKey(db: Kysely<Database>, rutEmisor: string, key: string): Promise<DteRow | undefined> {
  return db.selectFrom('dte').selectAll().where('rut_emisor', '=', canon(rutEmisor)).where('idempotency_key', '=', key).executeTakeFirst();
}

/**
 * Take the lease of an unfinished document: ONE guarded statement, so two workers (processes) never
 * both get it. Succeeds when nobody holds it or the holder's lease ran out (it crashed or hung).
 * Returns the row as leased, or undefined (finished, or someone else's).
 */
export async function leaseDte(db: Kysely<Database>, id: number, opts: { now: Date; leaseMs: number; owner?: string }): Promise<DteRow | undefined> {
  const now = opts.now.toISOString();
  const owner = opts.owner ?? null;
  return db
    .updateTable('dte')
    .set({ lease_until: new Date(opts.now.getTime() + opts.leaseMs).toISOString(), lease_owner: owner })
    .where('id', '=', id)
    .where('status', 'in', [...UNFINISHED_STATUSES])
    .where((eb) => {
      const free = [eb('lease_until', 'is', null), eb('lease_until', '<', now)];
      return eb.or(owner === null ? free : [...free, eb('lease_owner', '=', owner)]);
    })
    .returningAll()
    .executeTakeFirst();
}

/**
 * `leaseDte` for many documents: ONE guarded UPDATE per 500 ids, same guard per row. Returns the rows
 * leased (those finished or held by someone else are left out: compare the count).
 */
export async function leaseDtes(db: Kysely<Database>, ids: readonly number[], opts: { now: Date; leaseMs: number; owner?: string }): Promise<DteRow[]> {
  const now = opts.now.toISOString();
  const owner = opts.owner ?? null;
  const out: DteRow[] = [];
  for (let i = 0; i < ids.length; i += BULK_ROWS) {
    const rows = await db
      .updateTable('dte')
      .set({ lease_until: new Date(opts.now.getTime() + opts.leaseMs).toISOString(), lease_owner: owner })
      .where('id', 'in', ids.slice(i, i + BULK_ROWS))
      .where('status', 'in', [...UNFINISHED_STATUSES])
      .where((eb) => {
        const free = [eb('lease_until', 'is', null), eb('lease_until', '<', now)];
        return eb.or(owner === null ? free : [...free, eb('lease_owner', '=', owner)]);
      })
      .returningAll()
      .execute();
    out.push(...rows);
  }
  return out;
}

export interface DueDtesFilter {
  now: Date;
  limit?: number;
  rutEmisor?: string;
  tipoDte?: number;
  folio?: number;
  ids?: readonly number[];
  /** Ignore `next_attempt_at` (an explicit resend). */
  ignoreSchedule?: boolean;
  /**
   * Documents of a batch belong to its queue jobs: include them only when untouched since this
   * instant (their job died for good), so the sweep is their last resort, not a competitor.
   */
  batchStaleBefore?: Date;
}

/** Unfinished documents nobody holds, due for another attempt, oldest first. */
export async function listDueDtes(db: Kysely<Database>, f: DueDtesFilter): Promise<DteRow[]> {
  const now = f.now.toISOString();
  let q = db
    .selectFrom('dte')
    .selectAll()
    .where('status', 'in', [...UNFINISHED_STATUSES])
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]));
  if (!f.ignoreSchedule) q = q.where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]));
  if (f.rutEmisor !== undefined) q = q.where('rut_emisor', '=', canon(f.rutEmisor));
  if (f.tipoDte !== undefined) q = q.where('tipo_dte', '=', f.tipoDte);
  if (f.folio !== undefined) q = q.where('folio', '=', f.folio);
  if (f.batchStaleBefore !== undefined) {
    const cutoff = f.batchStaleBefore.toISOString();
    q = q.where((eb) => eb.or([eb('batch_id', 'is', null), eb('updated_at', '<', cutoff)]));
  }
  if (f.ids !== undefined) {
    if (f.ids.length === 0) return [];
    q = q.where('id', 'in', [...f.ids]);
  }
  return q.orderBy('id').limit(Math.min(1000, Math.max(1, Math.trunc(f.limit ?? 100)))).execute();
}
