/**
 * Crash tests: the real service process (`node services/dte/dist/server.js`) is killed with SIGKILL
 * right after each persisted step of a document (TIMBRE_TEST_CRASH_AT), restarted on the same
 * database, and must finish the document on its own (recovery sweep), with its original folio,
 * uploaded to the SII once, and answer the client's retry with that same document.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '@timbre/auth';
import { generateFixtures } from '@timbre/dte';
import { createSimulator, type Simulator } from '@timbre/sii-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUT, doc33 } from './helper.js';
import { PG_URL, pgSchema, sleep, startService, type ServiceProcess as Service } from './infra.js';

const POINTS = ['draft', 'signed', 'enveloped', 'uploading', 'uploaded', 'sent'] as const;

interface SimEnvio {
  trackId: string;
  intentos: number;
  documentos?: unknown;
}

const backends = [
  { name: 'SQLite', make: async (dir: string) => ({ env: { DATABASE_URL: `sqlite:${join(dir, 'timbre.db')}` }, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    make: async () => {
      const s = await pgSchema('test_crash');
      return s && { env: { DATABASE_URL: PG_URL, DATABASE_SCHEMA: s.schema }, drop: s.drop };
    },
  },
];

for (const backend of backends) {
  describe(`crash at each persisted step, then restart (${backend.name})`, () => {
    let sim: Simulator;
    let simUrl: string;
    const fixtures = generateFixtures({ tipos: [33], p12Password: 'Pw-crash-3xQ!' });
    beforeAll(async () => {
      sim = createSimulator({ statusDelayMs: 0 });
      simUrl = await sim.start(0);
    });
    afterAll(async () => sim.close());

    it.each(POINTS)('killed after "%s": finished after the restart with its folio, uploaded once', async (point) => {
      const dir = mkdtempSync(join(tmpdir(), 'timbre-crash-'));
      const db = await backend.make(dir);
      if (db === undefined) {
        console.warn(`PostgreSQL at ${PG_URL} is not reachable: skipped`);
        return;
      }
      await fetch(`${simUrl}/sim/reset`, { method: 'POST' });
      const jwtSecret = randomBytes(32).toString('hex');
      const base = {
        ...db.env,
        TIMBRE_MASTER_KEY: randomBytes(32).toString('hex'),
        TIMBRE_JWT_SECRET: jwtSecret,
        SII_ENV: 'sim',
        SII_URL: simUrl,
        TIMBRE_LEASE_MS: '1500',
        TIMBRE_RECOVERY_INTERVAL_MS: '250',
      };
      const admin = await signToken({ sub: 'crash-test', companies: [RUT], permissions: ['admin'] }, new Uint8Array(Buffer.from(jwtSecret, 'hex')));
      const call = async (svc: Service, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(`${svc.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
          ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
        });
        const text = await res.text();
        return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} }; // eslint-disable-line @typescript-eslint/no-explicit-any
      };
      const services: Service[] = [];
      try {
        // 1. A service that dies at `point`; provision it first.
        const first = await startService({ ...base, TIMBRE_TEST_CRASH_AT: point });
        services.push(first);
        expect((await call(first, 'POST', '/api/v1/companies', { rut: RUT, razon_social: 'EMPRESA DEMO TIMBRE SPA', nro_resol: 0, fch_resol: '2026-01-15' })).status).toBe(201);
        expect((await call(first, 'POST', '/api/v1/dte/certificate/upload', { rut_company: RUT, p12_base64: fixtures.p12.toString('base64'), password: fixtures.p12Password })).status).toBe(201);
        const caf = await fetch(`${simUrl}/sim/caf`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rutEmisor: RUT, tipoDte: 33, desde: 1, hasta: 50 }) });
        const up = await fetch(`${first.url}/api/v1/dte/caf/upload`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/xml' }, body: Buffer.from(await caf.arrayBuffer()) });
        expect(up.status).toBe(201);

        const key = { 'idempotency-key': `crash-${point}` };
        await expect(call(first, 'POST', '/api/v1/dte/generate', doc33(), key)).rejects.toThrow(); // the connection dies with the process
        expect(await first.exited).toBe('SIGKILL');

        // 2. Restart on the same database, no fault: the recovery sweep finishes the document.
        const second = await startService(base);
        services.push(second);
        let doc: Record<string, unknown> | undefined;
        for (let i = 0; i < 100; i++) {
          const list = await call(second, 'GET', `/api/v1/dte?rut_emisor=${RUT}`);
          expect(list.json.items.length).toBeLessThanOrEqual(1);
          doc = list.json.items[0] as Record<string, unknown> | undefined;
          if (doc?.status === 'sent') break;
          await sleep(100);
        }
        expect(doc, second.log()).toMatchObject({ folio: 1, status: 'sent' });

        // 3. The client's retry with its key gets that document.
        const retry = await call(second, 'POST', '/api/v1/dte/generate', doc33(), key);
        expect(retry.status).toBe(200);
        expect(retry.json).toMatchObject({ id: doc?.id, folio: 1, status: 'sent' });

        // 4. The SII accepted it, and holds exactly one envío (one upload; a re-upload of the same
        //    bytes would show as intentos 2).
        const status = await call(second, 'GET', `/api/v1/dte/status?rut_emisor=${RUT}&dte_type=33&folio=1`);
        expect(status.json.status).toBe('accepted');
        const envios = (await (await fetch(`${simUrl}/sim/envios`)).json()) as SimEnvio[];
        expect(envios).toHaveLength(1);
        expect(envios[0]?.intentos).toBe(1);

        // 5. The next document gets folio 2: no folio lost, none handed out twice.
        const next = await call(second, 'POST', '/api/v1/dte/generate', doc33());
        expect(next.json).toMatchObject({ folio: 2, status: 'sent' });
        const all = await call(second, 'GET', `/api/v1/dte?rut_emisor=${RUT}`);
        expect((all.json.items as Array<{ folio: number }>).map((d) => d.folio).sort()).toEqual([1, 2]);
      } finally {
        for (const s of services) await s.stop();
        await db.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
}
