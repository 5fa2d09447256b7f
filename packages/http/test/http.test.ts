/**
 * @timbre/http over real HTTP: a minimal service built from the shared plugins answers every kind of
 * error as problem+json with a stable code, including what Node refuses before Fastify sees it.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { AuthError, signToken } from '@timbre/auth';
import { TimbreError, TimbreValidationError } from '@timbre/dte';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError, authPlugin, createToProblem, listenAddress, openApiDocs, problemJson, problemResponses, problemServerOptions, rateLimitFromEnv, rateLimitPlugin } from '../src/index.js';

const jwtKey = new Uint8Array(randomBytes(32));
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  app = Fastify({ logger: false, bodyLimit: 1024, ...problemServerOptions });
  await app.register(openApiDocs, { title: 'T', description: 'test service', version: '9.9.9' });
  await app.register(authPlugin, { auth: { jwtKey } });
  await app.register(problemJson, { statusByCode: { ERR_SII_UNAVAILABLE: 503, ERR_CAF_EXPIRED: 409 } });
  app.post(
    '/things',
    {
      schema: {
        tags: ['t'],
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string' }, n: { type: 'integer' } } },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...problemResponses(400, 401, 403) },
      },
    },
    async () => ({ ok: true }),
  );
  app.get('/secure', async (request) => {
    const p = await app.requirePermission(request, { permission: 'dte:read', company: '76086428-5' });
    return { sub: p.sub };
  });
  app.get('/boom/:kind', async (request) => {
    const { kind } = request.params as { kind: string };
    if (kind === 'http') throw new HttpError('ERR_THING_MISSING', 404, 'thing 7 not found', { thing: 7 }, [{ field: 'id', message: 'no such thing', code: 'ERR_THING_MISSING' }]);
    if (kind === 'sii') throw new TimbreError('ERR_SII_UNAVAILABLE', 'SII down', { siiCode: 'EPR-9' });
    if (kind === 'caf') throw new TimbreError('ERR_CAF_EXPIRED', 'the CAF expired', { field: 'folio' });
    if (kind === 'unlisted') throw new TimbreError('ERR_XML_MALFORMED', 'secret internal detail');
    if (kind === 'validation') throw new TimbreValidationError([new TimbreError('ERR_RUT_INVALID', 'bad check digit', { field: 'receptor.rut' })]);
    throw new Error('secret internal detail');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterAll(() => app.close());

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(`${url}${path}`, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}
const post = (body: string, type = 'application/json') => call('/things', { method: 'POST', headers: { 'content-type': type }, body });

describe('problem+json', () => {
  it('schema errors name the field: missing properties and wrong types', async () => {
    const r = await post(JSON.stringify({ n: 3 }));
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ type: 'urn:timbre:problem:bad-request', title: 'Bad Request', status: 400, code: 'ERR_BAD_REQUEST' });
    expect(r.body.errors).toEqual([{ field: 'name', message: expect.any(String), code: 'ERR_INPUT_INVALID' }]);
    const typed = await post(JSON.stringify({ name: 'a', n: 'x' }));
    expect(typed.body.errors).toEqual([{ field: 'n', message: 'must be integer', code: 'ERR_INPUT_INVALID' }]);
  });

  it('Fastify client errors get stable codes', async () => {
    expect((await post('{"name":')).body).toMatchObject({ status: 400, code: 'ERR_JSON_MALFORMED', fastify_code: 'FST_ERR_CTP_INVALID_JSON_BODY', errors: [{ field: 'body' }] });
    expect((await post('name=x', 'text/plain')).body).toMatchObject({ status: 415, code: 'ERR_MEDIA_TYPE_UNSUPPORTED' });
    expect((await post(JSON.stringify({ name: 'x'.repeat(2000) }))).body).toMatchObject({ status: 413, code: 'ERR_BODY_TOO_LARGE' });
    expect((await call('/nowhere?x=1')).body).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND', detail: 'no route GET /nowhere' });
  });

  it('service, package and unknown errors', async () => {
    expect((await call('/boom/http')).body).toEqual({ type: 'urn:timbre:problem:thing-missing', title: 'Not Found', status: 404, detail: 'thing 7 not found', code: 'ERR_THING_MISSING', errors: [{ field: 'id', message: 'no such thing', code: 'ERR_THING_MISSING' }], thing: 7 });
    const sii = await call('/boom/sii');
    expect(sii.status).toBe(503);
    expect(sii.headers.get('retry-after')).toBe('30');
    expect(sii.body).toMatchObject({ code: 'ERR_SII_UNAVAILABLE', sii_code: 'EPR-9' });
    expect((await call('/boom/caf')).body).toMatchObject({ status: 409, code: 'ERR_CAF_EXPIRED', errors: [{ field: 'folio', code: 'ERR_CAF_EXPIRED' }] });
    expect((await call('/boom/validation')).body).toMatchObject({ status: 422, errors: [{ field: 'receptor.rut', code: 'ERR_RUT_INVALID' }] });
    for (const kind of ['unlisted', 'plain']) {
      const r = await call(`/boom/${kind}`);
      expect(r.body).toMatchObject({ status: 500, code: 'ERR_INTERNAL', detail: 'internal error' });
      expect(JSON.stringify(r.body)).not.toContain('secret');
    }
  });

  it('requests Node refuses are answered in problem+json on the socket', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(new URL(url).port), '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.write('GARBAGE / NOT-HTTP\r\n\r\n');
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('application/problem+json');
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
  });
});

describe('auth', () => {
  it('401 with a challenge, 403 without the right, 200 with it', async () => {
    const none = await call('/secure');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="timbre"');
    const bad = await call('/secure', { headers: { authorization: 'Bearer not.a.jwt' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('invalid_token');
    const other = await signToken({ sub: 'u1', companies: ['77894717-K'], permissions: ['dte:read'] }, jwtKey);
    expect((await call('/secure', { headers: { authorization: `Bearer ${other}` } })).status).toBe(403);
    const ok = await signToken({ sub: 'u1', companies: ['76086428-5'], permissions: ['dte:read'] }, jwtKey);
    expect((await call('/secure', { headers: { authorization: `Bearer ${ok}` } })).body).toEqual({ sub: 'u1' });
  });
});

describe('docs and bootstrap helpers', () => {
  it('OpenAPI lists the routes with the Problem schema', async () => {
    const res = await fetch(`${url}/docs/json`);
    const doc = (await res.json()) as { info: { title: string; version: string }; paths: Record<string, unknown>; components: { securitySchemes: Record<string, unknown> } };
    expect(doc.info).toMatchObject({ title: 'T', version: '9.9.9' });
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/things', '/secure']));
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'bearer']);
    expect(JSON.stringify(doc.paths['/things'])).toContain('"400"');
  });

  it('listenAddress checks PORT', () => {
    expect(listenAddress({}, 8002)).toEqual({ port: 8002, host: '0.0.0.0' });
    expect(listenAddress({ PORT: '9000', HOST: '127.0.0.1' }, 8002)).toEqual({ port: 9000, host: '127.0.0.1' });
    expect(() => listenAddress({ PORT: '70000' }, 8002)).toThrow(/PORT/);
    expect(() => listenAddress({ PORT: 'abc' }, 8002)).toThrow(/PORT/);
  });

  it('AuthError keeps its status through createToProblem', () => {
    const { problem, internal } = createToProblem()(new AuthError('ERR_AUTH_FORBIDDEN', 'no'));
    expect(internal).toBe(false);
    expect(problem.status).toBe(403);
  });
});

describe('rateLimitPlugin', () => {
  it('per principal, 429 problem+json with retry-after; probes exempt; RATE_LIMIT_* parsed', async () => {
    const limited = Fastify({ logger: false, ...problemServerOptions });
    await limited.register(authPlugin, { auth: { jwtKey } });
    await limited.register(rateLimitPlugin, { limit: { max: 2, timeWindowMs: 60_000 }, auth: { jwtKey } });
    await limited.register(problemJson, {});
    limited.get('/health', async () => ({ status: 'ok' }));
    limited.get('/x', async () => ({ ok: true }));
    const base = await limited.listen({ port: 0, host: '127.0.0.1' });
    try {
      const a = await signToken({ sub: 'a', companies: ['76086428-5'], permissions: ['ai:use'] }, jwtKey);
      const b = await signToken({ sub: 'b', companies: ['76086428-5'], permissions: ['ai:use'] }, jwtKey);
      const get = (path: string, tok?: string) => fetch(`${base}${path}`, tok ? { headers: { authorization: `Bearer ${tok}` } } : {});
      expect((await get('/x', a)).status).toBe(200);
      expect((await get('/x', a)).status).toBe(200);
      const refused = await get('/x', a);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.json()).toMatchObject({ status: 429, code: 'ERR_RATE_LIMITED' });
      expect((await get('/x', b)).status).toBe(200); // another principal, another budget
      for (let i = 0; i < 5; i++) expect((await get('/health')).status).toBe(200);
    } finally {
      await limited.close();
    }
    expect(rateLimitFromEnv({})).toEqual({ max: 600, timeWindowMs: 60_000 });
    expect(rateLimitFromEnv({ RATE_LIMIT_MAX: '0' })).toBe(false);
    expect(() => rateLimitFromEnv({ RATE_LIMIT_MAX: '-1' })).toThrow(/RATE_LIMIT_MAX/);
  });
});
