import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUT, doc33, provision, setup, type Ctx } from './helper.js';

describe('operations endpoints (inject)', () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await setup();
    await provision(ctx, 5);
  });
  afterAll(async () => ctx.close());

  it('health, ready and docs answer without a token', async () => {
    expect((await ctx.app.inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await ctx.app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready' });
    const spec = await ctx.app.inject({ url: '/docs/json' });
    expect(spec.statusCode).toBe(200);
    const paths = Object.keys(spec.json().paths as object);
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/dte/generate', '/api/v1/dte/status', '/api/v1/dte/caf/upload', '/api/v1/dte/certificate/upload', '/api/v1/dte/{id}/xml']));
  });

  it('counts requests and documents in /metrics', async () => {
    const g = await ctx.app.inject({ method: 'POST', url: '/api/v1/dte/generate', headers: { authorization: `Bearer ${ctx.admin}` }, payload: doc33() });
    expect(g.statusCode, g.body).toBe(200);
    const m = await ctx.app.inject({ url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(m.body).toMatch(/timbre_dte_documents_total\{dte_type="33",status="sent"\} 1/);
    expect(m.body).toMatch(/timbre_http_requests_total\{method="POST",route="\/api\/v1\/dte\/generate",status_code="200"\} 1/);
    expect(m.body).toContain('timbre_http_request_duration_seconds_bucket');
  });

  it('answers 409 problem+json when the CAF runs out, consuming nothing', async () => {
    const auth = { authorization: `Bearer ${ctx.admin}` };
    let last = 0;
    for (let i = 0; i < 6; i++) {
      const r = await ctx.app.inject({ method: 'POST', url: '/api/v1/dte/generate', headers: auth, payload: doc33() });
      last = r.statusCode;
      if (r.statusCode !== 200) {
        expect(r.statusCode).toBe(409);
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(r.json().code).toBe('ERR_CAF_FOLIO_OUT_OF_RANGE');
      }
    }
    expect(last).toBe(409);
    const list = await ctx.app.inject({ url: `/api/v1/dte?rut_emisor=${RUT}`, headers: auth });
    expect(list.json().items).toHaveLength(5);
  });

  it('refuses a CAF not signed by a trusted key and a duplicate CAF', async () => {
    const { generateFixtures } = await import('@timbre/dte');
    const foreign = generateFixtures({ tipos: [33], desde: 500, hasta: 510 }).cafs[0]!.xml;
    const r = await ctx.app.inject({ method: 'POST', url: '/api/v1/dte/caf/upload', headers: { authorization: `Bearer ${ctx.admin}`, 'content-type': 'application/xml' }, payload: foreign });
    expect(r.statusCode).toBe(422);
    expect(r.json().code).toMatch(/^ERR_CAF_/);
    const noBody = await ctx.app.inject({ method: 'POST', url: '/api/v1/dte/caf/upload', headers: { authorization: `Bearer ${ctx.admin}` }, payload: {} });
    expect(noBody.statusCode).toBe(400);
  });

  it('maps an unreachable SII to 503 on the status query, changing nothing', async () => {
    await ctx.sim.close();
    const auth = { authorization: `Bearer ${ctx.admin}` };
    const before = (await ctx.app.inject({ url: `/api/v1/dte?rut_emisor=${RUT}&status=signed`, headers: auth })).json().items.length;
    const s = await ctx.app.inject({ url: `/api/v1/dte/status?rut_emisor=${RUT}&dte_type=33&folio=1`, headers: auth });
    expect(s.statusCode).toBe(503);
    expect(s.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(s.json().detail).not.toMatch(/at .*\.js/);
    expect((await ctx.app.inject({ url: `/api/v1/dte?rut_emisor=${RUT}&status=signed`, headers: auth })).json().items.length).toBe(before);
  });
});
