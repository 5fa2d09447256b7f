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
  /** The EnvioDTE/EnvioBOLETA text that is (or was) uploaded: re-sends use these exact bytes. */
  xml_envelope: string | null;
  /** Uploads started (counted BEFORE each upload): > 0 means the SII may already have it. */
  upload_attempts: Generated<number>;
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
