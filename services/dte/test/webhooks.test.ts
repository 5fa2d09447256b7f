import { insertCompany, listEvents, recordEvent, writeTransaction } from '@timbre/store';
import { signPayload, verifyWebhook, WebhookVerificationError } from '@timbre/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryDelayMs } from '../src/services/webhooks.js';
import { OTHER_RUT, RUT, call, doc33, provision, setup, token, uploadCaf, type Ctx } from './helper.js';
import { Receiver, sleep, waitFor } from './webhooks-receiver.js';

const FAST = { intervalMs: 40, retryBaseMs: 20, retryMaxMs: 80, timeoutMs: 3_000, alertsIntervalMs: false as const };

async function subscribe(ctx: Ctx, receiver: Receiver, path: string, events: string[], extra: Record<string, unknown> = {}) {
  const r = await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { body: { rut_company: RUT, url: `${receiver.url}${path}`, events, ...extra } });
  expect(r.status, r.text).toBe(201);
  receiver.secrets.set(path, r.json.secret as string);
  return r.json as { id: number; secret: string; url: string; events: string[]; active: boolean };
}

const statusChanged = (folio: number, extra: Record<string, unknown> = {}) => ({
  dte_type: '33',
  folio,
  track_id: '1234567',
  rut_emisor: RUT,
  old_status: 'sent',
  new_status: 'accepted',
  status_display: 'DTE Recibido',
  ...extra,
});

function expectVerifyError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WebhookVerificationError);
    expect((e as WebhookVerificationError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('webhooks: subscriptions API, signatures, filtering', () => {
  let ctx: Ctx;
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    ctx = await setup({ config: { webhooks: { ...FAST, maxAttempts: 50 } } });
    await provision(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.stop();
  });

  it('creates subscriptions (secret shown once), lists them without secrets, deletes them; 404 for other companies', async () => {
    const generated = await subscribe(ctx, receiver, '/api/generated', ['dte.status_changed']);
    expect(generated.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(generated).toMatchObject({ url: `${receiver.url}/api/generated`, events: ['dte.status_changed'], active: true });
    const chosen = 'x'.repeat(16) + 'my-own-secret-of-32-characters!!';
    const own = await subscribe(ctx, receiver, '/api/own', ['*'], { secret: chosen });
    expect(own.secret).toBe(chosen);

    const list = await call(ctx, 'GET', `/api/v1/webhooks/subscriptions?rut_company=${RUT}`);
    expect(list.status).toBe(200);
    const mine = (list.json.items as Array<Record<string, unknown>>).filter((s) => s.id === generated.id || s.id === own.id);
    expect(mine).toHaveLength(2);
    for (const s of mine) {
      expect(Object.keys(s).sort()).toEqual(['active', 'created_at', 'events', 'id', 'rut_company', 'updated_at', 'url']);
    }
    expect(list.text).not.toContain(generated.secret);
    expect(list.text).not.toContain(chosen);
    expect(list.text).not.toContain('tbx1.'); // nor the sealed form

    // validation: problem+json
    const ftp = await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { body: { rut_company: RUT, url: 'ftp://example.cl/hook', events: ['*'] } });
    expect(ftp.status).toBe(422);
    expect(ftp.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(ftp.json.errors[0].field).toBe('url');
    const creds = await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { body: { rut_company: RUT, url: 'https://u:p@example.cl/hook', events: ['*'] } });
    expect(creds.status).toBe(422);
    const short = await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { body: { rut_company: RUT, url: 'https://example.cl/hook', events: ['*'], secret: 'short' } });
    expect(short.status).toBe(400);
    expect(short.json.errors[0].field).toBe('secret');
    const badEvent = await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { body: { rut_company: RUT, url: 'https://example.cl/hook', events: ['dte.nope'] } });
    expect(badEvent.status).toBe(400);
    const noEvents = await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { body: { rut_company: RUT, url: 'https://example.cl/hook', events: [] } });
    expect(noEvents.status).toBe(400);

    // permissions: admin of the company; other companies' objects do not exist
    const other = await token(ctx.jwtKey, [OTHER_RUT], ['admin']);
    const reader = await token(ctx.jwtKey, [RUT], ['dte:read', 'dte:generate', 'caf:manage', 'cert:manage']);
    expect((await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { token: other, body: { rut_company: RUT, url: 'https://example.cl/h', events: ['*'] } })).status).toBe(403);
    expect((await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { token: reader, body: { rut_company: RUT, url: 'https://example.cl/h', events: ['*'] } })).status).toBe(403);
    expect((await call(ctx, 'GET', `/api/v1/webhooks/subscriptions?rut_company=${RUT}`, { token: other })).status).toBe(403);
    expect((await call(ctx, 'GET', `/api/v1/webhooks/subscriptions?rut_company=${RUT}`, { token: null })).status).toBe(401);
    const notRegistered = await call(ctx, 'POST', '/api/v1/webhooks/subscriptions', { token: other, body: { rut_company: OTHER_RUT, url: 'https://example.cl/h', events: ['*'] } });
    expect(notRegistered.status).toBe(409);
    expect(notRegistered.json.code).toBe('ERR_COMPANY_NOT_REGISTERED');
    const foreignDelete = await call(ctx, 'DELETE', `/api/v1/webhooks/subscriptions/${generated.id}`, { token: other });
    expect(foreignDelete.status).toBe(404);
    expect(foreignDelete.json.code).toBe('ERR_NOT_FOUND');
    expect((await call(ctx, 'DELETE', `/api/v1/webhooks/subscriptions/${generated.id}`, { token: reader })).status).toBe(403);

    expect((await call(ctx, 'DELETE', `/api/v1/webhooks/subscriptions/${generated.id}`)).status).toBe(204);
    expect((await call(ctx, 'DELETE', `/api/v1/webhooks/subscriptions/${generated.id}`)).status).toBe(404);
    expect((await call(ctx, 'DELETE', `/api/v1/webhooks/subscriptions/${own.id}`)).status).toBe(204);
    expect((await call(ctx, 'DELETE', '/api/v1/webhooks/subscriptions/999999')).status).toBe(404);
  });

  it('delivers signed requests the reference verifier accepts; a tampered body or a 301 s old timestamp is refused', async () => {
    const sub = await subscribe(ctx, receiver, '/odoo/dte/webhook/status_update', ['dte.status_changed']);
    const before = Date.now();
    const ev = await recordEvent(ctx.app.db, { rutCompany: RUT, eventType: 'dte.status_changed', aggregateKey: 'dte:sig-1', payload: statusChanged(7) });
    await waitFor(() => receiver.accepted('/odoo/dte/webhook/status_update').length === 1, 'the signed delivery');
    const got = receiver.accepted('/odoo/dte/webhook/status_update')[0]!;

    // the wire format
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-timbre-event']).toBe('dte.status_changed');
    expect(got.headers['x-timbre-delivery']).toMatch(/^whd_[0-9]+$/);
    expect(got.headers['x-timbre-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    const ts = Number(got.headers['x-timbre-timestamp']);
    expect(ts).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 1);
    expect(ts).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(got.rawBody.toString('utf8')).toBe(ev.payload_json); // the stored body, byte for byte
    const body = JSON.parse(got.rawBody.toString('utf8')) as Record<string, unknown>;
    expect(body).toEqual({ event: 'dte.status_changed', ...statusChanged(7), timestamp: ev.created_at });
    expect(Object.keys(body)).toEqual(['event', 'dte_type', 'folio', 'track_id', 'rut_emisor', 'old_status', 'new_status', 'status_display', 'timestamp']);
    expect(got.verified).toMatchObject({ event: 'dte.status_changed', deliveryId: got.headers['x-timbre-delivery'], timestamp: ts });

    // signature = HMAC-SHA256(secret, "<timestamp>.<raw body>")
    expect(got.headers['x-timbre-signature']).toBe(signPayload({ secret: sub.secret, timestamp: ts, body: got.rawBody }));
    const at = (sec: number) => new Date(sec * 1000);
    expect(verifyWebhook({ secret: sub.secret, headers: got.headers, rawBody: got.rawBody, now: at(ts) }).payload).toEqual(body);

    // tampered body
    const tampered = Buffer.from(got.rawBody.toString('utf8').replace('"accepted"', '"rejected"'));
    expectVerifyError(() => verifyWebhook({ secret: sub.secret, headers: got.headers, rawBody: tampered, now: at(ts) }), 'ERR_WEBHOOK_SIGNATURE_INVALID');
    // the same request replayed 301 s later
    expectVerifyError(() => verifyWebhook({ secret: sub.secret, headers: got.headers, rawBody: got.rawBody, now: at(ts + 301) }), 'ERR_WEBHOOK_TIMESTAMP_SKEW');
    // a timestamp 301 s old, correctly signed (the attacker cannot move the timestamp without the secret)
    const old = ts - 301;
    const oldHeaders = { ...got.headers, 'x-timbre-timestamp': String(old), 'x-timbre-signature': signPayload({ secret: sub.secret, timestamp: old, body: got.rawBody }) };
    expectVerifyError(() => verifyWebhook({ secret: sub.secret, headers: oldHeaders, rawBody: got.rawBody, now: at(ts) }), 'ERR_WEBHOOK_TIMESTAMP_SKEW');
    expectVerifyError(() => verifyWebhook({ secret: sub.secret, headers: { ...got.headers, 'x-timbre-timestamp': String(old) }, rawBody: got.rawBody, now: at(ts) }), 'ERR_WEBHOOK_SIGNATURE_INVALID');
    // another subscription's secret
    expectVerifyError(() => verifyWebhook({ secret: 'whsec_someone_else_0123456789_0123456789', headers: got.headers, rawBody: got.rawBody, now: at(ts) }), 'ERR_WEBHOOK_SIGNATURE_INVALID');

    // the delivery list shows it delivered, with the header id
    const list = await call(ctx, 'GET', `/api/v1/webhooks/deliveries?rut_company=${RUT}&status=delivered&subscription_id=${sub.id}`);
    expect(list.status).toBe(200);
    expect(list.json.items).toHaveLength(1);
    expect(list.json.items[0]).toMatchObject({ delivery_id: got.headers['x-timbre-delivery'], event: 'dte.status_changed', status: 'delivered', attempts: 1, last_status_code: 200, aggregate_key: 'dte:sig-1' });
    expect(receiver.refused()).toEqual([]);
  });

  it('sends each subscription only the event types it asked for, and only its company’s events', async () => {
    const a = '/filter/status';
    const b = '/filter/alerts';
    const c = '/filter/all';
    await subscribe(ctx, receiver, a, ['dte.status_changed']);
    await subscribe(ctx, receiver, b, ['caf.low', 'dte.error']);
    await subscribe(ctx, receiver, c, ['*']);
    const events: Array<[string, Record<string, unknown>]> = [
      ['dte.status_changed', statusChanged(11)],
      ['dte.error', { dte_type: '33', folio: 11, rut_emisor: RUT, error_code: 'DTE-3-101', error_message: 'folio repetido' }],
      ['caf.low', { rut_emisor: RUT, dte_type: '33', folios_left: 3 }],
      ['certificate.expiring', { rut_emisor: RUT, not_after: '2026-12-01T00:00:00.000Z' }],
      ['dte.received', { dte_type: '33', folio: 99, rut_emisor: OTHER_RUT, rut_receptor: RUT }],
    ];
    for (const [eventType, payload] of events) await recordEvent(ctx.app.db, { rutCompany: RUT, eventType, aggregateKey: 'dte:filter', payload });
    // another company's event: no subscription of this company may see it
    await recordEvent(ctx.app.db, { rutCompany: OTHER_RUT, eventType: 'dte.status_changed', aggregateKey: 'dte:other', payload: statusChanged(424242, { rut_emisor: OTHER_RUT }) });

    await waitFor(() => receiver.accepted(c).length === 5 && receiver.accepted(b).length === 2 && receiver.accepted(a).length === 1, 'filtered deliveries');
    await sleep(300);
    expect(receiver.accepted(a).map((r) => r.verified!.event)).toEqual(['dte.status_changed']);
    expect(receiver.accepted(b).map((r) => r.verified!.event)).toEqual(['dte.error', 'caf.low']);
    expect(receiver.accepted(c).map((r) => r.verified!.event)).toEqual(events.map(([t]) => t)); // one aggregate: in order
    expect(receiver.requests.filter((r) => r.rawBody.toString().includes('424242'))).toEqual([]);
    expect(receiver.refused()).toEqual([]);
  });

  it('writes events in the caller’s transaction: a rolled-back change sends nothing, a committed one is delivered', async () => {
    const path = '/tx';
    await subscribe(ctx, receiver, path, ['dte.error']);
    const failing = writeTransaction(ctx.app.db, async (trx) => {
      await insertCompany(trx, { rut: '11111111-1', razonSocial: 'ROLLED BACK', resolutionNro: 0, resolutionFecha: '2026-01-01' });
      await recordEvent(trx, { rutCompany: RUT, eventType: 'dte.error', aggregateKey: 'dte:tx', payload: { dte_type: '33', folio: 1, rut_emisor: RUT, error_code: 'X', error_message: 'rolled back' } });
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    await writeTransaction(ctx.app.db, async (trx) => {
      await insertCompany(trx, { rut: '22222222-2', razonSocial: 'COMMITTED', resolutionNro: 0, resolutionFecha: '2026-01-01' });
      await recordEvent(trx, { rutCompany: RUT, eventType: 'dte.error', aggregateKey: 'dte:tx', payload: { dte_type: '33', folio: 2, rut_emisor: RUT, error_code: 'X', error_message: 'committed' } });
    });
    await waitFor(() => receiver.accepted(path).length === 1, 'the committed event');
    await sleep(200);
    expect(receiver.to(path).map((r) => r.verified!.payload.error_message)).toEqual(['committed']);
    expect((await listEvents(ctx.app.db, { rutCompany: RUT, aggregateKey: 'dte:tx' })).length).toBe(1);
  });

  it('real flow: the document pipeline’s own events reach the subscriber in order (once the pipeline records them)', async (t) => {
    const path = '/real';
    await subscribe(ctx, receiver, path, ['dte.status_changed', 'dte.error']);
    const g = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33() });
    expect([200, 201, 202]).toContain(g.status);
    const id = g.json.id as number;
    const aggregateKey = `dte:${id}`;
    const FINAL = ['accepted', 'accepted_with_reparos', 'rejected', 'error'];
    const dteEvents = async () => (await listEvents(ctx.app.db, { rutCompany: RUT, aggregateKey })).filter((e) => e.event_type.startsWith('dte.'));
    await sleep(2000);
    if ((await dteEvents()).length === 0) {
      t.skip('the pipeline does not record dte.* events yet (recordEvent belongs in services/status.ts transition)');
      return;
    }
    // until the document is final (the status poller gets there on its own)
    await waitFor(async () => (await dteEvents()).some((e) => FINAL.includes(String((JSON.parse(e.payload_json) as { new_status?: string }).new_status))), 'a final status event');
    const events = await dteEvents();
    const mine = () => receiver.accepted(path).map((r) => r.verified!.payload).filter((p) => p.folio === g.json.folio && p.dte_type === '33');
    await waitFor(() => mine().length >= events.length, 'the pipeline events at the receiver');
    await sleep(200);
    const got = mine();
    const recorded = events.map((e) => JSON.parse(e.payload_json) as { event: string; timestamp: string });
    expect(got.map((p) => [p.event, p.timestamp])).toEqual(recorded.map((p) => [p.event, p.timestamp]));
    const changes = got.filter((p) => p.event === 'dte.status_changed');
    for (const p of changes) {
      for (const k of ['event', 'dte_type', 'folio', 'track_id', 'rut_emisor', 'old_status', 'new_status', 'status_display', 'timestamp']) expect(p).toHaveProperty(k);
    }
    // in order: each change starts where the previous one ended
    for (let i = 1; i < changes.length; i++) expect(changes[i]!.old_status).toBe(changes[i - 1]!.new_status);
  });
});

describe('webhooks: dead letters, redelivery, 410 Gone', () => {
  let ctx: Ctx;
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    ctx = await setup({ config: { webhooks: { ...FAST, maxAttempts: 3 } } });
    await provision(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.stop();
  });

  it('a delivery that keeps failing is dead after maxAttempts, listed as a dead letter, and redeliver sends it again', async () => {
    const path = '/dead';
    const sub = await subscribe(ctx, receiver, path, ['dte.error', 'dte.status_changed']);
    receiver.answers.set(path, 500);
    await recordEvent(ctx.app.db, { rutCompany: RUT, eventType: 'dte.error', aggregateKey: 'dte:dead', payload: { dte_type: '33', folio: 5, rut_emisor: RUT, error_code: 'E', error_message: 'm' } });

    let dead: Record<string, unknown> | undefined;
    await waitFor(async () => {
      const r = await call(ctx, 'GET', `/api/v1/webhooks/deliveries?rut_company=${RUT}&status=dead&subscription_id=${sub.id}`);
      dead = r.json.items[0];
      return dead !== undefined;
    }, 'the dead letter');
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, last_status_code: 500, event: 'dte.error', aggregate_key: 'dte:dead' });
    expect(dead!.last_error).toMatch(/^HTTP 500/);
    expect(dead!.payload).toMatchObject({ event: 'dte.error', folio: 5, error_code: 'E' });
    await sleep(200);
    const attempts = receiver.to(path);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((r) => r.headers['x-timbre-delivery']))).toEqual(new Set([dead!.delivery_id]));
    // each retry is signed anew with its own timestamp, over the same body
    expect(new Set(attempts.map((r) => r.rawBody.toString())).size).toBe(1);

    // a dead head does not hold back the document's later events
    receiver.answers.set(path, 200);
    await recordEvent(ctx.app.db, { rutCompany: RUT, eventType: 'dte.status_changed', aggregateKey: 'dte:dead', payload: statusChanged(5) });
    await waitFor(() => receiver.accepted(path).length === 1, 'the later event');
    expect(receiver.accepted(path)[0]!.verified!.event).toBe('dte.status_changed');

    // other companies cannot see or redeliver it
    const other = await token(ctx.jwtKey, [OTHER_RUT], ['admin']);
    expect((await call(ctx, 'POST', `/api/v1/webhooks/deliveries/${dead!.id}/redeliver`, { token: other })).status).toBe(404);
    expect((await call(ctx, 'GET', `/api/v1/webhooks/deliveries?rut_company=${RUT}`, { token: other })).status).toBe(403);
    expect((await call(ctx, 'POST', '/api/v1/webhooks/deliveries/999999/redeliver')).status).toBe(404);

    const again = await call(ctx, 'POST', `/api/v1/webhooks/deliveries/${dead!.id}/redeliver`);
    expect(again.status, again.text).toBe(200);
    expect(again.json).toMatchObject({ id: dead!.id, status: 'pending', attempts: 0 });
    await waitFor(() => receiver.accepted(path).length === 2, 'the redelivery');
    const redelivered = receiver.accepted(path)[1]!;
    expect(redelivered.headers['x-timbre-delivery']).toBe(dead!.delivery_id); // same id: the receiver can dedupe
    expect(redelivered.verified!.event).toBe('dte.error');
    const after = await call(ctx, 'GET', `/api/v1/webhooks/deliveries?rut_company=${RUT}&subscription_id=${sub.id}`);
    expect((after.json.items as Array<{ status: string }>).map((i) => i.status)).toEqual(['delivered', 'delivered']);
    expect((await call(ctx, 'GET', `/api/v1/webhooks/deliveries?rut_company=${RUT}&status=dead&subscription_id=${sub.id}`)).json.items).toEqual([]);

    const twice = await call(ctx, 'POST', `/api/v1/webhooks/deliveries/${dead!.id}/redeliver`);
    expect(twice.status).toBe(409);
    expect(twice.json.code).toBe('ERR_WEBHOOK_ALREADY_DELIVERED');
    await sleep(200);
    expect(receiver.accepted(path)).toHaveLength(2);
  });

  it('410 Gone deactivates the subscription: no more deliveries to it', async () => {
    const path = '/gone';
    const sub = await subscribe(ctx, receiver, path, ['caf.low']);
    receiver.answers.set(path, 410);
    await recordEvent(ctx.app.db, { rutCompany: RUT, eventType: 'caf.low', aggregateKey: 'caf:gone:1', payload: { rut_emisor: RUT, dte_type: '33', folios_left: 1 } });
    await waitFor(async () => (await call(ctx, 'GET', `/api/v1/webhooks/deliveries?rut_company=${RUT}&status=dead&subscription_id=${sub.id}`)).json.items.length === 1, 'the 410 dead letter');
    const list = await call(ctx, 'GET', `/api/v1/webhooks/subscriptions?rut_company=${RUT}`);
    expect((list.json.items as Array<{ id: number; active: boolean }>).find((s) => s.id === sub.id)?.active).toBe(false);
    await recordEvent(ctx.app.db, { rutCompany: RUT, eventType: 'caf.low', aggregateKey: 'caf:gone:2', payload: { rut_emisor: RUT, dte_type: '33', folios_left: 0 } });
    await sleep(400);
    expect(receiver.to(path)).toHaveLength(1);
    expect((await call(ctx, 'GET', `/api/v1/webhooks/deliveries?rut_company=${RUT}&subscription_id=${sub.id}`)).json.items).toHaveLength(1);
  });

  it('backs off exponentially with jitter, capped', () => {
    const lo = () => 0;
    const hi = () => 1;
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 10_000, 3_600_000, hi))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 10_000, 3_600_000, lo))).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect(retryDelayMs(15, 10_000, 3_600_000, hi)).toBe(3_600_000);
    expect(retryDelayMs(40, 10_000, 3_600_000, lo)).toBe(1_800_000);
  });
});

describe('webhooks: periodic alerts', () => {
  let ctx: Ctx;
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const receiver = new Receiver(clock);

  beforeAll(async () => {
    await receiver.start();
    ctx = await setup({ config: { now: clock, webhooks: { ...FAST, maxAttempts: 50, alertsIntervalMs: 60 } } });
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.stop();
  });

  it('emits caf.low once per day per company and document type', async () => {
    const path = '/dte/webhook/caf';
    const c = await call(ctx, 'POST', '/api/v1/companies', { body: { rut: RUT, razon_social: 'EMPRESA DEMO TIMBRE SPA', nro_resol: 0, fch_resol: '2026-01-15' } });
    expect(c.status).toBe(201);
    await subscribe(ctx, receiver, path, ['caf.low', 'caf.expiring', 'certificate.expiring']);
    const cert = await call(ctx, 'POST', '/api/v1/dte/certificate/upload', {
      body: { rut_company: RUT, p12_base64: ctx.fixtures.p12.toString('base64'), password: ctx.fixtures.p12Password },
    });
    expect(cert.status).toBe(201);
    await uploadCaf(ctx, 33, 1, 50); // 50 folios of type 33: fewer than 100
    await waitFor(() => receiver.accepted(path).length >= 1, 'the caf.low alert');
    await sleep(600); // ten more checks the same day
    const lows = () => receiver.accepted(path).filter((r) => r.verified!.event === 'caf.low');
    expect(lows()).toHaveLength(1);
    expect(lows()[0]!.verified!.payload).toMatchObject({ event: 'caf.low', rut_emisor: RUT, dte_type: '33', folios_left: 50, next_folio: 1, min_folios: 100 });
    expect(await listEvents(ctx.app.db, { rutCompany: RUT, eventType: 'caf.low' })).toHaveLength(1);
    // nothing else is due: the CAF is fresh (6 months), the certificate has years left
    expect(receiver.accepted(path).map((r) => r.verified!.event)).toEqual(['caf.low']);

    offsetMs += 86_400_000; // the next day
    await waitFor(() => lows().length === 2, 'the next day’s caf.low');
    await sleep(400);
    expect(lows()).toHaveLength(2);
    expect(await listEvents(ctx.app.db, { rutCompany: RUT, eventType: 'caf.low' })).toHaveLength(2);
    expect((await listEvents(ctx.app.db, { rutCompany: RUT, eventType: 'caf.low' })).map((e) => e.aggregate_key)).toEqual([`caf:${RUT}:33`, `caf:${RUT}:33`]);
    expect(lows().map((r) => r.verified!.payload.fecha)).toHaveLength(2);
    expect(lows()[0]!.verified!.payload.fecha).not.toBe(lows()[1]!.verified!.payload.fecha);
    expect(receiver.refused()).toEqual([]);
  });
});
