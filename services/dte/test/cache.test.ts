/**
 * The shared cache in the service, against the real Redis at TIMBRE_TEST_REDIS_URL (default
 * redis://127.0.0.1:6379; a fresh key prefix per run, every key removed afterwards): two instances
 * of the service (buildApp twice: same database, same simulator, same Redis prefix) log in to the
 * SII once between them and share one rate-limit budget; /ready reports each dependency; with Redis
 * configured but unreachable every answer stays the same (cache misses, per-instance rate limits,
 * /ready "degraded" but 200).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFixtures } from '@timbre/dte';
import { createSimulator, type Simulator } from '@timbre/sii-sim';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type AppConfig } from '../src/app.js';
import { RUT, doc33, token } from './helper.js';

const REDIS_URL = process.env.TIMBRE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `timbre-test:${randomUUID()}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface Cluster {
  a: FastifyInstance;
  b: FastifyInstance;
  sim: Simulator;
  admin: string;
  jwtKey: Uint8Array;
  close(): Promise<void>;
}

/** One simulator, one SQLite database, two service instances with the same cache settings. */
async function cluster(extra: Partial<AppConfig>): Promise<Cluster> {
  const sim = createSimulator({ statusDelayMs: 0 });
  const simUrl = await sim.start(0);
  const dir = mkdtempSync(join(tmpdir(), 'timbre-dte-cache-'));
  const jwtKey = new Uint8Array(randomBytes(32));
  const base: AppConfig = {
    databaseUrl: `sqlite:${join(dir, 'timbre.db')}`,
    masterKey: randomBytes(32),
    jwtKey,
    sii: { environment: 'sim', url: simUrl, maxAttempts: 1, timeoutMs: 10_000 },
    pipeline: { recoveryIntervalMs: false },
    ...extra,
  };
  const a = await buildApp({ ...base, sii: { ...base.sii } });
  const b = await buildApp({ ...base, sii: { ...base.sii } });
  return {
    a,
    b,
    sim,
    jwtKey,
    admin: await token(jwtKey, [RUT], ['admin']),
    async close() {
      await a.close();
      await b.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Company, certificate and a 33 CAF (1..100) from the simulator, through instance `app`. */
async function provision(c: Cluster, app: FastifyInstance): Promise<void> {
  const auth = { authorization: `Bearer ${c.admin}` };
  const fx = generateFixtures({ tipos: [33], p12Password: 'Pw-p12-9f3Kq!x7' });
  const company = await app.inject({ method: 'POST', url: '/api/v1/companies', headers: auth, payload: { rut: RUT, razon_social: 'EMPRESA DEMO TIMBRE SPA', nro_resol: 0, fch_resol: '2026-01-15' } });
  expect(company.statusCode, company.body).toBe(201);
  const cert = await app.inject({ method: 'POST', url: '/api/v1/dte/certificate/upload', headers: auth, payload: { rut_company: RUT, p12_base64: fx.p12.toString('base64'), password: fx.p12Password } });
  expect(cert.statusCode, cert.body).toBe(201);
  const caf = await fetch(new URL('/sim/caf', c.sim.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rutEmisor: RUT, tipoDte: 33, desde: 1, hasta: 100 }) });
  const up = await app.inject({ method: 'POST', url: '/api/v1/dte/caf/upload', headers: { ...auth, 'content-type': 'application/xml' }, payload: Buffer.from(await caf.arrayBuffer()) });
  expect(up.statusCode, up.body).toBe(201);
}

/** Issue one 33 on `app` and wait until it is `sent` (the SII upload needs a token). */
async function issue(c: Cluster, app: FastifyInstance): Promise<void> {
  const auth = { authorization: `Bearer ${c.admin}` };
  const g = await app.inject({ method: 'POST', url: '/api/v1/dte/generate', headers: auth, payload: doc33() });
  expect(g.statusCode, g.body).toBe(200);
  const id = g.json().id as number;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await app.inject({ url: `/api/v1/dte?rut_emisor=${RUT}`, headers: auth });
    const row = (r.json().items as Array<{ id: number; status: string; sii_track_id: string | null }>).find((d) => d.id === id);
    if (row?.sii_track_id) return;
    if (Date.now() > deadline) throw new Error(`document ${id} not sent: ${JSON.stringify(row)}`);
    await sleep(50);
  }
}

let redis: Redis;
beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
});
afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('two instances sharing Redis', () => {
  let c: Cluster;
  const prefix = `${PREFIX}shared:`;
  beforeAll(async () => {
    c = await cluster({ redisUrl: REDIS_URL, cachePrefix: prefix, rateLimit: { max: 1000, timeWindowMs: 60_000 } });
    await provision(c, c.a);
  });
  afterAll(async () => c?.close());

  it('log in to the SII once between them: the token travels sealed through Redis', async () => {
    expect(c.sim.state.tokens.size).toBe(0);
    await issue(c, c.a);
    expect(c.sim.state.tokens.size).toBe(1);
    await issue(c, c.b);
    await issue(c, c.b);
    expect(c.sim.state.tokens.size).toBe(1); // B took A's token from Redis
    const keys = await redis.keys(`${prefix}sii-token:*`);
    expect(keys).toHaveLength(1);
    const stored = (await redis.get(keys[0]!))!;
    const [simToken] = [...c.sim.state.tokens.keys()];
    expect(stored).toMatch(/"sealed":"tbx1\./);
    expect(stored).not.toContain(simToken!);
    const pttl = await redis.pttl(keys[0]!);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('a token the SII refuses is dropped for both: the other instance does not take it back from Redis', async () => {
    const before = c.sim.state.tokens.size;
    // The simulator expires the token of the next upload (DTEUpload STATUS 5): B renews it once.
    await fetch(new URL('/sim/faults', c.sim.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ kind: 'expire-token', path: 'DTEUpload', count: 1 }]) });
    await issue(c, c.b);
    expect(c.sim.state.tokens.size).toBe(before + 1);
    // A still holds the refused token in memory; when the SII refuses it, A takes B's new one from Redis.
    await issue(c, c.a);
    expect(c.sim.state.tokens.size).toBe(before + 1);
  });

  it('keeps CAF verifications that passed, by content hash; refusals are not kept', async () => {
    const keys = await redis.keys(`${prefix}caf-verified:v1:*`);
    expect(keys).toHaveLength(1); // the CAF provision() uploaded through A
    expect(await redis.get(keys[0]!)).toBe('true');
    const foreign = generateFixtures({ tipos: [33], desde: 500, hasta: 510 }).cafs[0]!.xml;
    const r = await c.b.inject({ method: 'POST', url: '/api/v1/dte/caf/upload', headers: { authorization: `Bearer ${c.admin}`, 'content-type': 'application/xml' }, payload: foreign });
    expect(r.statusCode).toBe(422);
    expect(await redis.keys(`${prefix}caf-verified:v1:*`)).toHaveLength(1);
    // The same bytes through B: a hit, and the answer is what it would be anyway (already loaded).
    const caf = await fetch(new URL('/sim/caf', c.sim.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rutEmisor: RUT, tipoDte: 33, desde: 101, hasta: 110 }) });
    const bytes = Buffer.from(await caf.arrayBuffer());
    const auth = { authorization: `Bearer ${c.admin}`, 'content-type': 'application/xml' };
    expect((await c.a.inject({ method: 'POST', url: '/api/v1/dte/caf/upload', headers: auth, payload: bytes })).statusCode).toBe(201);
    expect(await redis.keys(`${prefix}caf-verified:v1:*`)).toHaveLength(2);
    const again = await c.b.inject({ method: 'POST', url: '/api/v1/dte/caf/upload', headers: auth, payload: bytes });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('ERR_CAF_DUPLICATE');
  });

  it('/ready reports the database and the cache (redis, ok)', async () => {
    for (const app of [c.a, c.b]) {
      const r = await app.inject({ url: '/ready' });
      expect(r.statusCode, r.body).toBe(200);
      expect(r.json()).toMatchObject({
        status: 'ready',
        checks: { database: { ok: true, required: true }, cache: { ok: true, required: false, kind: 'redis' } },
      });
    }
  });
});

describe('rate limit shared through Redis', () => {
  let c: Cluster;
  const prefix = `${PREFIX}rl:`;
  beforeAll(async () => {
    c = await cluster({ redisUrl: REDIS_URL, cachePrefix: prefix, rateLimit: { max: 3, timeWindowMs: 60_000 } });
  });
  afterAll(async () => c?.close());

  it('3 requests spread over both instances use the budget: the 4th, on the other instance, is 429', async () => {
    const alice = { authorization: `Bearer ${await token(c.jwtKey, [RUT], ['dte:read'])}` };
    const url = `/api/v1/dte?rut_emisor=${RUT}`;
    const statuses = [];
    for (const app of [c.a, c.a, c.b]) {
      const r = await app.inject({ url, headers: alice });
      statuses.push(r.statusCode);
      expect(r.headers['x-ratelimit-limit']).toBe('3');
    }
    expect(statuses).not.toContain(429);
    const refused = await c.b.inject({ url, headers: alice });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().code).toBe('ERR_RATE_LIMITED');
    expect((await c.a.inject({ url, headers: alice })).statusCode).toBe(429);
    const keys = await redis.keys(`${prefix}rate-limit:*`);
    expect(keys).toEqual([`${prefix}rate-limit:jwt:test`]);
    expect(await redis.get(keys[0]!)).toBe('5');
    // Probes are never counted.
    expect((await c.b.inject({ url: '/ready' })).statusCode).toBe(200);
  });
});

describe('Redis configured but unreachable: same answers, only slower', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await cluster({ redisUrl: `redis://127.0.0.1:${await closedPort()}`, cachePrefix: `${PREFIX}down:`, rateLimit: { max: 20, timeWindowMs: 60_000 } });
    await provision(c, c.a); // CAF verification computed, not cached
  });
  afterAll(async () => c?.close());

  it('issues documents (each instance logs in by itself), and /ready is 200 "degraded" with the cache not ok', async () => {
    await issue(c, c.a);
    await issue(c, c.b);
    expect(c.sim.state.tokens.size).toBe(2);
    const r = await c.a.inject({ url: '/ready' });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ status: 'degraded', checks: { database: { ok: true }, cache: { ok: false, required: false, kind: 'redis' } } });
    expect(r.json().checks.cache.detail).toMatch(/^redis /);
    expect(r.body).not.toMatch(/127\.0\.0\.1/);
  });

  it('rate limits per instance instead (never a 500, never unlimited)', async () => {
    const bob = { authorization: `Bearer ${await token(c.jwtKey, [RUT], ['dte:read'])}` };
    const tight = await buildApp({
      databaseUrl: 'sqlite::memory:',
      masterKey: randomBytes(32),
      jwtKey: c.jwtKey,
      sii: { environment: 'sim', url: c.sim.url },
      pipeline: { recoveryIntervalMs: false },
      redisUrl: `redis://127.0.0.1:${await closedPort()}`,
      rateLimit: { max: 2, timeWindowMs: 60_000 },
    });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await tight.inject({ url: `/api/v1/dte?rut_emisor=${RUT}`, headers: bob })).statusCode);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await tight.close();
    }
  });
});

describe('without Redis', () => {
  it('the cache is in memory, /ready says so, and each instance logs in to the SII by itself', async () => {
    const c = await cluster({});
    try {
      await provision(c, c.a);
      await issue(c, c.a);
      await issue(c, c.b);
      expect(c.sim.state.tokens.size).toBe(2);
      const r = await c.a.inject({ url: '/ready' });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true }, cache: { ok: true, kind: 'memory' } } });
    } finally {
      await c.close();
    }
  });

  it('/ready is 503 problem+json when the database does not answer, naming it', async () => {
    const c = await cluster({});
    try {
      await c.a.db.destroy();
      const r = await c.a.inject({ url: '/ready' });
      expect(r.statusCode).toBe(503);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toMatchObject({ code: 'ERR_NOT_READY', status: 503, checks: { database: { ok: false, required: true }, cache: { ok: true } } });
      expect(r.json().detail).toContain('database');
      expect((await c.b.inject({ url: '/ready' })).statusCode).toBe(200);
    } finally {
      await c.close().catch(() => undefined);
    }
  });
});
