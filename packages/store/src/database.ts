import type { BatchItemTable, BatchTable } from './tables/batch.table.js';
import type { CafTable } from './tables/caf.table.js';
import type { CertificateTable } from './tables/certificate.table.js';
import type { CompanyTable } from './tables/company.table.js';
import type { DteTable } from './tables/dte.table.js';
import type { EnvioTable } from './tables/envio.table.js';
import type { IdempotencyTable } from './tables/idempotency.table.js';
import type { JobTable } from './tables/job.table.js';
import type { CompanyMailTable, DteResponseTable, InboxCursorTable, ReceivedDteTable, ReceivedEnvelopeTable } from './tables/received.table.js';
import type { OutboxEventTable, WebhookDeliveryTable, WebhookSubscriptionTable } from './tables/webhook.table.js';

export interface Database {
  company: CompanyTable;
  caf: CafTable;
  certificate: CertificateTable;
  dte: DteTable;
  idempotency: IdempotencyTable;
  envio: EnvioTable;
  batch: BatchTable;
  batch_item: BatchItemTable;
  job: JobTable;
  outbox_event: OutboxEventTable;
  webhook_subscription: WebhookSubscriptionTable;
  webhook_delivery: WebhookDeliveryTable;
  company_mail: CompanyMailTable;
  inbox_cursor: InboxCursorTable;
  received_envelope: ReceivedEnvelopeTable;
  received_dte: ReceivedDteTable;
  dte_response: DteResponseTable;
}
