/**
 * Timbre webhooks on the wire: signing (the DTE service) and the reference verifier (receivers).
 *
 *   X-Timbre-Timestamp: <Unix seconds>
 *   X-Timbre-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body bytes>")>[,v1=<hex>…]
 *
 * The secret is used as its UTF-8 bytes (the whole string, `whsec_` prefix included). Receivers
 * refuse a missing or wrong signature and a timestamp more than 300 s away from their clock.
 * No dependencies beyond node:crypto.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Header names as sent (HTTP header names are case-insensitive; the verifier treats them so). */
export const WEBHOOK_HEADERS = {
  event: 'X-Timbre-Event',
  delivery: 'X-Timbre-Delivery',
  timestamp: 'X-Timbre-Timestamp',
  signature: 'X-Timbre-Signature',
} as const;

/** The only signature scheme so far. */
export const SIGNATURE_SCHEME = 'v1';

/** Receivers refuse timestamps further than this from their clock, either way (seconds). */
export const DEFAULT_TOLERANCE_SEC = 300;

/** The events the DTE service emits. */
export const WEBHOOK_EVENT_TYPES = ['dte.status_changed', 'dte.received', 'dte.response_sent', 'dte.response_due', 'dte.error', 'caf.low', 'caf.expiring', 'certificate.expiring'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A secret as text (its UTF-8 bytes are the HMAC key) or as raw bytes. */
export type WebhookSecret = string | Uint8Array;

export type WebhookVerificationErrorCode =
  /** No `X-Timbre-Signature` header, or no `v1=` value in it. */
  | 'ERR_WEBHOOK_SIGNATURE_MISSING'
  /** No `v1=` value matches the body under any of the secrets (tampered body, wrong secret, …). */
  | 'ERR_WEBHOOK_SIGNATURE_INVALID'
  /** `X-Timbre-Timestamp` is missing or is not a whole number of seconds. */
  | 'ERR_WEBHOOK_TIMESTAMP_INVALID'
  /** The (authentic) timestamp is more than `toleranceSec` away from now: a replay, or a bad clock. */
  | 'ERR_WEBHOOK_TIMESTAMP_SKEW'
  /** Authentic, but the body is not a JSON object. */
  | 'ERR_WEBHOOK_PAYLOAD_INVALID';

/** Why a webhook request was refused; `code` is stable, `message` is for logs. Answer 400 or 401. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly code: WebhookVerificationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

const toBytes = (v: string | Uint8Array): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

function checkSecret(secret: WebhookSecret): Buffer {
  const key = toBytes(secret);
  if (key.length === 0) throw new TypeError('the webhook secret is empty');
  return key;
}

function timestampText(timestamp: number | string): string {
  const t = typeof timestamp === 'number' ? String(timestamp) : timestamp;
  if (!/^[0-9]{1,15}$/.test(t) || (typeof timestamp === 'number' && !Number.isSafeInteger(timestamp))) {
    throw new TypeError(`the webhook timestamp must be whole Unix seconds, got ${String(timestamp)}`);
  }
  return t;
}

function digest(key: Buffer, timestamp: string, body: Buffer): Buffer {
  return createHmac('sha256', key).update(`${timestamp}.`, 'utf8').update(body).digest();
}

/**
 * `v1=<hex>`: HMAC-SHA256, keyed with the secret's UTF-8 bytes, over the ASCII timestamp, a dot and
 * the raw body bytes exactly as sent.
 */
export function signPayload(input: { secret: WebhookSecret; timestamp: number | string; body: string | Uint8Array }): string {
  return `${SIGNATURE_SCHEME}=${digest(checkSecret(input.secret), timestampText(input.timestamp), toBytes(input.body)).toString('hex')}`;
}

/** Unix seconds of a clock reading (`Date`, or milliseconds since the epoch like `Date.now()`). */
export const unixSeconds = (now: Date | number = Date.now()): number => Math.floor((typeof now === 'number' ? now : now.getTime()) / 1000);

/**
 * The headers of one delivery attempt. `secret` may be several secrets (one `v1=` value each,
 * comma-separated) while a receiver moves to a new one. `now` decides `X-Timbre-Timestamp`.
 */
export function webhookHeaders(input: {
  event: string;
  deliveryId: string;
  secret: WebhookSecret | readonly WebhookSecret[];
  body: string | Uint8Array;
  now?: Date | number;
}): Record<string, string> {
  const timestamp = String(unixSeconds(input.now));
  const secrets = Array.isArray(input.secret) ? (input.secret as readonly WebhookSecret[]) : [input.secret as WebhookSecret];
  if (secrets.length === 0) throw new TypeError('no webhook secret');
  return {
    'Content-Type': 'application/json',
    [WEBHOOK_HEADERS.event]: input.event,
    [WEBHOOK_HEADERS.delivery]: input.deliveryId,
    [WEBHOOK_HEADERS.timestamp]: timestamp,
    [WEBHOOK_HEADERS.signature]: secrets.map((secret) => signPayload({ secret, timestamp, body: input.body })).join(','),
  };
}

/** Request headers as Node (`IncomingHttpHeaders`), fetch (`Headers`) or any plain object give them. */
export type HeaderSource = { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | number | undefined>>;

/** One header, looked up case-insensitively; repeated values are joined with commas. */
export function getHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const v = (headers as { get(name: string): string | null }).get(name);
    return v === null ? undefined : v;
  }
  const want = name.toLowerCase();
  const found: string[] = [];
  for (const [k, v] of Object.entries(headers as Record<string, string | readonly string[] | number | undefined>)) {
    if (k.toLowerCase() !== want || v === undefined) continue;
    if (Array.isArray(v)) found.push(...(v as readonly string[]));
    else found.push(String(v));
  }
  return found.length === 0 ? undefined : found.join(',');
}

/** The `v1=` values of a signature header (other schemes are ignored). */
export function parseSignatureHeader(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${SIGNATURE_SCHEME}=`))
    .map((part) => part.slice(SIGNATURE_SCHEME.length + 1).trim());
}

/** The JSON body of a Timbre webhook: `event`, `timestamp` (ISO 8601) and the event's own fields. */
export interface WebhookPayload {
  event: string;
  timestamp: string;
  [field: string]: unknown;
}

export interface VerifiedWebhook<T = WebhookPayload> {
  /** `event` of the (signed) body; the `X-Timbre-Event` header when the body has none. */
  event: string;
  /** `X-Timbre-Delivery`: the same on every retry of a delivery, so use it to drop duplicates. Not covered by the signature. */
  deliveryId: string | undefined;
  /** `X-Timbre-Timestamp`, Unix seconds. */
  timestamp: number;
  /** The parsed body. */
  payload: T;
}

export interface VerifyWebhookInput {
  /** The subscription secret; several while rotating (any one may match). */
  secret: WebhookSecret | readonly WebhookSecret[];
  headers: HeaderSource;
  /** The body bytes exactly as received: verify BEFORE any JSON parsing or re-serialization. */
  rawBody: string | Uint8Array;
  /** Seconds the timestamp may be away from `now`, either way (default 300). */
  toleranceSec?: number;
  /** The receiver's clock (`Date` or epoch milliseconds); default the current time. */
  now?: Date | number;
}

/**
 * The reference verifier for receivers. Checks, in this order: a `v1=` signature is present, the
 * timestamp is whole seconds, one `v1=` value equals HMAC-SHA256(secret, "<timestamp>.<raw body>")
 * for one of the secrets (constant-time comparison of the 32-byte digests), the timestamp is
 * within `toleranceSec` of now, the body is a JSON object. Returns the parsed event or throws
 * WebhookVerificationError.
 */
export function verifyWebhook<T = WebhookPayload>(input: VerifyWebhookInput): VerifiedWebhook<T> {
  const secrets = (Array.isArray(input.secret) ? (input.secret as readonly WebhookSecret[]) : [input.secret as WebhookSecret]).map(checkSecret);
  if (secrets.length === 0) throw new TypeError('no webhook secret');
  const toleranceSec = input.toleranceSec ?? DEFAULT_TOLERANCE_SEC;

  const signatures = parseSignatureHeader(getHeader(input.headers, WEBHOOK_HEADERS.signature));
  if (signatures.length === 0) throw new WebhookVerificationError('ERR_WEBHOOK_SIGNATURE_MISSING', `no ${SIGNATURE_SCHEME}= signature in ${WEBHOOK_HEADERS.signature}`);

  const tsText = getHeader(input.headers, WEBHOOK_HEADERS.timestamp)?.trim();
  if (tsText === undefined || !/^[0-9]{1,15}$/.test(tsText)) {
    throw new WebhookVerificationError('ERR_WEBHOOK_TIMESTAMP_INVALID', `${WEBHOOK_HEADERS.timestamp} must be whole Unix seconds`);
  }

  const body = toBytes(input.rawBody);
  const candidates = signatures.filter((s) => /^[0-9a-fA-F]{64}$/.test(s)).map((s) => Buffer.from(s, 'hex'));
  let ok = false;
  for (const key of secrets) {
    const expected = digest(key, tsText, body);
    // Every candidate is compared (no early exit): the time taken does not say which one matched.
    for (const c of candidates) if (c.length === expected.length && timingSafeEqual(c, expected)) ok = true;
  }
  if (!ok) throw new WebhookVerificationError('ERR_WEBHOOK_SIGNATURE_INVALID', 'the signature does not match the body and timestamp');

  const timestamp = Number(tsText);
  const skew = Math.abs(unixSeconds(input.now) - timestamp);
  if (skew > toleranceSec) {
    throw new WebhookVerificationError('ERR_WEBHOOK_TIMESTAMP_SKEW', `the timestamp is ${skew} s away from now (tolerance ${toleranceSec} s)`);
  }

  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    throw new WebhookVerificationError('ERR_WEBHOOK_PAYLOAD_INVALID', 'the body is not JSON');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new WebhookVerificationError('ERR_WEBHOOK_PAYLOAD_INVALID', 'the body is not a JSON object');
  }
  const bodyEvent = (payload as { event?: unknown }).event;
  return {
    event: typeof bodyEvent === 'string' ? bodyEvent : (getHeader(input.headers, WEBHOOK_HEADERS.event) ?? ''),
    deliveryId: getHeader(input.headers, WEBHOOK_HEADERS.delivery),
    timestamp,
    payload: payload as T,
  };
}

/** A new subscription secret: `whsec_` + 32 random bytes in base64url (49 characters). */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}
