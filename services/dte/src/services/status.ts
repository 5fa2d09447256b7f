/**
 * Every change of a document's status goes through `transition`: the row update and (with the
 * outbox) the `dte.status_changed` / `dte.error` event are written in the caller's transaction, so
 * an event is never lost nor sent for a change that did not happen.
 */
import { Rut } from '@timbre/dte';
import { recordEvent, writeTransaction, type Database, type DteRow, type DteStatus, type RecordEventInput } from '@timbre/store';
import type { Kysely } from 'kysely';

export interface TransitionPatch {
  status: DteStatus;
  siiStatus?: string | null;
  siiTrackId?: string | null;
  errorMessage?: string | null;
  /** The SII's glosa for the new status (goes into the event as `status_display`). */
  display?: string;
  /** Extra column updates (leases, schedules). */
  extra?: Partial<Pick<DteRow, 'lease_until' | 'next_attempt_at' | 'next_poll_at' | 'poll_attempts'>>;
}

/** Statuses after which the SII will not change its mind. */
export const FINAL_STATUSES: readonly DteStatus[] = ['accepted', 'accepted_with_reparos', 'rejected', 'error'];

/** Rows per statement (well under either database's parameter limit). */
const CHUNK = 500;

/** A document without its three large texts (the XML, the TED, the request): what status work needs. */
export type DteState = Omit<DteRow, 'xml_signed' | 'ted' | 'request_json'>;

/** The columns of `DteState` (a `Record`, so that a new column must be listed here). */
const STATE: Record<keyof DteState, true> = {
  id: true,
  rut_emisor: true,
  tipo_dte: true,
  folio: true,
  status: true,
  sii_status: true,
  sii_track_id: true,
  error_message: true,
  idempotency_key: true,
  fecha_emision: true,
  caf_id: true,
  envio_id: true,
  batch_id: true,
  poll_attempts: true,
  lease_owner: true,
  next_poll_at: true,
  attempts: true,
  lease_until: true,
  next_attempt_at: true,
  created_at: true,
  updated_at: true,
};
/**
 * What `transition` reads back (and the poller reads): the large texts never change in a transition,
 * they stay as the caller's rows have them, and a 200-document envelope does not bring 1.6 MB back
 * from the database.
 */
export const DTE_STATE_COLUMNS = Object.keys(STATE) as Array<keyof DteState>;

/**
 * Move documents to a new status (only those whose status is one of `from`), inside `trx`. Returns
 * the rows that changed, in the order given.
 *
 * However many rows: ONE guarded `UPDATE … WHERE id IN (…) AND status IN (from) RETURNING …` and ONE
 * multi-row INSERT of their outbox events per 500 documents, in the caller's transaction (a
 * 200-document envelope is two statements, not 400). Each event carries the status the caller's
 * row had, as before. The rows returned are the rows given with every column as updated (the large
 * texts, which no transition changes, as given).
 */
export async function transition<R extends DteState>(trx: Kysely<Database>, rows: readonly R[], from: readonly DteStatus[], patch: TransitionPatch): Promise<R[]> {
  const candidates = rows.filter((r) => from.includes(r.status));
  if (candidates.length === 0) return [];
  const now = new Date().toISOString();
  const updated = new Map<number, DteState>();
  for (let i = 0; i < candidates.length; i += CHUNK) {
    const changed = await trx
      .updateTable('dte')
      .set({
        status: patch.status,
        updated_at: now,
        ...(patch.siiStatus !== undefined ? { sii_status: patch.siiStatus } : {}),
        ...(patch.siiTrackId !== undefined ? { sii_track_id: patch.siiTrackId } : {}),
        ...(patch.errorMessage !== undefined ? { error_message: patch.errorMessage } : {}),
        ...(patch.extra ?? {}),
      })
      .where('id', 'in', candidates.slice(i, i + CHUNK).map((r) => r.id))
      .where('status', 'in', [...from])
      .returning(DTE_STATE_COLUMNS)
      .execute();
    for (const r of changed) updated.set(Number(r.id), r);
  }
  const changed: R[] = [];
  const events: RecordEventInput[] = [];
  for (const row of candidates) {
    const u = updated.get(Number(row.id));
    if (u === undefined) continue; // changed by someone else meanwhile: not ours to report
    const after: R = { ...row, ...u };
    changed.push(after);
    events.push(...statusEvents(row.status, after, patch));
  }
  await recordEvents(trx, events);
  return changed;
}

/**
 * The outbox events of one change (api-contract "Webhooks"): `dte.status_changed` always,
 * `dte.error` as well when the document failed for good. Call inside the transaction that changed it.
 */
export async function recordStatusEvent(trx: Kysely<Database>, oldStatus: DteStatus, row: DteState, patch: Pick<TransitionPatch, 'display' | 'errorMessage'>): Promise<void> {
  await recordEvents(trx, statusEvents(oldStatus, row, patch));
}

function statusEvents(oldStatus: DteStatus, row: DteState, patch: Pick<TransitionPatch, 'display' | 'errorMessage'>): RecordEventInput[] {
  const aggregateKey = `dte:${row.id}`;
  const events: RecordEventInput[] = [
    {
      rutCompany: row.rut_emisor,
      eventType: 'dte.status_changed',
      aggregateKey,
      payload: {
        id: row.id,
        dte_type: String(row.tipo_dte),
        folio: row.folio,
        track_id: row.sii_track_id,
        rut_emisor: row.rut_emisor,
        old_status: oldStatus,
        new_status: row.status,
        sii_status: row.sii_status,
        status_display: patch.display ?? row.sii_status ?? row.status,
        error_message: row.error_message,
      },
    },
  ];
  if (row.status === 'error' || row.status === 'rejected') {
    events.push({
      rutCompany: row.rut_emisor,
      eventType: 'dte.error',
      aggregateKey,
      payload: {
        id: row.id,
        dte_type: String(row.tipo_dte),
        folio: row.folio,
        rut_emisor: row.rut_emisor,
        error_code: row.status === 'rejected' ? (row.sii_status ?? 'REJECTED') : 'ERR_DTE_FAILED',
        error_message: row.error_message ?? patch.errorMessage ?? '',
      },
    });
  }
  return events;
}

/**
 * Outbox events, in order, with one multi-row INSERT per 500: the rows `recordEvent` writes (company
 * RUT canonical, body = `{event, …payload, timestamp}`, created now, not dispatched). One event is
 * simply `recordEvent`. Ids follow the order given, so a document's events keep their order.
 */
async function recordEvents(trx: Kysely<Database>, events: readonly RecordEventInput[]): Promise<void> {
  if (events.length === 0) return;
  if (events.length === 1) {
    await recordEvent(trx, events[0] as RecordEventInput);
    return;
  }
  const createdAt = new Date().toISOString();
  for (let i = 0; i < events.length; i += CHUNK) {
    await trx
      .insertInto('outbox_event')
      .values(
        events.slice(i, i + CHUNK).map((e) => ({
          rut_company: Rut.parse(e.rutCompany, { field: 'rutCompany' }).canonical,
          event_type: e.eventType,
          aggregate_key: e.aggregateKey,
          payload_json: JSON.stringify({ event: e.eventType, ...e.payload, timestamp: createdAt }),
          created_at: createdAt,
          dispatched_at: null,
        })),
      )
      .execute();
  }
}

/** A document that cannot be finished: `error`, with its event. Returns the updated row. */
export async function markError(db: Kysely<Database>, row: DteRow, message: string): Promise<DteRow> {
  const [updated] = await writeTransaction(db, (trx) =>
    transition(trx, [row], ['draft', 'signed'], { status: 'error', errorMessage: message, extra: { lease_until: null, next_attempt_at: null } }),
  );
  return updated ?? row;
}
