import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doc33, provision, setup, type Ctx } from './helper.js';

describe('generate while the SII is unreachable (real HTTP)', () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await setup();
    await provision(ctx, 10);
    await ctx.sim.close();
  });
  afterAll(async () => ctx.close());

  it('answers 503 problem+json, keeps the document signed with its XML, and a retry with the key does not issue another', async () => {
    const auth = { authorization: `Bearer ${ctx.admin}`, 'content-type': 'application/json', 'idempotency-key': 'down-1' };
    const r = await fetch(`${ctx.url}/api/v1/dte/generate`, { method: 'POST', headers: auth, body: JSON.stringify(doc33()) });
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.headers.get('retry-after')).toBe('30');
    const p = (await r.json()) as { code: string; id: number; folio: number; status: number; dte_status: string; detail: string };
    expect(p).toMatchObject({ code: 'ERR_SII_SEND_FAILED', status: 503, folio: 1, dte_status: 'signed' });

    const row = await ctx.app.inject({ url: `/api/v1/dte/${p.id}`, headers: { authorization: `Bearer ${ctx.admin}` } });
    expect(row.json()).toMatchObject({ status: 'signed', folio: 1, sii_track_id: null });
    const xml = await ctx.app.inject({ url: `/api/v1/dte/${p.id}/xml`, headers: { authorization: `Bearer ${ctx.admin}` } });
    expect(xml.statusCode).toBe(200);
    expect(xml.rawPayload.toString('latin1')).toContain('<Folio>1</Folio>');

    const retry = await fetch(`${ctx.url}/api/v1/dte/generate`, { method: 'POST', headers: auth, body: JSON.stringify(doc33()) });
    expect(retry.status).toBe(409);
    expect(await retry.json()).toMatchObject({ code: 'ERR_IDEMPOTENCY_IN_PROGRESS', status: 409, id: p.id, folio: 1, dte_status: 'signed' });
    const list = await ctx.app.inject({ url: '/api/v1/dte?rut_emisor=76086428-5', headers: { authorization: `Bearer ${ctx.admin}` } });
    expect(list.json().items).toHaveLength(1);
  });
});
