import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

/** Media types a company logo may have (checked by magic bytes before it is stored). */
export type LogoMediaType = 'image/png' | 'image/jpeg';

export interface CompanyTable {
  /** Canonical RUT (`76086428-5`). */
  rut: string;
  razon_social: string;
  /** Resolution number authorising the issuer (0 in certification). */
  resolution_nro: number;
  /** Resolution date, `YYYY-MM-DD`. */
  resolution_fecha: string;
  /** The issuer's logo for the PDF (PNG or JPEG bytes), or null. Read with `findCompanyLogo` only. */
  logo: ColumnType<Buffer | null, Buffer | null | undefined, Buffer | null>;
  /** Media type of `logo`, null when there is none. */
  logo_type: LogoMediaType | null;
  /** ISO-8601 UTC timestamp, set by the repository. */
  created_at: string;
}

/** A company as the repositories return it: every column but the logo bytes (`logo_type` says whether there is one). */
export type Company = Omit<Selectable<CompanyTable>, 'logo'>;
export type NewCompany = Insertable<CompanyTable>;
export type CompanyUpdate = Updateable<CompanyTable>;
