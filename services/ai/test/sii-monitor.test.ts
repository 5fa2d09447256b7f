/**
 * The SII monitor through the AI service over real HTTP: a local node:http server plays www.sii.cl
 * (serving the saved pages of packages/sii-monitor/test/fixtures) and another plays Odoo, verifying
 * every delivery with @timbre/webhooks' verifyWebhook. State on a real SQLite file (restart = a new
 * app on the same file) and, for the happy path, on the machine's PostgreSQL in a fresh schema.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signToken, type Permission } from '@timbre/auth';
import { verifyWebhook, type WebhookPayload } from '@timbre/webhooks';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type AppConfig } from '../src/app.js';
import { siiChangeUrl, siiMonitorFromEnv } from '../src/monitor/env.js';
import { openAiDb } from '../src/monitor/schema.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../packages/sii-monitor/test/fixtures');
const PG_URL = process.env.TIMBRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUT = '76086428-5';
const SECRET = 'whsec_test_sii_monitor_secret_0123456789';
const jwtKey = new Uint8Array(randomBytes(32));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** March 2025 (the fixtures' year) with real time flowing: the SII pages and Odoo's replay window agree. */
const OFFSET = Date.now() - Date.parse('2025-03-10T12:00:00Z');
const clock = (): Date => new Date(Date.now() - OFFSET);

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const closeServer = (server: Server) => new Promise<void>((r) => server.close(() => r()));

/** www.sii.cl: path → fixture file; `down` answers 503 everywhere; `delayMs` slows every page. */
class FakeSii {
  pages = new Map<string, string>();
  down = false;
  delayMs = 0;
  hits: string[] = [];
  server = createServer((req, res) => void this.handle(req, res));
  url = '';
  private async handle(req: IncomingMessage, res: ServerResponse) {
    this.hits.push(req.url ?? '');
    if (this.delayMs) await sleep(this.delayMs);
    if (this.down) {
      res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Servicio no disponible</h1>');
      return;
    }
    const file = this.pages.get(req.url ?? '');
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    // The SII's Apache sends text/html without a charset; the page's meta says it.
    res.writeHead(200, { 'content-type': 'text/html' }).end(readFileSync(join(FIXTURES, file)));
  }
  serve2025(circulares = 'circulares-2025.htm') {
    this.pages.set('/normativa_legislacion/circulares/2025/indcir2025.htm', circulares);
    this.pages.set('/normativa_legislacion/resoluciones/2025/res_ind2025.htm', 'resoluciones-2025.htm');
    this.pages.set('/noticias/', 'noticias.htm');
  }
}

interface Delivery {
  at: number;
  deliveryId: string | undefined;
  payload: WebhookPayload;
  accepted: boolean;
}

/** Odoo: verifies each request with verifyWebhook; `down` answers 503 (after verifying). */
class FakeOdoo {
  down = false;
  attempts: Delivery[] = [];
  rejected: string[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/dte/webhook/sii_change') {
        res.writeHead(404).end();
        return;
      }
      try {
        const v = verifyWebhook({ secret: SECRET, headers: req.headers, rawBody: Buffer.concat(chunks), now: clock() });
        this.attempts.push({ at: Date.now(), deliveryId: v.deliveryId, payload: v.payload, accepted: !this.down });
        res.writeHead(this.down ? 503 : 200, { 'content-type': 'application/json' }).end(this.down ? '{"error":"maintenance"}' : '{"ok":true}');
      } catch (e) {
        this.rejected.push((e as Error).message);
        res.writeHead(401).end();
      }
    });
  });
  url = '';
  get delivered(): Delivery[] {
    return this.attempts.filter((a) => a.accepted);
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const sii = new FakeSii();
const odoo = new FakeOdoo();
let user: string;
const tmp = mkdtempSync(join(tmpdir(), 'timbre-ai-monitor-'));

const monitorConfig = (): AppConfig['siiMonitor'] => ({
  baseUrl: sii.url,
  intervalMs: 0,
  odooWebhookUrl: `${odoo.url}/dte/webhook/sii_change`,
  webhookSecret: SECRET,
  notifyBackoffMs: 150,
  notifyMaxBackoffMs: 400,
  notifyPollMs: 40,
  siiHttp: { retries: 1, backoffMs: 5, timeoutMs: 3000 },
  now: clock,
});

async function start(config: Partial<AppConfig>) {
  const app = await buildApp({ jwtKey, ...config });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url };
}

async function call(url: string, method: string, path: string, token: string | null = user) {
  const res = await fetch(`${url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  sii.url = await listen(sii.server);
  odoo.url = await listen(odoo.server);
  user = await signToken({ sub: 'odoo', companies: [RUT], permissions: ['ai:use'] satisfies Permission[] }, jwtKey);
});
afterAll(async () => {
  await closeServer(sii.server);
  await closeServer(odoo.server);
  rmSync(tmp, { recursive: true, force: true });
});

describe('SII monitor service (SQLite file)', () => {
  const dbUrl = `sqlite:${join(tmp, 'ai.db')}`;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    sii.serve2025();
    ({ app, url } = await start({ databaseUrl: dbUrl, siiMonitor: monitorConfig() }));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('/ready reports the monitor database (public); /health answers', async () => {
    const r = await call(url, 'GET', '/ready', null);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ready', checks: { database: { ok: true, required: true } } });
    expect((await call(url, 'GET', '/health', null)).json).toEqual({ status: 'ok' });
  });

  it('auth: 401 without a token, 403 without ai:use', async () => {
    expect((await call(url, 'POST', '/api/ai/sii/monitor', null)).status).toBe(401);
    const reader = await signToken({ sub: 'x', companies: [RUT], permissions: ['dte:read'] }, jwtKey);
    const r = await call(url, 'GET', '/api/ai/sii/status', reader);
    expect(r.status).toBe(403);
    expect(r.type).toMatch(/^application\/problem\+json/);
  });

  it('first pass stores every item and notifies the relevant ones, signed', async () => {
    const r = await call(url, 'POST', '/api/ai/sii/monitor');
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('ok');
    expect(r.json.errors).toEqual([]);
    const keys = r.json.new_items.map((i: { tipo: string; numero: string }) => `${i.tipo}:${i.numero}`).sort();
    expect(keys).toEqual(
      ['circular:9', 'circular:7', 'circular:3', 'circular:1', 'resolucion:18', 'resolucion:6', 'noticia:200225noti01pcr', 'noticia:140225noti02jo', 'noticia:050225noti01ms', 'noticia:290125noti01aav'].sort(),
    );
    const c9 = r.json.new_items.find((i: { numero: string }) => i.numero === '9');
    expect(c9).toMatchObject({ tipo: 'circular', fecha: '2025-02-14', vigencia: '2025-04-01', relevante_dte: true, notificar: true, url: `${sii.url}/normativa_legislacion/circulares/2025/circu9.pdf` });
    const relevant = r.json.new_items.filter((i: { notificar: boolean }) => i.notificar).map((i: { numero: string }) => i.numero).sort();
    expect(relevant).toEqual(['18', '200225noti01pcr', '290125noti01aav', '3', '9'].sort());

    await until(() => odoo.delivered.length === 5);
    expect(odoo.rejected).toEqual([]);
    const got = odoo.delivered.map((d) => String(d.payload.numero)).sort();
    expect(got).toEqual(relevant);
    const d9 = odoo.delivered.find((d) => d.payload.numero === '9')!;
    expect(Object.keys(d9.payload).sort()).toEqual(['event', 'fecha', 'impacto', 'numero', 'prioridad', 'resumen', 'tipo', 'timestamp', 'titulo', 'url', 'vigencia'].sort());
    expect(d9.payload).toMatchObject({ event: 'sii.regulatory_change', tipo: 'circular', fecha: '2025-02-14', vigencia: '2025-04-01', titulo: 'Circular Nº 9 del 14 de Febrero del 2025' });
    expect(new Set(odoo.delivered.map((d) => d.deliveryId)).size).toBe(5);

    const s = await call(url, 'GET', '/api/ai/sii/status');
    expect(s.status).toBe(200);
    expect(s.json.last_run).toMatchObject({ status: 'ok', new_count: 10, trigger: 'manual', errors: [] });
    expect(s.json.counts).toMatchObject({ total: 10, relevantes: 5, notificadas: 5, pendientes: 0, por_tipo: { circular: 4, resolucion: 2, noticia: 4 } });
    expect(s.json.items).toHaveLength(10);
    // newest first
    expect(s.json.items[0]).toMatchObject({ numero: '18', fecha: '2025-02-21' });
    expect(s.json.items.filter((i: { notified: boolean }) => i.notified)).toHaveLength(5);
  });

  it('status filters: tipo, min_prioridad, limit; bad query → 400 naming the field', async () => {
    const s = await call(url, 'GET', '/api/ai/sii/status?tipo=circular&min_prioridad=8&limit=5');
    expect(s.json.items.map((i: { numero: string }) => i.numero).sort()).toEqual(['3', '9']);
    expect((await call(url, 'GET', '/api/ai/sii/status?limit=1')).json.items).toHaveLength(1);
    const bad = await call(url, 'GET', '/api/ai/sii/status?min_prioridad=11');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('min_prioridad');
  });

  it('second pass with the updated circulares page finds exactly the 2 new ones; nothing re-sent', async () => {
    sii.serve2025('circulares-2025-v2.htm');
    const r = await call(url, 'POST', '/api/ai/sii/monitor');
    expect(r.status).toBe(200);
    expect(r.json.new_items.map((i: { numero: string }) => i.numero).sort()).toEqual(['11', '14']);
    const c14 = r.json.new_items.find((i: { numero: string }) => i.numero === '14');
    expect(c14).toMatchObject({ relevante_dte: true, vigencia: '2025-07-01' });
    expect(r.json.new_items.find((i: { numero: string }) => i.numero === '11').notificar).toBe(false);
    await until(() => odoo.delivered.length === 6);
    await sleep(200);
    expect(odoo.delivered).toHaveLength(6);
    expect(odoo.delivered[5]?.payload.numero).toBe('14');
    // A third pass over the same pages: nothing new.
    expect((await call(url, 'POST', '/api/ai/sii/monitor')).json.new_items).toEqual([]);
  });

  it('a pass while one runs → 409', async () => {
    sii.delayMs = 300;
    try {
      const [a, b] = await Promise.all([call(url, 'POST', '/api/ai/sii/monitor'), sleep(50).then(() => call(url, 'POST', '/api/ai/sii/monitor'))]);
      expect(a.status).toBe(200);
      expect(b.status).toBe(409);
      expect(b.json.code).toBe('ERR_SII_MONITOR_BUSY');
    } finally {
      sii.delayMs = 0;
    }
  });

  it('one page with a changed layout → 200 partial naming the page; SII down → 503, run recorded as failed', async () => {
    sii.pages.set('/normativa_legislacion/circulares/2025/indcir2025.htm', 'circulares-2025-broken.htm');
    const p = await call(url, 'POST', '/api/ai/sii/monitor');
    expect(p.status).toBe(200);
    expect(p.json.status).toBe('partial');
    expect(p.json.errors).toEqual([expect.objectContaining({ code: 'ERR_SII_PAGE_LAYOUT', url: `${sii.url}/normativa_legislacion/circulares/2025/indcir2025.htm` })]);

    sii.down = true;
    try {
      const r = await call(url, 'POST', '/api/ai/sii/monitor');
      expect(r.status).toBe(503);
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(r.json).toMatchObject({ status: 503, code: 'ERR_SII_UNAVAILABLE' });
      expect(r.json.run_errors).toHaveLength(3);
      expect(r.json.run_errors[0]).toMatchObject({ code: 'ERR_SII_UNAVAILABLE', url: expect.stringContaining(sii.url) });
      const s = await call(url, 'GET', '/api/ai/sii/status');
      expect(s.json.last_run).toMatchObject({ run_id: r.json.run_id, status: 'failed' });
      expect(s.json.last_run.errors[0].code).toBe('ERR_SII_UNAVAILABLE');
      expect(s.json.counts.total).toBe(12);
    } finally {
      sii.down = false;
      sii.serve2025('circulares-2025-v2.htm');
    }
  });

  it('Odoo down → retried with backoff, delivered once when up, same X-Timbre-Delivery on every attempt', async () => {
    odoo.down = true;
    const before = odoo.attempts.length;
    sii.pages.set('/normativa_legislacion/resoluciones/2025/res_ind2025.htm', 'resoluciones-2024.htm'); // stands for an updated 2025 index
    // resoluciones-2024.htm lists 2024 numbers: under the 2025 index they are new 2025 items.
    const r = await call(url, 'POST', '/api/ai/sii/monitor');
    expect(r.status).toBe(200);
    const notify = r.json.new_items.filter((i: { notificar: boolean }) => i.notificar).map((i: { numero: string }) => i.numero).sort();
    expect(notify).toEqual(['130', '22', '97']);
    await until(() => odoo.attempts.length - before >= 6, 8000); // ≥ 2 attempts each
    const s = await call(url, 'GET', '/api/ai/sii/status?tipo=resolucion&min_prioridad=8');
    const pending = s.json.items.filter((i: { numero: string }) => ['130', '22', '97'].includes(i.numero));
    expect(pending.every((i: { notified: boolean; intentos_notificacion: number; ultimo_error: string }) => !i.notified && i.intentos_notificacion >= 2 && i.ultimo_error === 'HTTP 503')).toBe(true);
    const failed = odoo.attempts.slice(before);
    const ids = new Set(failed.map((a) => a.deliveryId));
    expect(ids.size).toBe(3);
    // Backoff: a publication's attempts are spaced by ≥ 150 ms (then 300, capped at 400), not by the 40 ms poll.
    for (const id of ids) {
      const times = failed.filter((a) => a.deliveryId === id).map((a) => a.at);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(140);
    }

    odoo.down = false;
    await until(() => odoo.delivered.length === 9, 8000);
    await sleep(300);
    expect(odoo.delivered).toHaveLength(9);
    for (const id of ids) expect(odoo.delivered.filter((d) => d.deliveryId === id)).toHaveLength(1);
    const counts = (await call(url, 'GET', '/api/ai/sii/status')).json.counts;
    expect(counts).toMatchObject({ notificadas: 9, pendientes: 0 });
  });

  it('restart on the same file: pending deliveries go out, delivered ones are not re-sent, nothing is new', async () => {
    // Leave one pending: Odoo down while a new relevant item arrives, then stop the service.
    odoo.down = true;
    sii.pages.set('/noticias/', 'circulares-2024.htm'); // no news links: a layout error for noticias
    sii.pages.set('/normativa_legislacion/circulares/2025/indcir2025.htm', 'circulares-2024.htm'); // 2024 numbers as new 2025 ones
    const r = await call(url, 'POST', '/api/ai/sii/monitor');
    expect(r.json.status).toBe('partial');
    const wanted = r.json.new_items.filter((i: { notificar: boolean }) => i.notificar).map((i: { numero: string }) => i.numero).sort();
    expect(wanted).toEqual(['41', '58', '61']);
    await until(() => odoo.attempts.filter((a) => !a.accepted && wanted.includes(String(a.payload.numero))).length >= 3);
    await app.close();

    odoo.down = false;
    sii.serve2025('circulares-2025-v2.htm');
    sii.pages.set('/normativa_legislacion/circulares/2025/indcir2025.htm', 'circulares-2024.htm');
    sii.pages.set('/normativa_legislacion/resoluciones/2025/res_ind2025.htm', 'resoluciones-2024.htm');
    const deliveredBefore = odoo.delivered.length;
    ({ app, url } = await start({ databaseUrl: dbUrl, siiMonitor: monitorConfig() }));
    await until(() => odoo.delivered.length === deliveredBefore + 3, 8000);
    await sleep(300);
    expect(odoo.delivered.slice(deliveredBefore).map((d) => String(d.payload.numero)).sort()).toEqual(wanted);
    // Every publication reached Odoo exactly once overall.
    const perNumber = new Map<string, number>();
    for (const d of odoo.delivered) perNumber.set(`${d.payload.tipo}:${d.payload.numero}`, (perNumber.get(`${d.payload.tipo}:${d.payload.numero}`) ?? 0) + 1);
    expect([...perNumber.values()].every((n) => n === 1)).toBe(true);
    expect(perNumber.size).toBe(12);
    const again = await call(url, 'POST', '/api/ai/sii/monitor');
    expect(again.json.new_items).toEqual([]);
    expect((await call(url, 'GET', '/api/ai/sii/status')).json.counts).toMatchObject({ notificadas: 12, pendientes: 0 });
  });
});

describe('SII monitor service: configuration', () => {
  it('off → 503 ERR_SII_MONITOR_DISABLED', async () => {
    const { app, url } = await start({});
    try {
      const r = await call(url, 'GET', '/api/ai/sii/status');
      expect(r.status).toBe(503);
      expect(r.json.code).toBe('ERR_SII_MONITOR_DISABLED');
      // Nothing to depend on: ready with no checks.
      expect((await call(url, 'GET', '/ready', null)).json).toEqual({ status: 'ready', checks: {} });
    } finally {
      await app.close();
    }
  });

  it('environment: defaults, Odoo URL derivation, bad interval', () => {
    const dir = join(tmp, 'env');
    const c = siiMonitorFromEnv({ TIMBRE_AI_DATABASE_URL: `sqlite:${dir}/x.db`, ODOO_WEBHOOK_URL: 'http://odoo:8069/dte/webhook/status_update', TIMBRE_AI_WEBHOOK_SECRET: 's' });
    expect(c.siiMonitor).toMatchObject({ baseUrl: 'https://www.sii.cl', odooWebhookUrl: 'http://odoo:8069/dte/webhook/sii_change', webhookSecret: 's' });
    expect(siiChangeUrl('http://odoo:8069')).toBe('http://odoo:8069/dte/webhook/sii_change');
    expect(siiMonitorFromEnv({ TIMBRE_SII_MONITOR_INTERVAL_MS: 'off', TIMBRE_AI_DATABASE_URL: `sqlite:${dir}/x.db` }).siiMonitor).toBe(false);
    expect(() => siiMonitorFromEnv({ TIMBRE_SII_MONITOR_INTERVAL_MS: '-5', TIMBRE_AI_DATABASE_URL: `sqlite:${dir}/x.db` })).toThrow(/TIMBRE_SII_MONITOR_INTERVAL_MS/);
  });

  it('the scheduler runs a first pass shortly after start, then every interval', async () => {
    sii.serve2025();
    const { app, url } = await start({ databaseUrl: `sqlite:${join(tmp, 'sched.db')}`, siiMonitor: { ...(monitorConfig() as object), intervalMs: 150, firstRunDelayMs: 30, odooWebhookUrl: undefined } });
    try {
      await until(async () => (await call(url, 'GET', '/api/ai/sii/status')).json.last_run?.status === 'ok');
      const s = await call(url, 'GET', '/api/ai/sii/status');
      expect(s.json.last_run.trigger).toBe('schedule');
      expect(s.json.counts.total).toBe(10);
      expect(s.json.next_run_at).toEqual(expect.any(String));
      const first = s.json.last_run.run_id;
      await until(async () => (await call(url, 'GET', '/api/ai/sii/status')).json.last_run.run_id > first);
    } finally {
      await app.close();
    }
  });
});

async function pgSchema(): Promise<{ schema: string; drop(): Promise<void> } | undefined> {
  const admin = openAiDb(PG_URL);
  try {
    const schema = `test_ai_monitor_${Math.random().toString(36).slice(2, 10)}`;
    await sql.raw(`CREATE SCHEMA ${schema}`).execute(admin);
    return {
      schema,
      drop: async () => {
        await sql.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).execute(admin);
        await admin.destroy();
      },
    };
  } catch {
    await admin.destroy();
    return undefined;
  }
}

describe('SII monitor service (PostgreSQL)', () => {
  it('happy path: stores, notifies, second pass finds the 2 new ones', async (ctx) => {
    const pg = await pgSchema();
    if (!pg) ctx.skip();
    const before = odoo.delivered.length;
    sii.serve2025();
    const { app, url } = await start({ databaseUrl: PG_URL, databaseSearchPath: pg!.schema, siiMonitor: monitorConfig() });
    try {
      const r = await call(url, 'POST', '/api/ai/sii/monitor');
      expect(r.status).toBe(200);
      expect(r.json.new_items).toHaveLength(10);
      await until(() => odoo.delivered.length === before + 5);
      sii.serve2025('circulares-2025-v2.htm');
      const r2 = await call(url, 'POST', '/api/ai/sii/monitor');
      expect(r2.json.new_items.map((i: { numero: string }) => i.numero).sort()).toEqual(['11', '14']);
      await until(() => odoo.delivered.length === before + 6);
      const s = await call(url, 'GET', '/api/ai/sii/status?limit=3');
      expect(s.json.items).toHaveLength(3);
      expect(s.json.counts).toMatchObject({ total: 12, relevantes: 6, notificadas: 6, pendientes: 0 });
    } finally {
      await app.close();
      await pg!.drop();
    }
  });
});

describe('SII monitor service: a run cut short by a crash', () => {
  it('a run left "running" by a dead process is closed as failed on start', async () => {
    const dbUrl = `sqlite:${join(tmp, 'crash.db')}`;
    const first = await start({ databaseUrl: dbUrl, siiMonitor: { ...(monitorConfig() as object), odooWebhookUrl: undefined } });
    await first.app.close();
    // What a process killed mid-pass leaves behind.
    const db = openAiDb(dbUrl);
    await db.insertInto('sii_monitor_run').values({ trigger: 'schedule', started_at: clock().toISOString(), status: 'running' }).execute();
    await db.destroy();
    const { app, url } = await start({ databaseUrl: dbUrl, siiMonitor: { ...(monitorConfig() as object), odooWebhookUrl: undefined } });
    try {
      const s = await call(url, 'GET', '/api/ai/sii/status');
      expect(s.json.running).toBe(false);
      expect(s.json.last_run).toMatchObject({ status: 'failed', errors: [expect.objectContaining({ code: 'ERR_RUN_ABANDONED' })] });
    } finally {
      await app.close();
    }
  });
});

describe('SII monitor service: resumen enricher hook', () => {
  it('an enricher rewrites resumen; one that fails leaves the deterministic resumen', async () => {
    sii.serve2025();
    const enricher = {
      enrich: async (item: { numero: string; materia?: string }) => {
        if (item.numero === '9') throw new Error('model unavailable');
        return `Resumen enriquecido de ${item.numero}`;
      },
    };
    const { app, url } = await start({ databaseUrl: `sqlite:${join(tmp, 'enrich.db')}`, siiMonitor: { ...(monitorConfig() as object), odooWebhookUrl: undefined, enricher } });
    try {
      const r = await call(url, 'POST', '/api/ai/sii/monitor');
      const by = new Map<string, { resumen: string }>(r.json.new_items.map((i: { numero: string; resumen: string }) => [i.numero, i]));
      expect(by.get('3')?.resumen).toBe('Resumen enriquecido de 3');
      expect(by.get('9')?.resumen).toMatch(/^Establece plazos y sanciones por el no envío de documentos tributarios electrónicos/);
    } finally {
      await app.close();
    }
  });
});
