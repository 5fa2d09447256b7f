/**
 * The worker killed mid-batch: the real service process (dist/server.js, batches on RabbitMQ,
 * documents on PostgreSQL) is SIGKILLed while it is sending a 300-document batch, restarted, and the
 * batch must end with every document accepted, each in exactly one envío, folios 1..300.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { signToken } from '@timbre/auth';
import { generateFixtures } from '@timbre/dte';
import { createSimulator, type Simulator } from '@timbre/sii-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUT, doc33 } from './helper.js';
import { simDocuments, waitBatch } from './batch-helper.js';

const SERVER = fileURLToPath(new URL('../dist/server.js', import.meta.url));
const PG_URL = process.env.TIMBRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const AMQP_URL = process.env.TIMBRE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

async function available(): Promise<boolean> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    const { connect } = await import('amqplib');
    await (await connect(AMQP_URL)).close();
    return true;
  } catch {
    return false;
  }
}

async function pgAdmin(sqlText: string): Promise<void> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(sqlText);
  await c.end();
}

interface Service {
  url: string;
  child: ChildProcess;
  exited: Promise<unknown>;
  log(): string;
}

async function startService(env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, [SERVER], { env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`service exited at start: ${out}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, child, exited, log: () => out };
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`service did not start: ${out}`);
}

const ok = await available();

describe.skipIf(!ok)('the worker killed mid-batch (RabbitMQ + PostgreSQL, real process)', () => {
  let sim: Simulator;
  let simUrl: string;
  const schema = `test_bcrash_${Math.random().toString(36).slice(2, 10)}`;
  const prefix = `timbre-crash-${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    sim = createSimulator({ statusDelayMs: 0 });
    simUrl = await sim.start(0);
    await pgAdmin(`CREATE SCHEMA ${schema}`);
  });
  afterAll(async () => {
    await sim.close();
    await pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    const { connect } = await import('amqplib');
    const c = await connect(AMQP_URL);
    const ch = await c.createChannel();
    for (const q of ['dte.batch.prepare', 'dte.batch.send']) {
      await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
      await ch.deleteQueue(`${prefix}.${q}.dead`).catch(() => undefined);
    }
    await c.close().catch(() => undefined);
  });

  it('SIGKILL while sending, restart: all 300 accepted, each in exactly one envío, folios 1..300', async () => {
    const fixtures = generateFixtures({ tipos: [33], p12Password: 'Pw-bcrash-1!' });
    const jwtSecret = randomBytes(32).toString('hex');
    const env = {
      DATABASE_URL: PG_URL,
      DATABASE_SCHEMA: schema,
      QUEUE_URL: AMQP_URL,
      QUEUE_PREFIX: prefix,
      TIMBRE_MASTER_KEY: randomBytes(32).toString('hex'),
      TIMBRE_JWT_SECRET: jwtSecret,
      SII_ENV: 'sim',
      SII_URL: simUrl,
      TIMBRE_ENVELOPE_SIZE: '20',
      TIMBRE_LEASE_MS: '3000',
      TIMBRE_RETRY_BASE_MS: '200',
      TIMBRE_RECOVERY_INTERVAL_MS: '1000',
      TIMBRE_POLL_INTERVAL_MS: '200',
      TIMBRE_POLL_BASE_MS: '200',
      TIMBRE_WEBHOOKS: 'off',
    };
    const admin = await signToken({ sub: 'batch-crash', companies: [RUT], permissions: ['admin'] }, new Uint8Array(Buffer.from(jwtSecret, 'hex')));
    const post = (svc: Service, path: string, body: unknown, type = 'application/json') =>
      fetch(`${svc.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': type }, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });

    // Slow uploads a little, so the kill lands mid-batch.
    await fetch(`${simUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'latency', path: 'DTEUpload', latencyMs: 150 }) });
    const first = await startService(env);
    const services = [first];
    try {
      expect((await post(first, '/api/v1/companies', { rut: RUT, razon_social: 'EMPRESA DEMO TIMBRE SPA', nro_resol: 0, fch_resol: '2026-01-15' })).status).toBe(201);
      expect((await post(first, '/api/v1/dte/certificate/upload', { rut_company: RUT, p12_base64: fixtures.p12.toString('base64'), password: fixtures.p12Password })).status).toBe(201);
      const caf = await fetch(`${simUrl}/sim/caf`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rutEmisor: RUT, tipoDte: 33, desde: 1, hasta: 400 }) });
      expect((await post(first, '/api/v1/dte/caf/upload', Buffer.from(await caf.arrayBuffer()), 'application/xml')).status).toBe(201);

      const r = await post(first, '/api/v1/dte/batch', { documents: Array.from({ length: 300 }, () => doc33()) });
      expect(r.status).toBe(202);
      const { batch_id: batchId } = (await r.json()) as { batch_id: string };
      const target = { url: first.url, token: admin };
      await waitBatch(target, batchId, (p) => (p.counts.sent ?? 0) + (p.counts.accepted ?? 0) >= 60, 60_000);
      first.child.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      const mid = (await simDocuments(simUrl)).count.size;
      expect(mid).toBeLessThan(300); // it really died mid-batch

      const second = await startService(env);
      services.push(second);
      const done = await waitBatch({ url: second.url, token: admin }, batchId, (p) => p.documents.every((d) => d.status === 'accepted'), 120_000);
      expect(done.documents.map((d) => d.folio)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      const seen = await simDocuments(simUrl);
      for (let f = 1; f <= 300; f++) expect(seen.count.get(`33/${f}`), `folio ${f}`).toBe(1);
      expect(seen.duplicates).toEqual([]);
    } finally {
      for (const s of services) {
        if (s.child.exitCode === null && s.child.signalCode === null) {
          s.child.kill('SIGTERM');
          await s.exited;
        }
      }
    }
  }, 240_000);
});
