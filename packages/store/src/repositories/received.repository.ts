/**
 * Received documents: envelopes (the bytes as received, one per company and SHA-256), the DTEs in
 * them (one per company, issuer, type and folio: a document received twice is stored once) and the
 * responses sent for them. Inserts take the caller's transaction: the service stores an envelope,
 * its new DTEs and their `dte.received` events together.
 */
import { Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type {
  DteResponseRow,
  NewDteResponseRow,
  ReceivedDteRow,
  ReceivedDteStatus,
  ReceivedEnvelopeRow,
  ReceivedSource,
} from '../tables/received.table.js';

const canonical = (rut: string, field = 'rut'): string => Rut.parse(rut, { field }).canonical;

export interface ReceivedEnvelopeInput {
  rutCompany: string;
  source: ReceivedSource;
  messageId?: string | null;
  uid?: number | null;
  sender?: string | null;
  filename?: string | null;
  sha256: string;
  xml: Buffer;
  root?: string | null;
  envioDteId?: string | null;
  digest?: string | null;
  rutEmisor?: string | null;
  estadoRecepEnv: number;
  glosa?: string | null;
  now?: Date;
}

/** The envelope already stored with those bytes, if any. */
export async function findEnvelopeBySha(db: Kysely<Database>, rutCompany: string, sha256: string): Promise<Omit<ReceivedEnvelopeRow, 'xml'> | undefined> {
  return db
    .selectFrom('received_envelope')
    .select(ENVELOPE_SUMMARY)
    .where('rut_company', '=', canonical(rutCompany))
    .where('sha256', '=', sha256)
    .executeTakeFirst();
}

const ENVELOPE_SUMMARY = [
  'id',
  'rut_company',
  'source',
  'message_id',
  'uid',
  'sender',
  'filename',
  'sha256',
  'root',
  'envio_dte_id',
  'digest',
  'rut_emisor',
  'estado_recep_env',
  'glosa',
  'received_at',
] as const;

export async function insertReceivedEnvelope(db: Kysely<Database>, e: ReceivedEnvelopeInput): Promise<Omit<ReceivedEnvelopeRow, 'xml'>> {
  return db
    .insertInto('received_envelope')
    .values({
      rut_company: canonical(e.rutCompany),
      source: e.source,
      message_id: e.messageId ?? null,
      uid: e.uid ?? null,
      sender: e.sender ?? null,
      filename: e.filename ?? null,
      sha256: e.sha256,
      xml: e.xml,
      root: e.root ?? null,
      envio_dte_id: e.envioDteId ?? null,
      digest: e.digest ?? null,
      rut_emisor: e.rutEmisor ?? null,
      estado_recep_env: e.estadoRecepEnv,
      glosa: e.glosa ?? null,
      received_at: (e.now ?? new Date()).toISOString(),
    })
    .returning(ENVELOPE_SUMMARY)
    .executeTakeFirstOrThrow();
}

/** The envelope with its bytes. */
export async function findReceivedEnvelope(db: Kysely<Database>, id: number): Promise<ReceivedEnvelopeRow | undefined> {
  const row = await db.selectFrom('received_envelope').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) return undefined;
  return { ...row, xml: Buffer.isBuffer(row.xml) ? row.xml : Buffer.from(row.xml as Uint8Array) };
}

export interface ReceivedDteInput {
  rutCompany: string;
  envelopeId: number;
  rutEmisor: string;
  tipoDte: number;
  folio: number;
  fchEmis?: string | null;
  mntTotal?: number | null;
  rutRecep?: string | null;
  correoEmisor?: string | null;
  xml: string;
  verification: unknown;
  valid: boolean;
  estadoRecepDte: number;
  recepDteGlosa?: string | null;
  /** ISO-8601 UTC. */
  deadline: string;
  now?: Date;
}

/**
 * Store a received DTE unless the company already has that (issuer, type, folio): returns the new
 * row, or undefined for a repeat (nothing written; `ON CONFLICT DO NOTHING`, so the caller's
 * transaction goes on on PostgreSQL too).
 */
export async function insertReceivedDte(db: Kysely<Database>, d: ReceivedDteInput): Promise<ReceivedDteRow | undefined> {
  const now = (d.now ?? new Date()).toISOString();
  return db
    .insertInto('received_dte')
    .values({
      rut_company: canonical(d.rutCompany),
      envelope_id: d.envelopeId,
      rut_emisor: canonical(d.rutEmisor, 'rutEmisor'),
      tipo_dte: d.tipoDte,
      folio: d.folio,
      fch_emis: d.fchEmis ?? null,
      mnt_total: d.mntTotal ?? null,
      rut_recep: d.rutRecep ?? null,
      correo_emisor: d.correoEmisor ?? null,
      xml: d.xml,
      verification_json: JSON.stringify(d.verification),
      valid: d.valid ? 1 : 0,
      estado_recep_dte: d.estadoRecepDte,
      recep_dte_glosa: d.recepDteGlosa ?? null,
      status: 'received',
      deadline: d.deadline,
      due_notified_at: null,
      received_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.columns(['rut_company', 'rut_emisor', 'tipo_dte', 'folio']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** The stored row of (company, issuer, type, folio). */
export async function findReceivedDteByKey(db: Kysely<Database>, k: { rutCompany: string; rutEmisor: string; tipoDte: number; folio: number }): Promise<ReceivedDteRow | undefined> {
  return db
    .selectFrom('received_dte')
    .selectAll()
    .where('rut_company', '=', canonical(k.rutCompany))
    .where('rut_emisor', '=', canonical(k.rutEmisor, 'rutEmisor'))
    .where('tipo_dte', '=', k.tipoDte)
    .where('folio', '=', k.folio)
    .executeTakeFirst();
}

export async function findReceivedDte(db: Kysely<Database>, id: number): Promise<ReceivedDteRow | undefined> {
  return db.selectFrom('received_dte').selectAll().where('id', '=', id).executeTakeFirst();
}

export type ReceivedDteSummary = Omit<ReceivedDteRow, 'xml' | 'verification_json'>;
const DTE_SUMMARY = [
  'id',
  'rut_company',
  'envelope_id',
  'rut_emisor',
  'tipo_dte',
  'folio',
  'fch_emis',
  'mnt_total',
  'rut_recep',
  'correo_emisor',
  'valid',
  'estado_recep_dte',
  'recep_dte_glosa',
  'status',
  'deadline',
  'due_notified_at',
  'received_at',
  'updated_at',
] as const;

export interface ListReceivedFilter {
  rutCompany: string;
  rutEmisor?: string;
  tipoDte?: number;
  status?: ReceivedDteStatus;
  limit?: number;
  /** Keyset: rows with id < before. */
  before?: number;
}

/** Newest first; `nextBefore` when there may be more. */
export async function listReceivedDtes(db: Kysely<Database>, f: ListReceivedFilter): Promise<{ items: ReceivedDteSummary[]; nextBefore?: number }> {
  const limit = f.limit ?? 50;
  let q = db.selectFrom('received_dte').select(DTE_SUMMARY).where('rut_company', '=', canonical(f.rutCompany));
  if (f.rutEmisor !== undefined) q = q.where('rut_emisor', '=', canonical(f.rutEmisor, 'rutEmisor'));
  if (f.tipoDte !== undefined) q = q.where('tipo_dte', '=', f.tipoDte);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.before !== undefined) q = q.where('id', '<', f.before);
  const items = await q.orderBy('id', 'desc').limit(limit).execute();
  const last = items[items.length - 1];
  return { items, ...(items.length === limit && last ? { nextBefore: Number(last.id) } : {}) };
}

/** Move a received DTE to a status (only from one of `from`); returns whether it changed. */
export async function setReceivedDteStatus(db: Kysely<Database>, id: number, from: readonly ReceivedDteStatus[], status: ReceivedDteStatus, now: Date = new Date()): Promise<boolean> {
  const r = await db
    .updateTable('received_dte')
    .set({ status, updated_at: now.toISOString() })
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/**
 * Received DTEs whose deadline is before `dueBefore`, with no commercial response registered
 * (`received` or `acknowledged`) and not yet reported due.
 */
export async function listDueReceived(db: Kysely<Database>, f: { dueBefore: Date; limit?: number }): Promise<ReceivedDteSummary[]> {
  return db
    .selectFrom('received_dte')
    .select(DTE_SUMMARY)
    .where('status', 'in', ['received', 'acknowledged'])
    .where('due_notified_at', 'is', null)
    .where('deadline', '<', f.dueBefore.toISOString())
    .orderBy('deadline')
    .limit(f.limit ?? 200)
    .execute();
}

/** Mark `dte.response_due` as recorded (guarded: only once). Returns whether this call marked it. */
export async function markResponseDueNotified(db: Kysely<Database>, id: number, now: Date = new Date()): Promise<boolean> {
  const r = await db.updateTable('received_dte').set({ due_notified_at: now.toISOString() }).where('id', '=', id).where('due_notified_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export type DteResponseInput = Omit<NewDteResponseRow, 'id' | 'created_at' | 'rut_company'> & { rutCompany: string; now?: Date };

export async function insertDteResponse(db: Kysely<Database>, r: DteResponseInput): Promise<DteResponseRow> {
  const { rutCompany, now, ...rest } = r;
  return db
    .insertInto('dte_response')
    .values({ ...rest, rut_company: canonical(rutCompany), created_at: (now ?? new Date()).toISOString() })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Responses of a received DTE (and of its envelope), oldest first. */
export async function listDteResponses(db: Kysely<Database>, f: { receivedDteId: number }): Promise<DteResponseRow[]> {
  return db.selectFrom('dte_response').selectAll().where('received_dte_id', '=', f.receivedDteId).orderBy('id').execute();
}
