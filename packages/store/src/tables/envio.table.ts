import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export const ENVIO_STATUSES = ['built', 'sent', 'final', 'error'] as const;
export type EnvioStatus = (typeof ENVIO_STATUSES)[number];

/** One EnvioDTE/EnvioBOLETA: the exact bytes every upload sends, and its delivery state. */
export interface EnvioTable {
  id: Generated<number>;
  rut_emisor: string;
  kind: 'EnvioDTE' | 'EnvioBOLETA';
  status: EnvioStatus;
  /** How many DTEs it holds. */
  documents: number;
  /** The envelope text (ISO-8859-1 when encoded): re-uploads send these same bytes. */
  xml: string;
  track_id: string | null;
  sii_status: string | null;
  /** Uploads started (counted BEFORE each upload): > 0 means the SII may already have it. */
  upload_attempts: Generated<number>;
  /** Failed attempts (drives the retry backoff). */
  attempts: Generated<number>;
  lease_until: string | null;
  /** Who holds the lease, when a queue job does: a retry of that job may take it back. */
  lease_owner: string | null;
  next_attempt_at: string | null;
  error_message: string | null;
  created_at: string;
  updated_at: string;
}

export type EnvioRow = Selectable<EnvioTable>;
export type NewEnvioRow = Insertable<EnvioTable>;
export type EnvioRowUpdate = Updateable<EnvioTable>;
