import { randomBytes } from 'node:crypto';
import { signToken, type Permission } from '@timbre/auth';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { request } from './http.js';

const RUT = '76086428-5';
const OTHER_RUT = '77894717-K';
const jwtKey = new Uint8Array(randomBytes(32));
let app: FastifyInstance;
let url: string;
let user: string;

const token = (permissions: Permission[], companies = [RUT], dteTypes?: number[]): Promise<string> =>
  signToken({ sub: 'test', companies, permissions, ...(dteTypes ? { dteTypes } : {}) }, jwtKey);

const call = (method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string } = {}) =>
  request(url, method, path, { ...opts, token: opts.token === undefined ? user : opts.token });

/** `weeks` weeks from Monday 2025-09-01: weekdays ~40 (a little noise), Saturday 8, Sunday 2. */
function weekly(weeks = 12): Record<string, number> {
  const out: Record<string, number> = {};
  const start = Date.UTC(2025, 8, 1);
  for (let d = 0; d < weeks * 7; d++) {
    const dow = d % 7; // 0 = Monday
    out[new Date(start + d * 86_400_000).toISOString().slice(0, 10)] = dow < 5 ? 38 + ((d * 7) % 5) : dow === 5 ? 8 : 2;
  }
  return out;
}

const forecast = (body: Record<string, unknown>, tok?: string | null) => call('POST', '/api/ai/forecast/folios', { body, ...(tok !== undefined ? { token: tok } : {}) });
const base = () => ({ dte_type: 33, historical_data: weekly(), horizon_days: 30, company_id: RUT });

beforeAll(async () => {
  app = await buildApp({ jwtKey });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  user = await token(['ai:use']);
});
afterAll(async () => {
  await app.close();
});

describe('AI service: auth', () => {
  it('401 problem+json without a token (before the body is validated)', async () => {
    const r = await forecast({ nonsense: true }, null);
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="timbre"');
    expect(r.json).toMatchObject({ status: 401, code: 'ERR_AUTH_MISSING' });
  });

  it('401 with a token signed by another key', async () => {
    const other = await signToken({ sub: 'x', companies: [RUT], permissions: ['ai:use'] }, new Uint8Array(randomBytes(32)));
    const r = await forecast(base(), other);
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('ERR_AUTH_INVALID');
  });

  it('403 without ai:use, for another company or another DTE type; admin passes', async () => {
    expect((await forecast(base(), await token(['dte:read']))).json).toMatchObject({ status: 403, code: 'ERR_AUTH_FORBIDDEN' });
    expect((await forecast(base(), await token(['ai:use'], [OTHER_RUT]))).status).toBe(403);
    expect((await forecast(base(), await token(['ai:use'], [RUT], [39]))).status).toBe(403);
    expect((await forecast(base(), await token(['admin']))).status).toBe(200);
    // A non-RUT company_id (the ERP's own id, as the original Odoo client sends) only needs the permission.
    expect((await forecast({ ...base(), company_id: 7 }, await token(['ai:use'], [OTHER_RUT]))).status).toBe(200);
  });
});

describe('POST /api/ai/forecast/folios', () => {
  it('a weekly series → horizon_days predictions, low ≤ predicted ≤ high, the weekly shape kept', async () => {
    const r = await forecast(base());
    expect(r.status).toBe(200);
    const f = r.json;
    expect(f.daily_predictions).toHaveLength(30);
    expect(f.daily_predictions[0].date).toBe('2025-11-24'); // the day after the history (Monday)
    for (const d of f.daily_predictions) {
      expect(d.confidence_low).toBeLessThanOrEqual(d.predicted_count);
      expect(d.predicted_count).toBeLessThanOrEqual(d.confidence_high);
      expect(d.confidence_low).toBeGreaterThanOrEqual(0);
    }
    const sum = f.daily_predictions.reduce((a: number, d: { predicted_count: number }) => a + d.predicted_count, 0);
    expect(f.predicted_usage).toBe(Math.round(sum));
    expect(f.avg_daily).toBeCloseTo(sum / 30, 1);
    expect(typeof f.peak_day).toBe('string');
    expect(f.model_accuracy).toBeGreaterThan(0.7);
    expect(f.model_accuracy).toBeLessThanOrEqual(1);
    expect(typeof f.model).toBe('string');
    expect(f.backtest.candidates.length).toBeGreaterThan(1);
    expect(f.supply).toBeUndefined();
    // Weekdays ≫ Sundays.
    const monday = f.daily_predictions[0].predicted_count;
    const sunday = f.daily_predictions[6].predicted_count;
    expect(monday).toBeGreaterThan(sunday * 5);
  });

  it('"33" and an explicit today are accepted', async () => {
    const r = await forecast({ ...base(), dte_type: '33', horizon_days: 7, today: '2025-12-01' });
    expect(r.status).toBe(200);
    expect(r.json.daily_predictions.map((d: { date: string }) => d.date)).toEqual(['2025-12-01', '2025-12-02', '2025-12-03', '2025-12-04', '2025-12-05', '2025-12-06', '2025-12-07']);
  });

  it('remaining CAF ranges → supply with runs_out_on and a recommendation', async () => {
    const r = await forecast({
      ...base(),
      remaining: [
        { desde: 1, hasta: 300, next: 101, fecha_autorizacion: '2025-10-01' },
        { desde: 301, hasta: 500, fecha_autorizacion: '2025-11-01' },
      ],
    });
    expect(r.status).toBe(200);
    const s = r.json.supply;
    expect(s.remaining_folios).toBe(400);
    expect(s.runs_out_on).toMatch(/^2025-12-\d\d$/); // ~2 weeks of ~30/day
    expect(s.runs_out_on_p80 <= s.runs_out_on).toBe(true);
    expect(s.reason).toBe('exhausted');
    expect(s.recommendation).toMatchObject({ request_by: expect.stringMatching(/^\d{4}-\d\d-\d\d$/), folios: expect.any(Number) });
  });

  it('a bad date key → 422 naming historical_data.<key>', async () => {
    const historical_data = { ...weekly(), '2025-02-30': 4 };
    const r = await forecast({ ...base(), historical_data });
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ code: 'ERR_INPUT_INVALID', type: 'urn:timbre:problem:input-invalid', errors: [{ field: 'historical_data.2025-02-30', code: 'ERR_INPUT_INVALID' }] });
    const r2 = await forecast({ ...base(), historical_data: { ...weekly(), yesterday: 3 } });
    expect(r2.json.errors[0].field).toBe('historical_data.yesterday');
  });

  it('a negative or non-numeric count → 400 naming the day', async () => {
    const r = await forecast({ ...base(), historical_data: { ...weekly(), '2025-09-03': -1 } });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'ERR_BAD_REQUEST', errors: [{ field: 'historical_data.2025-09-03' }] });
    const r2 = await forecast({ ...base(), historical_data: { ...weekly(), '2025-09-03': 'many' } });
    expect(r2.status).toBe(400);
    expect(r2.json.errors[0].field).toBe('historical_data.2025-09-03');
  });

  it('horizon_days 0, 366 or 1.5, and a missing field → 400 naming it', async () => {
    for (const horizon_days of [0, 366, 1.5]) {
      const r = await forecast({ ...base(), horizon_days });
      expect(r.status, String(horizon_days)).toBe(400);
      expect(r.json.errors[0].field).toBe('horizon_days');
    }
    const { historical_data: _h, ...rest } = base();
    const r = await forecast(rest);
    expect(r.status).toBe(400);
    expect(r.json.errors[0].field).toBe('historical_data');
  });

  it('too little history, bad CAF ranges and a bad company RUT → 422 naming the field', async () => {
    const short = Object.fromEntries(Object.entries(weekly()).slice(0, 10));
    expect((await forecast({ ...base(), historical_data: short })).json).toMatchObject({ status: 422, errors: [{ field: 'historical_data' }] });
    const next = await forecast({ ...base(), remaining: [{ desde: 10, hasta: 20, next: 50, fecha_autorizacion: '2025-10-01' }] });
    expect(next.json).toMatchObject({ status: 422, errors: [{ field: 'remaining.0.next' }] });
    const fa = await forecast({ ...base(), remaining: [{ desde: 1, hasta: 20, fecha_autorizacion: '2025-10-01' }, { desde: 21, hasta: 30, fecha_autorizacion: '2025-13-01' }] });
    expect(fa.json).toMatchObject({ status: 422, errors: [{ field: 'remaining.1.fecha_autorizacion' }] });
    const missing = await forecast({ ...base(), remaining: [{ desde: 1, hasta: 20 }] });
    expect(missing.json).toMatchObject({ status: 400, errors: [{ field: 'remaining.0.fecha_autorizacion' }] });
    const today = await forecast({ ...base(), today: '2025-10-01' });
    expect(today.json).toMatchObject({ status: 422, errors: [{ field: 'today' }] });
    const span = await forecast({ ...base(), historical_data: { ...weekly(), '2020-01-01': 3 } });
    expect(span.json).toMatchObject({ status: 422, errors: [{ field: 'historical_data', message: expect.stringMatching(/spans \d+ days/) }] });
    const rut = await forecast({ ...base(), company_id: '76086428-4' });
    expect(rut.json).toMatchObject({ status: 422, code: 'ERR_RUT_INVALID', errors: [{ field: 'company_id' }] });
  });

  it('malformed JSON and non-JSON bodies → problem+json', async () => {
    const r = await call('POST', '/api/ai/forecast/folios', { raw: '{"dte_type": 33,' });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'ERR_JSON_MALFORMED', errors: [{ field: 'body' }] });
    const t = await fetch(`${url}/api/ai/forecast/folios`, { method: 'POST', headers: { authorization: `Bearer ${user}`, 'content-type': 'text/plain' }, body: 'hi' });
    expect(t.status).toBe(415);
    expect(t.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('AI service: ops and docs', () => {
  it('/health and /ready without a token; unknown routes → 404 problem+json', async () => {
    expect(await call('GET', '/health', { token: null })).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await call('GET', '/ready', { token: null })).toMatchObject({ status: 200, json: { status: 'ready' } });
    const nf = await call('GET', '/api/ai/nothing', { token: null });
    expect(nf.status).toBe(404);
    expect(nf.json).toMatchObject({ code: 'ERR_NOT_FOUND', status: 404 });
  });

  it('OpenAPI at /docs/json lists the forecast route with its body', async () => {
    const r = await call('GET', '/docs/json', { token: null });
    expect(r.status).toBe(200);
    const op = r.json.paths['/api/ai/forecast/folios'].post;
    expect(op).toBeDefined();
    expect(op.requestBody.content['application/json'].schema.required).toEqual(['dte_type', 'historical_data', 'horizon_days']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '422']));
    expect((await fetch(`${url}/docs`, { redirect: 'manual' })).status).toBeLessThan(400);
  });
});
