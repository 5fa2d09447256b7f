import type { Insertable, Selectable, Updateable } from 'kysely';

export interface BatchTable {
  /** UUID. */
  id: string;
  rut_emisor: string;
  total: number;
  callback_url: string | null;
  idempotency_key: string | null;
  status: 'open' | 'done';
  created_at: string;
  updated_at: string;
}

/** One document of a batch, in the order it was given. */
export interface BatchItemTable {
  batch_id: string;
  idx: number;
  tipo_dte: number;
  /** The validated request (api-contract shape). */
  request_json: string;
  /** The document once its folio is allocated. */
  dte_id: number | null;
  /** Refused before a folio was allocated (validation): no document. */
  error_code: string | null;
  error_message: string | null;
}

export type BatchRow = Selectable<BatchTable>;
export type NewBatchRow = Insertable<BatchTable>;
export type BatchRowUpdate = Updateable<BatchTable>;
export type BatchItemRow = Selectable<BatchItemTable>;
export type NewBatchItemRow = Insertable<BatchItemTable>;
