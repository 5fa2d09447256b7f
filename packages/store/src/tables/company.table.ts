import type { Insertable, Selectable, Updateable } from 'kysely';

export interface CompanyTable {
  /** Canonical RUT (`76086428-5`). */
  rut: string;
  razon_social: string;
  /** Resolution number authorising the issuer (0 in certification). */
  resolution_nro: number;
  /** Resolution date, `YYYY-MM-DD`. */
  resolution_fecha: string;
  /** ISO-8601 UTC timestamp, set by the repository. */
  created_at: string;
}

export type Company = Selectable<CompanyTable>;
export type NewCompany = Insertable<CompanyTable>;
export type CompanyUpdate = Updateable<CompanyTable>;
