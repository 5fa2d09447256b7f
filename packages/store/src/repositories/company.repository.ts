import { Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { Company, LogoMediaType } from '../tables/company.table.js';

export interface CompanyInput {
  rut: string;
  razonSocial: string;
  resolutionNro: number;
  resolutionFecha: string;
}

/** Every column but `logo`: the image is read only when a PDF is rendered (`findCompanyLogo`). */
const COLUMNS = ['rut', 'razon_social', 'resolution_nro', 'resolution_fecha', 'logo_type', 'created_at'] as const;

export async function insertCompany(db: Kysely<Database>, input: CompanyInput): Promise<Company> {
  return db
    .insertInto('company')
    .values({
      rut: Rut.parse(input.rut, { field: 'rut' }).canonical,
      razon_social: input.razonSocial,
      resolution_nro: input.resolutionNro,
      resolution_fecha: input.resolutionFecha,
      created_at: new Date().toISOString(),
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function findCompany(db: Kysely<Database>, rut: string): Promise<Company | undefined> {
  return db.selectFrom('company').select(COLUMNS).where('rut', '=', Rut.parse(rut, { field: 'rut' }).canonical).executeTakeFirst();
}

export interface CompanyLogo {
  data: Buffer;
  type: LogoMediaType;
}

/** The company's logo, or undefined when it has none (or the company does not exist). */
export async function findCompanyLogo(db: Kysely<Database>, rut: string): Promise<CompanyLogo | undefined> {
  const row = await db.selectFrom('company').select(['logo', 'logo_type']).where('rut', '=', Rut.parse(rut, { field: 'rut' }).canonical).executeTakeFirst();
  if (row?.logo == null || row.logo_type == null) return undefined;
  return { data: Buffer.isBuffer(row.logo) ? row.logo : Buffer.from(row.logo as Uint8Array), type: row.logo_type };
}

/**
 * Store (or, with null, remove) the company's logo. The caller checks the bytes (PNG/JPEG magic).
 * Returns false when the company does not exist.
 */
export async function setCompanyLogo(db: Kysely<Database>, rut: string, logo: { data: Uint8Array; type: LogoMediaType } | null): Promise<boolean> {
  const data = logo === null ? null : Buffer.isBuffer(logo.data) ? logo.data : Buffer.from(logo.data.buffer, logo.data.byteOffset, logo.data.byteLength);
  const r = await db
    .updateTable('company')
    .set({ logo: data, logo_type: logo === null ? null : logo.type })
    .where('rut', '=', Rut.parse(rut, { field: 'rut' }).canonical)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
