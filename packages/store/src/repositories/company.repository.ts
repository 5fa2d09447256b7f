import { Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { Company } from '../tables/company.table.js';

export interface CompanyInput {
  rut: string;
  razonSocial: string;
  resolutionNro: number;
  resolutionFecha: string;
}

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
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findCompany(db: Kysely<Database>, rut: string): Promise<Company | undefined> {
  return db.selectFrom('company').selectAll().where('rut', '=', Rut.parse(rut, { field: 'rut' }).canonical).executeTakeFirst();
}
