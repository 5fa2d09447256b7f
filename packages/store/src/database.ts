import type { CafTable } from './tables/caf.table.js';
import type { CertificateTable } from './tables/certificate.table.js';
import type { CompanyTable } from './tables/company.table.js';
import type { DteTable } from './tables/dte.table.js';
import type { IdempotencyTable } from './tables/idempotency.table.js';

export interface Database {
  company: CompanyTable;
  caf: CafTable;
  certificate: CertificateTable;
  dte: DteTable;
  idempotency: IdempotencyTable;
}
