/**
 * `POST /api/v1/ai/prevalidate` over real HTTP (buildApp): the deterministic engine offline, and
 * the Claude path against the fake Anthropic server (the real SDK, by baseURL): merged plausibility
 * findings, every failure mode falling back with `llm_error`, secrets never on the wire, and the
 * 400/401/403/422 problems.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signToken, type Permission } from '@timbre/auth';
import { startFakeAnthropic, type FakeAnthropic, type FakeReply } from '@timbre/llm/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { llmConfigFromEnv } from '../src/config.js';
import { call, doc33, provision, setup, type Ctx } from '../../dte/test/helper.js';

const RUT = '76086428-5';
const OTHER_RUT = '77894717-K';
const TODAY = '2026-12-04';
const jwtKey = new Uint8Array(randomBytes(32));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
function doc(tipo = 33): Doc {
  const d = JSON.parse(readFileSync(path.join(root, 'examples/dte', `${tipo}.json`), 'utf8'));
  d.fecha_emision = '2026-12-03';
  d.folio = 120;
  return d;
}
const context = (tipo = 33) => ({
  industry: 'Desarrollo de software',
  historical_errors: ['REF-3-758'],
  cafs: [{ dte_type: tipo, desde: 100, hasta: 199, fecha_autorizacion: '2026-09-15' }],
  used_folios: [{ dte_type: tipo, folio: 119 }],
});

let offline: FastifyInstance;
let online: FastifyInstance;
let budgeted: FastifyInstance;
let fake: FakeAnthropic;
const urls: Record<string, string> = {};
let user: string;

const token = (permissions: Permission[], companies = [RUT]): Promise<string> => signToken({ sub: 'test', companies, permissions }, jwtKey);

async function post(app: 'offline' | 'online' | 'budgeted', opts: { body?: unknown; raw?: string; token?: string | null } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const tok = opts.token === undefined ? user : opts.token;
  if (tok !== null) headers.authorization = `Bearer ${tok}`;
  const res = await fetch(`${urls[app]}/api/v1/ai/prevalidate`, { method: 'POST', headers, body: opts.raw ?? JSON.stringify(opts.body) });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, contentType: res.headers.get('content-type') };
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  offline = await buildApp({ jwtKey });
  online = await buildApp({ jwtKey, llm: { apiKey: 'sk-ant-test', baseURL: fake.url, model: 'claude-test', maxRetries: 0, timeoutMs: 400 } });
  budgeted = await buildApp({ jwtKey, llm: { apiKey: 'sk-ant-test', baseURL: fake.url, model: 'claude-test', maxRetries: 0, dailyTokenBudget: 1 } });
  urls.offline = await offline.listen({ port: 0, host: '127.0.0.1' });
  urls.online = await online.listen({ port: 0, host: '127.0.0.1' });
  urls.budgeted = await budgeted.listen({ port: 0, host: '127.0.0.1' });
  user = await token(['ai:use']);
});
afterAll(async () => {
  await Promise.all([offline.close(), online.close(), budgeted.close()]);
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

describe('deterministic engine (no ANTHROPIC_API_KEY)', () => {
  it('a clean factura is valid, with the engine named and no llm fields', async () => {
    const r = await post('offline', { body: { dte_data: doc(), company_context: context(), today: TODAY } });
    expect(r.status).toBe(200);
    expect(r.json.is_valid).toBe(true);
    expect(r.json.engine).toBe('deterministic');
    expect(r.json.issues.filter((i: { severity: string }) => i.severity === 'error')).toEqual([]);
    expect(r.json.confidence).toBeGreaterThan(0.9);
    expect(r.json).not.toHaveProperty('llm_error');
    expect(r.json).not.toHaveProperty('model');
  });

  it('a broken document comes back as issues (code, field, severity, Spanish message, SII rejection), not as an error', async () => {
    const d = doc();
    d.totales.iva = 156457;
    const r = await post('offline', { body: { dte_data: d, company_context: context(), today: TODAY } });
    expect(r.status).toBe(200);
    expect(r.json.is_valid).toBe(false);
    const iva = r.json.issues.find((i: { code: string }) => i.code === 'PV_TOTAL_IVA');
    expect(iva).toMatchObject({ field: 'totales.iva', severity: 'error', source: 'deterministic' });
    expect(iva.sii_rejection).toMatch(/RCH/);
    expect(iva.message).toMatch(/IVA/);
    expect(r.json.recommendations.length).toBeGreaterThan(0);
    const rut = doc();
    rut.receptor.rut = '77894717-1';
    const r2 = await post('offline', { body: { dte_data: rut, today: TODAY } });
    expect(r2.json.is_valid).toBe(false);
    expect(r2.json.issues).toContainEqual(expect.objectContaining({ code: 'PV_RUT_DV', field: 'receptor.rut' }));
  });

  it('company_context drives the CAF and folio checks', async () => {
    const out = doc();
    out.folio = 250;
    expect((await post('offline', { body: { dte_data: out, company_context: context(), today: TODAY } })).json.issues.map((i: { code: string }) => i.code)).toContain('PV_FOLIO_OUT_OF_CAF');
    const dup = doc();
    dup.folio = 119;
    expect((await post('offline', { body: { dte_data: dup, company_context: context(), today: TODAY } })).json.issues.map((i: { code: string }) => i.code)).toContain('PV_FOLIO_DUPLICATE');
  });
});

describe('problems', () => {
  it('401 without a token, before the body is validated', async () => {
    const r = await post('offline', { body: { dte_data: 'not an object' }, token: null });
    expect(r.status).toBe(401);
    expect(r.contentType).toMatch(/application\/problem\+json/);
  });

  it('403 without ai:use, or for another company\'s emisor', async () => {
    expect((await post('offline', { body: { dte_data: doc() }, token: await token(['dte:read']) })).status).toBe(403);
    const r = await post('offline', { body: { dte_data: doc() }, token: await token(['ai:use'], [OTHER_RUT]) });
    expect(r.status).toBe(403);
    expect(r.json.code).toBe('ERR_AUTH_FORBIDDEN');
  });

  it('400 for bad JSON and for fields of the wrong type, naming the field', async () => {
    expect((await post('offline', { raw: '{"dte_data": ' })).status).toBe(400);
    const missing = await post('offline', { body: { company_context: {} } });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.json)).toContain('dte_data');
    const notObj = await post('offline', { body: { dte_data: 'factura' } });
    expect(notObj.status).toBe(400);
    const caf = await post('offline', { body: { dte_data: doc(), company_context: { cafs: [{ dte_type: 33, desde: 'cien', hasta: 199, fecha_autorizacion: '2026-09-15' }] } } });
    expect(caf.status).toBe(400);
    expect(JSON.stringify(caf.json.errors ?? caf.json)).toContain('desde');
  });

  it('422 for a context that cannot be right (today not a date, hasta < desde)', async () => {
    const t = await post('offline', { body: { dte_data: doc(), today: '2026-02-30' } });
    expect(t.status).toBe(422);
    expect(JSON.stringify(t.json)).toContain('today');
    const c = await post('offline', { body: { dte_data: doc(), company_context: { cafs: [{ dte_type: 33, desde: 200, hasta: 100, fecha_autorizacion: '2026-09-15' }] } } });
    expect(c.status).toBe(422);
    expect(JSON.stringify(c.json)).toContain('company_context.cafs.0.hasta');
  });
});

const plausible = {
  issues: [
    { code: 'AI_PLAUSIBILITY_INDUSTRY', field: 'items[1].nombre', severity: 'info', message: 'Un mouse no es un servicio de software, aunque es una venta habitual junto a notebooks.' },
    { code: 'AI_PLAUSIBILITY_AMOUNT', field: 'items[0].precio_unitario', severity: 'warning', message: 'Precio unitario alto para el giro; verifique.' },
  ],
  recommendations: ['Detalle en la descripción el modelo exacto de los equipos vendidos.'],
  confidence: 0.8,
};

describe('with Claude (fake Anthropic server)', () => {
  it('merges plausibility findings, keeps the engine\'s verdict, names the model', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'informar_plausibilidad', input: plausible });
    const r = await post('online', { body: { dte_data: doc(), company_context: context(), today: TODAY } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ is_valid: true, engine: 'deterministic+claude', model: 'claude-test', ai_confidence: 0.8 });
    const claude = r.json.issues.filter((i: { source: string }) => i.source === 'claude');
    expect(claude).toEqual(plausible.issues.map((i) => ({ ...i, source: 'claude' })));
    expect(r.json.recommendations).toContain(plausible.recommendations[0]);
    expect(r.json).not.toHaveProperty('llm_error');

    expect(fake.requests).toHaveLength(1);
    const body = fake.requests[0]!.body;
    expect(body).toMatchObject({ model: 'claude-test', tool_choice: { type: 'tool', name: 'informar_plausibilidad' } });
    const user = (body.messages as Array<{ content: string }>)[0]!.content;
    expect(user).toContain('Notebook Lenovo ThinkPad E14');
    expect(user).toContain('Desarrollo de software');
    expect(user).not.toContain('2026-09-15'); // CAFs stay local
  });

  it('the deterministic findings go to the model as context, and a broken document stays invalid', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'informar_plausibilidad', input: { issues: [], recommendations: [], confidence: 0.9 } });
    const d = doc();
    d.totales.iva = 1;
    const r = await post('online', { body: { dte_data: d, company_context: context(), today: TODAY } });
    expect(r.json).toMatchObject({ is_valid: false, engine: 'deterministic+claude' });
    expect((fake.requests[0]!.body.messages as Array<{ content: string }>)[0]!.content).toContain('PV_TOTAL_IVA');
  });

  it('certificates, keys and passwords never reach Anthropic', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'informar_plausibilidad', input: { issues: [], recommendations: [], confidence: 0.9 } });
    const pfx = 'MIIKPAIBAzCCCfYGCSqGSIb3DQEHAaCCCecEggnjMIIJ3zCCBgAGCSqGSIb3DQEHAaCCBfEEggXtMIIF6TCCBeUGCyqGSIb3DQEMCgEC'.repeat(3);
    // A real key, generated here (no key material is committed).
    const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString().trim();
    const d = doc();
    d.certificado = { pfx_base64: pfx, password: 'ClaveCert2026' };
    d.caf_xml = '<AUTORIZACION><CAF>…</CAF><RSASK>secreto</RSASK></AUTORIZACION>';
    d.items[0].descripcion = `Intel Core i5 ${pem}`;
    d.emisor.giro = `Software ${pfx}`;
    const r = await post('online', { body: { dte_data: d, company_context: { ...context(), clave_sii: 'MiClaveSII', api_key: 'sk-live-x' }, today: TODAY } });
    expect(r.status).toBe(200);
    expect(r.json.engine).toBe('deterministic+claude');
    const raw = fake.requests[0]!.raw;
    for (const secret of ['ClaveCert2026', pfx.slice(0, 50), 'PRIVATE KEY', pem.split('\n')[1]!.slice(0, 40), 'RSASK', 'MiClaveSII', 'sk-live-x']) expect(raw).not.toContain(secret);
    expect(raw).toContain('Intel Core i5');
  });

  const failures: Array<[string, string, FakeReply]> = [
    ['text instead of the tool', 'ERR_LLM_MALFORMED', { kind: 'text', text: 'El documento parece correcto.' }],
    ['the model tries an error severity', 'ERR_LLM_MALFORMED', { kind: 'tool_use', name: 'informar_plausibilidad', input: { ...plausible, issues: [{ ...plausible.issues[0], severity: 'error' }] } }],
    ['a code outside AI_PLAUSIBILITY_*', 'ERR_LLM_MALFORMED', { kind: 'tool_use', name: 'informar_plausibilidad', input: { ...plausible, issues: [{ ...plausible.issues[0], code: 'PV_TOTAL_IVA' }] } }],
    ['tool input that is not JSON', 'ERR_LLM_MALFORMED', { kind: 'tool_use', name: 'informar_plausibilidad', rawJson: '{"issues":[{"code":' }],
    ['refusal', 'ERR_LLM_REFUSED', { kind: 'refusal' }],
    ['529 overloaded', 'ERR_LLM_UNAVAILABLE', { kind: 'error', status: 529 }],
    ['429 rate limited', 'ERR_LLM_RATE_LIMITED', { kind: 'error', status: 429 }],
    ['401 bad key', 'ERR_LLM_AUTH', { kind: 'error', status: 401 }],
    ['slower than the timeout', 'ERR_LLM_TIMEOUT', { kind: 'tool_use', name: 'informar_plausibilidad', input: plausible, delayMs: 2000 }],
  ];
  it.each(failures)('%s → the deterministic result with llm_error %s', async (_label, code, reply) => {
    fake.enqueue(reply);
    const d = doc();
    d.totales.iva = 156457;
    const t0 = Date.now();
    const r = await post('online', { body: { dte_data: d, company_context: context(), today: TODAY } });
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ is_valid: false, engine: 'deterministic', model: 'claude-test', llm_error: { code } });
    expect(typeof r.json.llm_error.message).toBe('string');
    expect(r.json.issues.every((i: { source: string }) => i.source === 'deterministic')).toBe(true);
    expect(r.json.issues.map((i: { code: string }) => i.code)).toContain('PV_TOTAL_IVA');
    expect(fake.requests).toHaveLength(1);
    expect(fake.pending()).toBe(0);
  });

  it('budget spent → ERR_LLM_BUDGET and no request to Anthropic', async () => {
    // the ledger is process-wide per UTC day and the tests above used far more than 1 token today
    const r = await post('budgeted', { body: { dte_data: doc(), company_context: context(), today: TODAY } });
    expect(r.json).toMatchObject({ is_valid: true, engine: 'deterministic', llm_error: { code: 'ERR_LLM_BUDGET' } });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('configuration from the environment', () => {
  it('Claude only with ANTHROPIC_API_KEY; numbers checked; model defaults to DEFAULT_MODEL', async () => {
    const { DEFAULT_MODEL } = await import('@timbre/llm');
    expect(llmConfigFromEnv({})).toBeUndefined();
    expect(llmConfigFromEnv({ ANTHROPIC_API_KEY: '  ' })).toBeUndefined();
    expect(llmConfigFromEnv({ ANTHROPIC_API_KEY: 'sk-ant-x' })).toEqual({ apiKey: 'sk-ant-x', model: DEFAULT_MODEL });
    expect(
      llmConfigFromEnv({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', TIMBRE_AI_MODEL: 'claude-opus-5', TIMBRE_AI_TIMEOUT_MS: '5000', TIMBRE_AI_MAX_RETRIES: '0', TIMBRE_AI_DAILY_TOKEN_BUDGET: '100000' }),
    ).toEqual({ apiKey: 'k', baseURL: 'http://127.0.0.1:9', model: 'claude-opus-5', timeoutMs: 5000, maxRetries: 0, dailyTokenBudget: 100000 });
    expect(() => llmConfigFromEnv({ ANTHROPIC_API_KEY: 'k', TIMBRE_AI_TIMEOUT_MS: '5s' })).toThrow(/TIMBRE_AI_TIMEOUT_MS/);
    expect(() => llmConfigFromEnv({ ANTHROPIC_API_KEY: 'k', TIMBRE_AI_MAX_RETRIES: '-1' })).toThrow(/TIMBRE_AI_MAX_RETRIES/);
  });
});

describe('POST /api/v1/ai/prevalidate: context read from the DTE service', () => {
  // The real DTE service (simulator, SQLite): one CAF 33 (folios 1..100), folio 1 issued.
  let dteCtx: Ctx;
  let app: FastifyInstance;
  let base: string;
  const post = async (body: unknown, permissions: Permission[] = ['ai:use', 'dte:read']) => {
    const tok = await signToken({ sub: 'odoo', companies: [RUT], permissions }, dteCtx.jwtKey);
    const res = await fetch(`${base}/api/v1/ai/prevalidate`, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Doc };
  };
  const today = new Date().toISOString().slice(0, 10);
  const fresh = (folio?: number): Doc => {
    const d = doc(33);
    d.fecha_emision = today;
    if (folio === undefined) delete d.folio;
    else d.folio = folio;
    return d;
  };
  const errorCodes = (r: { json: Doc }) => (r.json.issues as Array<{ code: string; severity: string }>).filter((i) => i.severity === 'error').map((i) => i.code);

  beforeAll(async () => {
    dteCtx = await setup();
    await provision(dteCtx);
    const g = await call(dteCtx, 'POST', '/api/v1/dte/generate', { body: doc33() });
    if (g.status !== 200 || g.json.folio !== 1) throw new Error(`generate: ${g.status} ${g.text}`);
    app = await buildApp({ jwtKey: dteCtx.jwtKey, dteServiceUrl: dteCtx.url });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
    await dteCtx?.close();
  });

  it('a folio already issued in Timbre is a duplicate; one outside its CAFs is refused; none is fine', async () => {
    const dup = await post({ dte_data: fresh(1) });
    expect(dup.status).toBe(200);
    expect(dup.json.context_sources).toEqual(['timbre']);
    expect(errorCodes(dup)).toContain('PV_FOLIO_DUPLICATE');
    expect(dup.json.is_valid).toBe(false);
    const out = await post({ dte_data: fresh(150) });
    expect(errorCodes(out)).toEqual(['PV_FOLIO_OUT_OF_CAF']);
    const next = await post({ dte_data: fresh(2) });
    expect(errorCodes(next)).toEqual([]);
    const none = await post({ dte_data: fresh() });
    expect(none.json).toMatchObject({ is_valid: true, context_sources: ['timbre'] });
    expect(none.json.context_error).toBeUndefined();
  });

  it('what the request says wins over the DTE service', async () => {
    const r = await post({ dte_data: fresh(150), company_context: { cafs: [{ dte_type: 33, desde: 101, hasta: 200, fecha_autorizacion: today }], used_folios: [] } });
    expect(errorCodes(r)).toEqual([]);
    expect(r.json.context_sources).toEqual(['request', 'timbre']); // rejections still read from Timbre
  });

  it('without dte:read the lookup fails: the answer comes anyway, saying so', async () => {
    const r = await post({ dte_data: fresh(1) }, ['ai:use']);
    expect(r.status).toBe(200);
    expect(r.json.is_valid).toBe(true); // nothing known about folio 1 without the DTE service
    expect(r.json.context_error).toMatchObject({ code: 'ERR_DTE_FORBIDDEN' });
    expect(r.json.context_sources).toEqual([]);
  });

  it('the DTE service down: same, with ERR_DTE_UNREACHABLE', async () => {
    const down = await buildApp({ jwtKey: dteCtx.jwtKey, dteServiceUrl: 'http://127.0.0.1:9' });
    try {
      const url = await down.listen({ port: 0, host: '127.0.0.1' });
      const tok = await signToken({ sub: 'odoo', companies: [RUT], permissions: ['ai:use', 'dte:read'] }, dteCtx.jwtKey);
      const res = await fetch(`${url}/api/v1/ai/prevalidate`, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify({ dte_data: fresh(1) }) });
      const json = (await res.json()) as Doc;
      expect(res.status).toBe(200);
      expect(json.context_error.code).toBe('ERR_DTE_UNREACHABLE');
      expect(json.is_valid).toBe(true);
    } finally {
      await down.close();
    }
  });
});
