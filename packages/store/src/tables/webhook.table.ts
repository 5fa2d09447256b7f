import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** An event, written in the same transaction as the state change it reports. */
export interface OutboxEventTable {
  id: Generated<number>;
  rut_company: string;
  event_type: string;
  /** What it is about (`dte:<id>`): deliveries keep order per key. */
  aggregate_key: string;
  payload_json: string;
  created_at: string;
  /** Set once deliveries exist for every matching subscription. */
  dispatched_at: string | null;
}

export interface WebhookSubscriptionTable {
  id: Generated<number>;
  rut_company: string;
  url: string;
  /** JSON array of event types; `["*"]` for all. */
  events_json: string;
  /** HMAC secret, sealed with the SecretBox. */
  secret_encrypted: string;
  active: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface WebhookDeliveryTable {
  id: Generated<number>;
  subscription_id: number;
  event_id: number;
  aggregate_key: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: Generated<number>;
  next_attempt_at: string;
  lease_until: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
  updated_at: string;
}

export type OutboxEventRow = Selectable<OutboxEventTable>;
export type NewOutboxEventRow = Insertable<OutboxEventTable>;
export type WebhookSubscriptionRow = Selectable<WebhookSubscriptionTable>;
export type NewWebhookSubscriptionRow = Insertable<WebhookSubscriptionTable>;
export type WebhookSubscriptionUpdate = Updateable<WebhookSubscriptionTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;
export type NewWebhookDeliveryRow = Insertable<WebhookDeliveryTable>;
export type WebhookDeliveryUpdate = Updateable<WebhookDeliveryTable>;
