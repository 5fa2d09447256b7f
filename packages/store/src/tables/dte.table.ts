import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export const DTE_STATUSES = ['draft', 'signed', 'sent', 'accepted', 'accepted_with_reparos', 'rejected', 'error'] as const;
export type DteStatus = (typeof DTE_STATUSES)[number];

export interface DteTable {
  id: Generated<number>;
  rut_emisor: string;
  tipo_dte: number;
  folio: number;
  status: DteStatus;
  /** The SII's own estado (e.g. `EPR`, `RCT`, `DOK`). */
  sii_status: string | null;
  sii_track_id: string | null;
  xml_signed: string | null;
  error_message: string | null;
  idempotency_key: string | null;
  /** Issue date, `YYYY-MM-DD` (a `draft` is stamped with it). */
  fecha_emision: string | null;
  /** The validated request (api-contract shape), so that a `draft` can be finished by any process. */
  request_json: string | null;
  /** The CAF the folio came from. */
  caf_id: number | null;
  /** The TED as written in the signed XML. */
  ted: string | null;
  /** The envelope (envio) that carries it to the SII, once built. */
  envio_id: number | null;
  /** The batch it came in, if any. */
  batch_id: string | null;
  /** Status queries made while `sent` (drives the polling backoff). */
  poll_attempts: Generated<number>;
  /** Who holds the lease, when a queue job does (its id): a retry of that job may take it back. */
  lease_owner: string | null;
  /** ISO-8601 UTC: when the poller may ask the SII about it again. */
  next_poll_at: string | null;
  /** Failed attempts to move the document forward (drives the retry backoff). */
  attempts: Generated<number>;
  /** ISO-8601 UTC: a worker owns the document until then. */
  lease_until: string | null;
  /** ISO-8601 UTC: when the recovery sweep may try again. */
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
}

export type DteRow = Selectable<DteTable>;
export type NewDteRow = Insertable<DteTable>;
export type DteRowUpdate = Updateable<DteTable>;
