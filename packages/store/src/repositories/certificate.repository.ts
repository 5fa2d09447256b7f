import { Rut } from '@timbre/dte';
import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { SecretBox } from '../secret-box.js';
import type { CertificateRow } from '../tables/certificate.table.js';

export interface CertificateInput {
  rutCompany: string;
  rutSigner: string;
  notBefore: Date | string;
  notAfter: Date | string;
  p12: Buffer;
  password: string;
}

export type CertificateSummary = Omit<CertificateRow, 'p12_encrypted' | 'password_encrypted'>;

const SUMMARY = ['id', 'rut_company', 'rut_signer', 'not_before', 'not_after', 'created_at'] as const;
const iso = (d: Date | string): string => (typeof d === 'string' ? new Date(d) : d).toISOString();

/** Store a signing certificate; the PKCS#12 bytes and the password are sealed. */
export async function insertCertificate(db: Kysely<Database>, box: SecretBox, input: CertificateInput): Promise<CertificateSummary> {
  return db
    .insertInto('certificate')
    .values({
      rut_company: Rut.parse(input.rutCompany, { field: 'rutCompany' }).canonical,
      rut_signer: Rut.parse(input.rutSigner, { field: 'rutSigner' }).canonical,
      not_before: iso(input.notBefore),
      not_after: iso(input.notAfter),
      p12_encrypted: box.seal(input.p12),
      password_encrypted: box.seal(input.password),
      created_at: new Date().toISOString(),
    })
    .returning(SUMMARY)
    .executeTakeFirstOrThrow();
}

/** The newest certificate of the company valid at `at`, decrypted. */
export async function loadActiveCertificate(
  db: Kysely<Database>,
  box: SecretBox,
  rutCompany: string,
  at: Date = new Date(),
): Promise<(CertificateSummary & { p12: Buffer; password: string }) | undefined> {
  const now = at.toISOString();
  const row = await db
    .selectFrom('certificate')
    .selectAll()
    .where('rut_company', '=', Rut.parse(rutCompany, { field: 'rutCompany' }).canonical)
    .where('not_before', '<=', now)
    .where('not_after', '>', now)
    .orderBy('not_after', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const { p12_encrypted, password_encrypted, ...summary } = row;
  return { ...summary, p12: box.open(p12_encrypted), password: box.open(password_encrypted).toString('utf8') };
}
