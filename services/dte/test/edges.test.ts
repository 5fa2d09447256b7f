/**
 * The edges of the HTTP surface, over real HTTP: auth refusals, bodies Fastify refuses, input the
 * domain refuses, requests Node's HTTP parser refuses, and rate limiting. Every refusal must be
 * application/problem+json of the one shape, and none may write anything.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKey, signToken } from '@timbre/auth';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type AppConfig } from '../src/app.js';
import { OTHER_RUT, RUT, call, doc33, provision, setup, token, type Ctx } from './helper.js';

type Res = Awaited<ReturnType<typeof call>>;

/** The service's problem shape (RFC 9457 + code + errors[]), with the status it was sent with. */
function expectProblem(r: Res, status: number, code?: string | RegExp): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.json).toMatchObject({ type: expect.stringMatching(/^urn:timbre:problem:/), title: expect.any(String), status, detail: expect.any(String), code: expect.any(String) });
  expect(Array.isArray(r.json.errors)).toBe(true);
  if (code !== undefined) expect(r.json.code).toMatch(code);
  expect(r.text).not.toMatch(/\bat .+\.(js|ts):\d+/); // no stack trace
}

const fields = (r: Res): string[] => (r.json?.errors ?? []).map((e: { field: string }) => e.field);

/** An HS256 JWT built by hand, to control exactly what it claims (expiry, algorithm). */
function handJwt(key: Uint8Array | null, claims: Record<string, unknown>, alg = 'HS256'): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ alg, typ: 'JWT' })}.${part(claims)}`;
  return `${head}.${key ? createHmac('sha256', key).update(head).digest('base64url') : ''}`;
}
const claims = (expInSeconds: number) => {
  const now = Math.floor(Date.now() / 1000);
  return { sub: 'edge', companies: [RUT], permissions: ['admin'], iss: 'timbre', aud: 'timbre', iat: now - 7200, exp: now + expInSeconds };
};

/** Raw bytes on a socket: what Node's HTTP parser refuses never reaches a route. */
function rawRequest(url: string, data: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    let out = '';
    const s = connect(Number(port), '127.0.0.1', () => s.write(data));
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}
const rawProblem = (response: string) => {
  const [head = '', body = ''] = response.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, json: JSON.parse(body) as Record<string, unknown> };
};

describe('edges of the HTTP surface (real HTTP)', () => {
  let ctx: Ctx;
  const generate = (opts: Parameters<typeof call>[3] = {}) => call(ctx, 'POST', '/api/v1/dte/generate', opts);
  const nextFolio33 = async (): Promise<number | undefined> => {
    const r = await call(ctx, 'GET', `/api/v1/dte/caf/status?rut_emisor=${RUT}`);
    expect(r.status, r.text).toBe(200);
    return (r.json.tipos as Array<{ tipoDte: number; nextFolio?: number }>).find((t) => t.tipoDte === 33)?.nextFolio;
  };
  let folioBefore: number | undefined;

  beforeAll(async () => {
    ctx = await setup();
    await provision(ctx, 10);
    folioBefore = await nextFolio33();
    expect(folioBefore).toBe(1);
  });
  afterAll(async () => ctx?.close());

  describe('authentication and authorization (generate with a valid body)', () => {
    it('401 without credentials, with a Bearer challenge', async () => {
      const r = await generate({ token: null, body: doc33() });
      expectProblem(r, 401, 'ERR_AUTH_MISSING');
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="timbre"');
    });

    it('401 for malformed, unsupported, wrongly signed, unsigned and expired tokens', async () => {
      const now = Math.floor(Date.now() / 1000);
      const cases: Array<[string, Record<string, string>, string]> = [
        ['garbage', { authorization: 'Bearer not-a-jwt' }, 'ERR_AUTH_INVALID'],
        ['two credentials', { authorization: 'Bearer a b' }, 'ERR_AUTH_INVALID'],
        ['Basic scheme', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }, 'ERR_AUTH_INVALID'],
        ['unknown API key', { 'x-api-key': 'tmb_nope' }, 'ERR_AUTH_INVALID'],
        ['another key', { authorization: `Bearer ${await token(new Uint8Array(randomBytes(32)), [RUT], ['admin'])}` }, 'ERR_AUTH_INVALID'],
        ['alg none', { authorization: `Bearer ${handJwt(null, claims(3600), 'none')}` }, 'ERR_AUTH_INVALID'],
        ['wrong audience', { authorization: `Bearer ${handJwt(ctx.jwtKey, { ...claims(3600), aud: 'someone-else' })}` }, 'ERR_AUTH_INVALID'],
        ['no exp', { authorization: `Bearer ${handJwt(ctx.jwtKey, { ...claims(3600), exp: undefined })}` }, 'ERR_AUTH_INVALID'],
        ['expired', { authorization: `Bearer ${handJwt(ctx.jwtKey, { ...claims(-3600), iat: now - 7200 })}` }, 'ERR_AUTH_EXPIRED'],
      ];
      for (const [name, headers, code] of cases) {
        const r = await generate({ token: null, headers, body: doc33() });
        expectProblem(r, 401, code);
        expect(r.headers.get('www-authenticate'), name).toBe('Bearer realm="timbre", error="invalid_token"');
        expect(r.text, name).not.toContain(headers.authorization ?? headers['x-api-key']);
      }
      // The control: the same hand-made token, unexpired, is accepted (the 401s above are not artefacts).
      const ok = await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}`, { token: handJwt(ctx.jwtKey, claims(3600)) });
      expect(ok.status, ok.text).toBe(200);
    });

    it('403 for another company, a missing permission, or another document type', async () => {
      const otherCompany = await token(ctx.jwtKey, [OTHER_RUT], ['dte:generate', 'dte:read']);
      const readOnly = await token(ctx.jwtKey, [RUT], ['dte:read']);
      const only39 = await token(ctx.jwtKey, [RUT], ['dte:generate'], [39]);
      for (const [name, tok] of [['another company', otherCompany], ['no dte:generate', readOnly], ['scoped to 39', only39]] as const) {
        const r = await generate({ token: tok, body: doc33() });
        expectProblem(r, 403, 'ERR_AUTH_FORBIDDEN');
        expect(r.headers.get('www-authenticate'), name).toBeNull();
      }
      // The control: the 39-only token is good for 39 (read-only here, so that nothing is written).
      expect((await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&dte_type=39`, { token: only39 })).status).toBe(403); // lacks dte:read
      const read39 = await token(ctx.jwtKey, [RUT], ['dte:read'], [39]);
      expect((await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&dte_type=39`, { token: read39 })).status).toBe(200);
      expectProblem(await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&dte_type=33`, { token: read39 }), 403, 'ERR_AUTH_FORBIDDEN');
    });
  });

  describe('bodies Fastify refuses', () => {
    it('413 for a body over bodyLimit (5 MiB), on generate and on the CAF upload (200 kB)', async () => {
      const big = JSON.stringify({ ...doc33(), padding: 'x'.repeat(5 * 1024 * 1024) });
      expectProblem(await generate({ raw: big }), 413, 'ERR_BODY_TOO_LARGE');
      const cafBig = await call(ctx, 'POST', '/api/v1/dte/caf/upload', { raw: `<AUTORIZACION>${'x'.repeat(300_000)}</AUTORIZACION>`, headers: { 'content-type': 'application/xml' } });
      expectProblem(cafBig, 413, 'ERR_BODY_TOO_LARGE');
    });

    it('400 for malformed or empty JSON, naming the body', async () => {
      for (const raw of ['{"dte_type": "33",', '{"a":1}}', '']) {
        const r = await generate({ raw });
        expectProblem(r, 400, 'ERR_JSON_MALFORMED');
        expect(fields(r)).toEqual(['body']);
      }
    });

    it('415 for a content type other than JSON', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
        const r = await generate({ raw: JSON.stringify(doc33()), headers: { 'content-type': type } });
        expectProblem(r, 415, 'ERR_MEDIA_TYPE_UNSUPPORTED');
      }
    });

    it('400 for an invalid Idempotency-Key header, naming it', async () => {
      const r = await generate({ body: doc33(), headers: { 'idempotency-key': 'has spaces in it' } });
      expectProblem(r, 400, 'ERR_BAD_REQUEST');
      expect(fields(r)).toEqual(['idempotency-key']);
    });
  });

  describe('input the domain refuses: 422 naming the field', () => {
    const cases: Array<[string, (d: Record<string, any>) => void, string, string?]> = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      ['unknown dte_type', (d) => void (d.dte_type = '99'), 'dte_type'],
      ['numeric unknown dte_type', (d) => void (d.dte_type = 35), 'dte_type'],
      ['receptor RUT check digit', (d) => void (d.receptor.rut = '77894717-1'), 'receptor.rut'],
      ['emisor RUT check digit', (d) => void (d.emisor.rut = '76086428-4'), 'emisor.rut'],
      ['totals that disagree', (d) => void (d.totales = { ...(d.totales ?? {}), monto_total: 1 }), 'totales.monto_total', 'ERR_TOTALS_MISMATCH'],
      ['missing receptor', (d) => void delete d.receptor, 'receptor'],
      ['missing items', (d) => void delete d.items, 'items'],
      ['no items', (d) => void (d.items = []), 'items'],
      ['an item without a name', (d) => void delete d.items[0].nombre, 'items[0].nombre'],
      ['missing dte_type', (d) => void delete d.dte_type, 'dte_type'],
    ];
    it.each(cases)('%s', async (_name, mutate, field, code) => {
      const d = doc33();
      mutate(d);
      const r = await generate({ body: d });
      expectProblem(r, 422);
      expect(fields(r)).toContain(field);
      if (code) expect(r.json.errors.find((e: { field: string }) => e.field === field).code).toBe(code);
    });

    it('a body that is not an object', async () => {
      for (const raw of ['null', '[1,2]', '"33"', '42']) expectProblem(await generate({ raw }), 422, 'ERR_INPUT_INVALID');
    });
  });

  describe('everything else is problem+json too', () => {
    it('unknown routes and methods → 404, bad path and query parameters → 400', async () => {
      expectProblem(await call(ctx, 'GET', '/api/v1/nothing'), 404, 'ERR_NOT_FOUND');
      expectProblem(await call(ctx, 'DELETE', '/api/v1/dte/generate'), 404, 'ERR_NOT_FOUND');
      const id = await call(ctx, 'GET', '/api/v1/dte/abc');
      expectProblem(id, 400, 'ERR_BAD_REQUEST');
      expect(fields(id)).toEqual(['id']);
      const rut = await call(ctx, 'GET', '/api/v1/dte?rut_emisor=not-a-rut');
      expectProblem(rut, 400, 'ERR_BAD_REQUEST');
      expect(fields(rut)).toEqual(['rut_emisor']);
    });

    it('inbox and response endpoints authenticate first, then name the missing field', async () => {
      expectProblem(await call(ctx, 'POST', '/api/v1/dte/check_inbox', { token: null, body: {} }), 401, 'ERR_AUTH_MISSING');
      const inbox = await call(ctx, 'POST', '/api/v1/dte/check_inbox', { body: {} });
      expectProblem(inbox, 400, 'ERR_BAD_REQUEST');
      expect(fields(inbox)).toEqual(['rut_receptor']);
      const response = await call(ctx, 'POST', '/api/v1/dte/send_response', { body: {} });
      expectProblem(response, 400, 'ERR_BAD_REQUEST');
      expect(fields(response)).toEqual(['received_id']);
      expectProblem(await call(ctx, 'GET', '/api/v1/dte/999999/pdf'), 404, 'ERR_NOT_FOUND');
    });

    it('a URL that does not decode → 400 (Fastify frameworkErrors)', async () => {
      expectProblem(await call(ctx, 'GET', '/api/v1/dte/%zz'), 400, 'ERR_URL_MALFORMED');
    });

    it('requests the HTTP parser refuses → 400 / 431 problem+json on the raw socket', async () => {
      const garbage = rawProblem(await rawRequest(ctx.url, 'NOT HTTP AT ALL\r\n\r\n'));
      expect(garbage.status).toBe(400);
      expect(garbage.head).toMatch(/content-type: application\/problem\+json/i);
      expect(garbage.json).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST', errors: [] });
      const huge = rawProblem(await rawRequest(ctx.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
      expect(huge.status).toBe(431);
      expect(huge.head).toMatch(/content-type: application\/problem\+json/i);
      expect(huge.json).toMatchObject({ status: 431, code: 'ERR_HEADERS_TOO_LARGE', title: 'Request Header Fields Too Large' });
    });
  });

  it('after all of the above, nothing was written: no document, the next folio unchanged', async () => {
    const list = await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&limit=100`);
    expect(list.status, list.text).toBe(200);
    expect(list.json.items).toEqual([]);
    expect(await nextFolio33()).toBe(folioBefore);
    // The default rate limit is on (and far away).
    expect(list.headers.get('x-ratelimit-limit')).toBe('600');
  });
});

describe('rate limiting', () => {
  const RATE_LIMIT_PATH = `/api/v1/dte?rut_emisor=${RUT}`;
  const apiKey = createApiKey();
  const jwtKey = new Uint8Array(randomBytes(32));
  const dirs: string[] = [];
  const apps: FastifyInstance[] = [];

  /** A service on its own SQLite file, with `rateLimit` as given; its URL. */
  async function serve(rateLimit: AppConfig['rateLimit']): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'timbre-dte-rl-'));
    dirs.push(dir);
    const app = await buildApp({
      databaseUrl: `sqlite:${join(dir, 'timbre.db')}`,
      masterKey: randomBytes(32),
      jwtKey,
      apiKeys: [{ id: 'erp-1', hash: apiKey.hash, companies: [RUT], permissions: ['dte:read'] }],
      sii: { environment: 'sim', url: 'http://127.0.0.1:9', maxAttempts: 1, timeoutMs: 1000 },
      ...(rateLimit !== undefined ? { rateLimit } : {}),
    });
    apps.push(app);
    return app.listen({ port: 0, host: '127.0.0.1' });
  }
  const get = async (url: string, path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, { headers });
    const text = await res.text();
    let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  const bearer = async (sub: string) => ({ authorization: `Bearer ${await signToken({ sub, companies: [RUT], permissions: ['dte:read'] }, jwtKey)}` });

  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the 4th request of a principal with 429 problem+json and retry-after; /health, /ready, /metrics are never limited', async () => {
    const url = await serve({ max: 3, timeWindowMs: 60_000 });
    const alice = await bearer('alice');
    for (let i = 0; i < 3; i++) {
      const r = await get(url, RATE_LIMIT_PATH, alice);
      expect(r.status, r.text).toBe(200);
      expect(r.headers.get('x-ratelimit-limit')).toBe('3');
      expect(r.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
    }
    const refused = await get(url, RATE_LIMIT_PATH, alice);
    expectProblem(refused, 429, 'ERR_RATE_LIMITED');
    expect(refused.json.title).toBe('Too Many Requests');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retry-after ${refused.headers.get('retry-after')}`).toBe(true);
    expect(refused.json.retry_after).toBe(retryAfter);
    // Refused before anything else: a POST with a body is refused the same way, unread.
    const post = await fetch(`${url}/api/v1/dte/generate`, { method: 'POST', headers: { ...alice, 'content-type': 'application/json' }, body: JSON.stringify(doc33()) });
    expect(post.status).toBe(429);
    await post.text();

    for (const path of ['/health', '/ready', '/metrics']) {
      for (let i = 0; i < 8; i++) {
        const r = await get(url, path, alice);
        expect(r.status, `${path}: ${r.text}`).toBe(200);
        expect(r.headers.get('x-ratelimit-limit'), path).toBeNull();
      }
    }
  });

  it('keys by principal, not by address: another token (or an API key) from the same address has its own budget', async () => {
    const url = await serve({ max: 3, timeWindowMs: 60_000 });
    const alice = await bearer('alice');
    for (let i = 0; i < 3; i++) expect((await get(url, RATE_LIMIT_PATH, alice)).status).toBe(200);
    expect((await get(url, RATE_LIMIT_PATH, alice)).status).toBe(429);
    // Another signed token of the same subject shares alice's budget …
    expect((await get(url, RATE_LIMIT_PATH, await bearer('alice'))).status).toBe(429);
    // … while bob, and the API key erp-1, start at full budget.
    expect((await get(url, RATE_LIMIT_PATH, await bearer('bob'))).headers.get('x-ratelimit-remaining')).toBe('2');
    const key = { 'x-api-key': apiKey.key };
    for (let i = 0; i < 3; i++) expect((await get(url, RATE_LIMIT_PATH, key)).status).toBe(200);
    expectProblem(await get(url, RATE_LIMIT_PATH, key), 429, 'ERR_RATE_LIMITED');
  });

  it('keys unauthenticated requests by address: fresh invalid tokens do not buy fresh budgets', async () => {
    const url = await serve({ max: 3, timeWindowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      const r = await get(url, RATE_LIMIT_PATH, { authorization: `Bearer forged-${i}` });
      expectProblem(r, 401, 'ERR_AUTH_INVALID');
    }
    expectProblem(await get(url, RATE_LIMIT_PATH, { authorization: 'Bearer forged-4' }), 429, 'ERR_RATE_LIMITED');
    expectProblem(await get(url, RATE_LIMIT_PATH), 429, 'ERR_RATE_LIMITED');
    // A valid principal on the same address is not affected.
    expect((await get(url, RATE_LIMIT_PATH, await bearer('carol'))).status).toBe(200);
  });

  it('rateLimit: false turns it off', async () => {
    const url = await serve(false);
    const alice = await bearer('alice');
    for (let i = 0; i < 10; i++) {
      const r = await get(url, RATE_LIMIT_PATH, alice);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-ratelimit-limit')).toBeNull();
    }
  });
});
