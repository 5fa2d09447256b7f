import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, doc33, provision, setup, type Ctx } from './helper.js';

const fault = (ctx: Ctx, rule: Record<string, unknown>) =>
  fetch(`${ctx.simUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) }).then((r) => {
    if (!r.ok) throw new Error(`fault: ${r.status}`);
  });
const clearFaults = (ctx: Ctx) => fetch(`${ctx.simUrl}/sim/faults`, { method: 'DELETE' });

interface SimEnvio {
  trackId: string;
  intentos: number;
}
const envios = (ctx: Ctx): Promise<SimEnvio[]> => fetch(`${ctx.simUrl}/sim/envios`).then((r) => r.json() as Promise<SimEnvio[]>);

describe('generate while the SII is unreachable, then back (real HTTP)', () => {
  let ctx: Ctx;
  beforeAll(async () => {
    // The recovery sweep is off here: these tests drive retries themselves.
    ctx = await setup({ pipeline: { recoveryIntervalMs: false } });
    await provision(ctx, 10);
  });
  afterAll(async () => ctx.close());

  it('answers 503 problem+json and keeps the document signed; a retry with the key continues it (same folio) once the SII is back', async () => {
    await fault(ctx, { kind: 'http-error', status: 503, path: 'DTEUpload' });
    const gen = (key: string) => call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), headers: { 'idempotency-key': key } });
    const r = await gen('down-1');
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.headers.get('retry-after')).toBe('30');
    expect(r.json).toMatchObject({ code: 'ERR_SII_SEND_FAILED', status: 503, folio: 1, dte_status: 'signed' });
    expect(typeof r.json.next_attempt_at).toBe('string');
    const id = r.json.id as number;

    const row = await call(ctx, 'GET', `/api/v1/dte/${id}`);
    expect(row.json).toMatchObject({ status: 'signed', folio: 1, sii_track_id: null });
    const xml = await ctx.app.inject({ url: `/api/v1/dte/${id}/xml`, headers: { authorization: `Bearer ${ctx.admin}` } });
    expect(xml.statusCode).toBe(200);
    expect(xml.rawPayload.toString('latin1')).toContain('<Folio>1</Folio>');

    // Still down: the retry continues the SAME document (no second folio) and fails the same way.
    const again = await gen('down-1');
    expect(again.status).toBe(503);
    expect(again.json).toMatchObject({ code: 'ERR_SII_SEND_FAILED', id, folio: 1 });

    // Back: the retry sends it.
    await clearFaults(ctx);
    const ok = await gen('down-1');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('idempotent-replayed')).toBe('true');
    expect(ok.json).toMatchObject({ id, folio: 1, status: 'sent' });
    expect(ok.json.sii_track_id).toMatch(/^\d+$/);
    expect(ok.json.xml_unsigned).toContain('<TED');
    expect(ok.json.xml_unsigned).not.toContain('<Signature');

    // And from now on the first answer is replayed.
    const replay = await gen('down-1');
    expect(replay.status).toBe(200);
    expect(replay.json).toEqual(ok.json);

    const list = await call(ctx, 'GET', '/api/v1/dte?rut_emisor=76086428-5');
    expect(list.json.items).toHaveLength(1);
    // The SII saw one envío for it (the failed uploads never reached it).
    expect(await envios(ctx)).toHaveLength(1);
  });

  it('recovery/resend sends what was left signed, once; the pending key then gets the answer', async () => {
    await fault(ctx, { kind: 'http-error', status: 503, path: 'DTEUpload' });
    const r = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), headers: { 'idempotency-key': 'down-2' } });
    expect(r.status).toBe(503);
    const { id, folio } = r.json as { id: number; folio: number };
    expect(folio).toBe(2);

    // Resend while still down: retried, scheduled, still signed.
    const stillDown = await call(ctx, 'POST', '/api/v1/dte/recovery/resend', { body: { rut_emisor: '76086428-5' } });
    expect(stillDown.status).toBe(200);
    expect(stillDown.json.results).toEqual([expect.objectContaining({ id, folio, status_before: 'signed', status: 'signed', outcome: 'retry' })]);
    expect(stillDown.json.results[0].error.code).toBe('ERR_SII_SEND_FAILED');

    await clearFaults(ctx);
    const before = (await envios(ctx)).length;
    const resent = await call(ctx, 'POST', '/api/v1/dte/recovery/resend', { body: { rut_emisor: '76086428-5', dte_type: '33' } });
    expect(resent.json).toMatchObject({ processed: 1, results: [{ id, folio, status_before: 'signed', status: 'sent', outcome: 'sent', error: null }] });
    expect((await envios(ctx)).length).toBe(before + 1);

    // Nothing left to do: a second resend touches nothing; asking for the folio says where it is.
    const none = await call(ctx, 'POST', '/api/v1/dte/recovery/resend', { body: { rut_emisor: '76086428-5', dte_type: '33', folio } });
    expect(none.json).toMatchObject({ processed: 0, results: [{ id, folio, status: 'sent', outcome: 'none' }] });
    expect((await envios(ctx)).length).toBe(before + 1);

    // The client's retry with its key gets the document, not a new one.
    const replay = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), headers: { 'idempotency-key': 'down-2' } });
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ id, folio, status: 'sent', sii_track_id: resent.json.results[0].sii_track_id });
  });

  it('an answer lost after the SII took the upload: the SII is asked before uploading again, and nothing is uploaded twice', async () => {
    const before = (await envios(ctx)).length;
    await fault(ctx, { kind: 'drop-response', path: 'DTEUpload', count: 1 });
    const r = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), headers: { 'idempotency-key': 'lost-1' } });
    // QueryEstDte knows the document (the simulator processes at once): recorded, not re-uploaded.
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ folio: 3, status: 'sent', sii_track_id: null });
    const after = await envios(ctx);
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)?.intentos).toBe(1);
    const status = await call(ctx, 'GET', '/api/v1/dte/status?rut_emisor=76086428-5&dte_type=33&folio=3');
    expect(status.json.status).toBe('accepted');
  });
});
