import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface CertificateTable {
  id: Generated<number>;
  rut_company: string;
  /** RUT of the natural person the certificate belongs to. */
  rut_signer: string;
  /** ISO-8601 UTC. */
  not_before: string;
  /** ISO-8601 UTC. */
  not_after: string;
  /** The PKCS#12 file, sealed. */
  p12_encrypted: string;
  /** Its password, sealed. */
  password_encrypted: string;
  created_at: string;
}

export type CertificateRow = Selectable<CertificateTable>;
export type NewCertificateRow = Insertable<CertificateTable>;
export type CertificateRowUpdate = Updateable<CertificateTable>;
