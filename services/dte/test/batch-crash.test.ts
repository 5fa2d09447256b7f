/**
 * The worker killed mid-batch: the real service process (dist/server.js, batches on RabbitMQ,
 * documents on PostgreSQL) is SIGKILLed while it is sending a 300-document batch, restarted, and the
 * batch must end with every document accepted, each in exactly one envío, folios 1..300.
 */
import { randomBytes } from 'node:crypto';
import { signToken } from '@timbre/auth';
import { generateFixtures } from '@timbre/dte';
import { createSimulator, type Simulator } from '@timbre/sii-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUT, doc33 } from './helper.js';
import { simDocuments, waitBatch } from './batch-helper.js';
import { AMQP_URL, PG_URL, amqpAvailable, deleteBatchQueues, pgAdmin, pgAvailable, startService, type ServiceProcess as Service } from './infra.js';

const ok = (await pgAvailable()) && (await amqpAvailable());

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
    await deleteBatchQueues(prefix);
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
      fetch(`${svc.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': type }, body: typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body) });

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
      for (const s of services) await s.stop();
    }
  }, 240_000);
});
