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
  created_at: string;
  updated_at: string;
}

export type DteRow = Selectable<DteTable>;
export type NewDteRow = Insertable<DteTable>;
export type DteRowUpdate = Updateable<DteTable>;
