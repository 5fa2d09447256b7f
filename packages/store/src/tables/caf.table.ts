import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface CafTable {
  id: Generated<number>;
  rut_emisor: string;
  tipo_dte: number;
  /** First folio of the range (inclusive). */
  desde: number;
  /** Last folio of the range (inclusive). */
  hasta: number;
  /** FA, `YYYY-MM-DD`. */
  fecha_autorizacion: string;
  idk: number;
  /** The next folio to hand out; `hasta + 1` once exhausted. */
  next_folio: number;
  /** The whole CAF file (including RSASK, the private key), sealed with the SecretBox. */
  caf_xml_encrypted: string;
  created_at: string;
}

export type CafRow = Selectable<CafTable>;
export type NewCafRow = Insertable<CafTable>;
export type CafRowUpdate = Updateable<CafTable>;
