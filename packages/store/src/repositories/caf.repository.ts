import { parseCaf, Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { SecretBox } from '../secret-box.js';
import type { CafRow } from '../tables/caf.table.js';

/** A CAF row without its sealed XML. */
export type CafSummary = Omit<CafRow, 'caf_xml_encrypted'>;

const SUMMARY = ['id', 'rut_emisor', 'tipo_dte', 'desde', 'hasta', 'fecha_autorizacion', 'idk', 'next_folio', 'created_at'] as const;

/**
 * Store a CAF file. RE/TD/D/H/FA/IDK are read from the file itself (parseCaf); the whole file,
 * private key included, is stored sealed. Checking FRMA against the SII key is the caller's job
 * (verifyCaf). The issuer must exist in `company`; (rut, tipo, desde) is unique.
 */
export async function insertCaf(db: Kysely<Database>, box: SecretBox, input: { xml: Buffer | string }): Promise<CafSummary> {
  const raw = typeof input.xml === 'string' ? Buffer.from(input.xml, 'latin1') : input.xml;
  const caf = parseCaf(raw);
  return db
    .insertInto('caf')
    .values({
      rut_emisor: caf.rutEmisor,
      tipo_dte: caf.tipoDte,
      desde: caf.desde,
      hasta: caf.hasta,
      fecha_autorizacion: caf.fechaAutorizacion,
      idk: caf.idk,
      next_folio: caf.desde,
      caf_xml_encrypted: box.seal(raw),
      created_at: new Date().toISOString(),
    })
    .returning(SUMMARY)
    .executeTakeFirstOrThrow();
}

/** The original CAF file bytes (ISO-8859-1, as loaded), decrypted; undefined if there is no such CAF. */
export async function loadCafXml(db: Kysely<Database>, box: SecretBox, cafId: number): Promise<Buffer | undefined> {
  const row = await db.selectFrom('caf').select('caf_xml_encrypted').where('id', '=', cafId).executeTakeFirst();
  return row === undefined ? undefined : box.open(row.caf_xml_encrypted);
}

export async function listCafs(db: Kysely<Database>, rutEmisor: string, tipoDte?: number): Promise<CafSummary[]> {
  let q = db.selectFrom('caf').select(SUMMARY).where('rut_emisor', '=', Rut.parse(rutEmisor, { field: 'rutEmisor' }).canonical);
  if (tipoDte !== undefined) q = q.where('tipo_dte', '=', tipoDte);
  return q.orderBy('tipo_dte').orderBy('desde').execute();
}
