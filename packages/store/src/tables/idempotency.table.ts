import type { Insertable, Selectable } from 'kysely';

export interface IdempotencyTable {
  key: string;
  rut_company: string;
  /** Hash of the request body, to refuse a key reused with another request. */
  request_hash: string;
  response_json: string;
  status_code: number;
  created_at: string;
}

export type IdempotencyRow = Selectable<IdempotencyTable>;
export type NewIdempotencyRow = Insertable<IdempotencyTable>;
