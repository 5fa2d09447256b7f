import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TOLERANCE_SEC,
  generateWebhookSecret,
  getHeader,
  parseSignatureHeader,
  signPayload,
  verifyWebhook,
  WebhookVerificationError,
  webhookHeaders,
  type WebhookVerificationErrorCode,
} from '../src/index.js';

// Vectors computed independently with OpenSSL:
//   printf '%s' '<timestamp>.<body>' | openssl dgst -sha256 -hmac '<secret>'
const VECTORS = [
  {
    secret: 'whsec_test_secret_0123456789abcdefghijkl',
    timestamp: 1764400000,
    body: '{"event":"dte.status_changed","folio":7}',
    hex: '4c4bbe8aa2078cb1c57dfa7e7bd137ddd5027da2b1de1cc13ab04cff990d58db',
  },
  {
    secret: 'another_secret_for_rotation_0123456789',
    timestamp: 1764400000,
    body: '{"event":"dte.status_changed","folio":7}',
    hex: 'f94ae73de9260f347ecc5c8d8ae6369cb23d964bcbe046d8cba3a8c54d0d514b',
  },
  // Non-ASCII secret and body: both are hashed as UTF-8 bytes.
  { secret: 'clave-secreta-ñ-0123456789-0123456789', timestamp: 1764400000, body: '{"razón":"ñandú"}', hex: '6bf9e8110d4b1cfa5a047df8675b0ec50b84d862e2ff2623c85530aa1605fb4a' },
];

const SECRET = VECTORS[0]!.secret;
const T0 = 1764400000;
const at = (sec: number) => new Date(sec * 1000);

function expectCode(fn: () => unknown, code: WebhookVerificationErrorCode): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(WebhookVerificationError);
  expect((err as WebhookVerificationError).code).toBe(code);
}

describe('signPayload', () => {
  it('matches the OpenSSL vectors (timestamp as number or string, body as string or bytes)', () => {
    for (const v of VECTORS) {
      expect(signPayload({ secret: v.secret, timestamp: v.timestamp, body: v.body })).toBe(`v1=${v.hex}`);
      expect(signPayload({ secret: v.secret, timestamp: String(v.timestamp), body: Buffer.from(v.body, 'utf8') })).toBe(`v1=${v.hex}`);
      expect(signPayload({ secret: Buffer.from(v.secret, 'utf8'), timestamp: v.timestamp, body: new Uint8Array(Buffer.from(v.body)) })).toBe(`v1=${v.hex}`);
    }
  });

  it('is HMAC-SHA256 over "<timestamp>.<body>"', () => {
    const body = JSON.stringify({ event: 'caf.low', folios_left: 3 });
    const expected = createHmac('sha256', SECRET).update(`${T0}.${body}`).digest('hex');
    expect(signPayload({ secret: SECRET, timestamp: T0, body })).toBe(`v1=${expected}`);
  });

  it('refuses an empty secret or a timestamp that is not whole seconds', () => {
    expect(() => signPayload({ secret: '', timestamp: T0, body: '{}' })).toThrow(TypeError);
    expect(() => signPayload({ secret: SECRET, timestamp: 1.5, body: '{}' })).toThrow(TypeError);
    expect(() => signPayload({ secret: SECRET, timestamp: '12a', body: '{}' })).toThrow(TypeError);
  });
});

describe('webhookHeaders', () => {
  it('gives the four X-Timbre headers and the JSON content type', () => {
    const body = VECTORS[0]!.body;
    const h = webhookHeaders({ event: 'dte.status_changed', deliveryId: 'whd_42', secret: SECRET, body, now: at(T0) });
    expect(h).toEqual({
      'Content-Type': 'application/json',
      'X-Timbre-Event': 'dte.status_changed',
      'X-Timbre-Delivery': 'whd_42',
      'X-Timbre-Timestamp': String(T0),
      'X-Timbre-Signature': `v1=${VECTORS[0]!.hex}`,
    });
    // now as epoch milliseconds, rounded down to the second
    expect(webhookHeaders({ event: 'e', deliveryId: 'd', secret: SECRET, body, now: T0 * 1000 + 999 })['X-Timbre-Timestamp']).toBe(String(T0));
  });

  it('signs with every secret given (rotation on the sending side)', () => {
    const body = VECTORS[0]!.body;
    const h = webhookHeaders({ event: 'e', deliveryId: 'd', secret: [VECTORS[0]!.secret, VECTORS[1]!.secret], body, now: at(T0) });
    expect(h['X-Timbre-Signature']).toBe(`v1=${VECTORS[0]!.hex},v1=${VECTORS[1]!.hex}`);
  });
});

describe('verifyWebhook (the reference verifier)', () => {
  const body = JSON.stringify({ event: 'dte.status_changed', dte_type: '33', folio: 7, new_status: 'accepted', timestamp: '2025-11-29T04:26:40.000Z' });
  const headers = webhookHeaders({ event: 'dte.status_changed', deliveryId: 'whd_1', secret: SECRET, body, now: at(T0) });

  it('accepts an authentic request and returns the parsed event', () => {
    const v = verifyWebhook({ secret: SECRET, headers, rawBody: body, now: at(T0 + 10) });
    expect(v.event).toBe('dte.status_changed');
    expect(v.deliveryId).toBe('whd_1');
    expect(v.timestamp).toBe(T0);
    expect(v.payload).toEqual(JSON.parse(body));
    expect(verifyWebhook({ secret: SECRET, headers, rawBody: Buffer.from(body), now: (T0 - 10) * 1000 }).payload.folio).toBe(7);
  });

  it('refuses a tampered body, a tampered timestamp and another secret', () => {
    expectCode(() => verifyWebhook({ secret: SECRET, headers, rawBody: body.replace('accepted', 'rejected'), now: at(T0) }), 'ERR_WEBHOOK_SIGNATURE_INVALID');
    expectCode(() => verifyWebhook({ secret: SECRET, headers, rawBody: `${body} `, now: at(T0) }), 'ERR_WEBHOOK_SIGNATURE_INVALID');
    expectCode(() => verifyWebhook({ secret: SECRET, headers: { ...headers, 'X-Timbre-Timestamp': String(T0 + 1) }, rawBody: body, now: at(T0) }), 'ERR_WEBHOOK_SIGNATURE_INVALID');
    expectCode(() => verifyWebhook({ secret: 'not-the-secret-0123456789-0123456789', headers, rawBody: body, now: at(T0) }), 'ERR_WEBHOOK_SIGNATURE_INVALID');
    // malformed values never match (and never throw anything else)
    for (const sig of ['v1=zz', 'v1=', `v1=${VECTORS[0]!.hex.slice(2)}`, `v1=${VECTORS[0]!.hex}00`]) {
      expectCode(() => verifyWebhook({ secret: SECRET, headers: { ...headers, 'X-Timbre-Signature': sig }, rawBody: body, now: at(T0) }), 'ERR_WEBHOOK_SIGNATURE_INVALID');
    }
  });

  it('refuses timestamps more than 300 s away, either way, and accepts exactly 300 s', () => {
    expect(DEFAULT_TOLERANCE_SEC).toBe(300);
    expect(verifyWebhook({ secret: SECRET, headers, rawBody: body, now: at(T0 + 300) }).timestamp).toBe(T0);
    expect(verifyWebhook({ secret: SECRET, headers, rawBody: body, now: at(T0 - 300) }).timestamp).toBe(T0);
    expectCode(() => verifyWebhook({ secret: SECRET, headers, rawBody: body, now: at(T0 + 301) }), 'ERR_WEBHOOK_TIMESTAMP_SKEW');
    expectCode(() => verifyWebhook({ secret: SECRET, headers, rawBody: body, now: at(T0 - 301) }), 'ERR_WEBHOOK_TIMESTAMP_SKEW');
    expectCode(() => verifyWebhook({ secret: SECRET, headers, rawBody: body, now: at(T0 + 31), toleranceSec: 30 }), 'ERR_WEBHOOK_TIMESTAMP_SKEW');
  });

  it('reports a missing signature and a missing or malformed timestamp', () => {
    const { 'X-Timbre-Signature': _s, ...unsigned } = headers;
    expectCode(() => verifyWebhook({ secret: SECRET, headers: unsigned, rawBody: body, now: at(T0) }), 'ERR_WEBHOOK_SIGNATURE_MISSING');
    expectCode(() => verifyWebhook({ secret: SECRET, headers: { ...headers, 'X-Timbre-Signature': 'v0=abc' }, rawBody: body, now: at(T0) }), 'ERR_WEBHOOK_SIGNATURE_MISSING');
    const { 'X-Timbre-Timestamp': _t, ...untimed } = headers;
    expectCode(() => verifyWebhook({ secret: SECRET, headers: untimed, rawBody: body, now: at(T0) }), 'ERR_WEBHOOK_TIMESTAMP_INVALID');
    for (const ts of ['', 'abc', '-5', '1.5', '1e9', String(T0) + ',1']) {
      expectCode(() => verifyWebhook({ secret: SECRET, headers: { ...headers, 'X-Timbre-Timestamp': ts }, rawBody: body, now: at(T0) }), 'ERR_WEBHOOK_TIMESTAMP_INVALID');
    }
  });

  it('accepts several v1= values and several secrets (rotation)', () => {
    const oldSecret = VECTORS[1]!.secret;
    const both = webhookHeaders({ event: 'e', deliveryId: 'd', secret: [SECRET, oldSecret], body, now: at(T0) });
    // a receiver that still has only the old secret, or already only the new one
    expect(verifyWebhook({ secret: oldSecret, headers: both, rawBody: body, now: at(T0) }).event).toBe('dte.status_changed');
    expect(verifyWebhook({ secret: SECRET, headers: both, rawBody: body, now: at(T0) }).event).toBe('dte.status_changed');
    // a receiver that accepts both while the sender moves
    const oldOnly = webhookHeaders({ event: 'e', deliveryId: 'd', secret: oldSecret, body, now: at(T0) });
    expect(verifyWebhook({ secret: [SECRET, oldSecret], headers: oldOnly, rawBody: body, now: at(T0) }).timestamp).toBe(T0);
    // unknown schemes and junk next to a good value are ignored; whitespace is tolerated
    const good = headers['X-Timbre-Signature']!;
    const mixed = `v0=deadbeef, v1=${'0'.repeat(64)} ,  ${good}`;
    expect(parseSignatureHeader(mixed)).toEqual(['0'.repeat(64), good.slice(3)]);
    expect(verifyWebhook({ secret: SECRET, headers: { ...headers, 'X-Timbre-Signature': mixed }, rawBody: body, now: at(T0) }).deliveryId).toBe('whd_1');
  });

  it('reads header names case-insensitively, from plain objects, Node arrays and fetch Headers', () => {
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    for (const h of [lower, upper, new Headers(headers)]) {
      expect(verifyWebhook({ secret: SECRET, headers: h, rawBody: body, now: at(T0) }).deliveryId).toBe('whd_1');
    }
    // a repeated signature header (Node gives arrays for some duplicates): values are joined
    const repeated = { ...lower, 'x-timbre-signature': ['v1=' + '1'.repeat(64), headers['X-Timbre-Signature']!] };
    expect(verifyWebhook({ secret: SECRET, headers: repeated, rawBody: body, now: at(T0) }).timestamp).toBe(T0);
    expect(getHeader({ 'X-A': 'x', 'x-a': 'y' }, 'X-a')).toBe('x,y');
    expect(getHeader({}, 'x-a')).toBeUndefined();
  });

  it('refuses an authentic body that is not a JSON object', () => {
    for (const raw of ['not json', '[1,2]', 'null']) {
      const h = webhookHeaders({ event: 'e', deliveryId: 'd', secret: SECRET, body: raw, now: at(T0) });
      expectCode(() => verifyWebhook({ secret: SECRET, headers: h, rawBody: raw, now: at(T0) }), 'ERR_WEBHOOK_PAYLOAD_INVALID');
    }
  });
});

describe('generateWebhookSecret', () => {
  it('gives distinct secrets of at least 32 characters', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
  });
});
