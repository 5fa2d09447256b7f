/**
 * "A receiver down for a while gets every event once it is back, in order per document": events of
 * three documents interleaved, the receiver answering 503 (or not listening at all) for a while; once
 * it is back every event arrives exactly once and each document's events arrive in order. On SQLite
 * and, when available, PostgreSQL.
 */
import { listDeliveries, recordEvent } from '@timbre/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUT, call, setup, type Ctx } from './helper.js';
import { PG_URL, pgSchema } from './infra.js';
import { Receiver, freePort, sleep, waitFor, type ReceivedRequest } from './webhooks-receiver.js';

const DOCS = ['dte:101', 'dte:102', 'dte:103'];
const PER_DOC = 10;

/** 30 events: document 1, 2, 3, 1, 2, 3 … each with its sequence number. */
async function recordInterleaved(ctx: Ctx, tag: string): Promise<void> {
  for (let seq = 1; seq <= PER_DOC; seq++) {
    for (const [i, doc] of DOCS.entries()) {
      await recordEvent(ctx.app.db, {
        rutCompany: RUT,
        eventType: 'dte.status_changed',
        aggregateKey: `${doc}:${tag}`,
        payload: { dte_type: '33', folio: 101 + i, track_id: '555', rut_emisor: RUT, old_status: `s${seq - 1}`, new_status: `s${seq}`, status_display: tag, seq },
      });
    }
  }
}

function checkExactlyOnceInOrder(accepted: ReceivedRequest[]): void {
  expect(accepted).toHaveLength(DOCS.length * PER_DOC);
  const ids = accepted.map((r) => r.headers['x-timbre-delivery']);
  expect(new Set(ids).size).toBe(ids.length); // no delivery accepted twice
  for (const folio of [101, 102, 103]) {
    const seqs = accepted.map((r) => r.verified!.payload).filter((p) => p.folio === folio).map((p) => p.seq);
    expect(seqs).toEqual(Array.from({ length: PER_DOC }, (_, k) => k + 1));
  }
}

const databases = [
  { name: 'SQLite', make: async () => ({ opts: {}, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    make: async () => {
      const s = await pgSchema('test_webhooks');
      return s ? { opts: { databaseUrl: PG_URL, searchPath: s.schema }, drop: s.drop } : undefined;
    },
  },
];

for (const database of databases) {
  describe(`webhooks after an outage, on ${database.name}`, () => {
    let ctx: Ctx | undefined;
    let drop: () => Promise<void> = async () => {};
    const receiver = new Receiver();

    beforeAll(async () => {
      const made = await database.make();
      if (!made) return;
      drop = made.drop;
      await receiver.start();
      ctx = await setup({ ...made.opts, config: { webhooks: { intervalMs: 40, retryBaseMs: 25, retryMaxMs: 150, maxAttempts: 1000, timeoutMs: 3_000, alertsIntervalMs: false } } });
      const c = await call(ctx, 'POST', '/api/v1/companies', { body: { rut: RUT, razon_social: 'EMPRESA DEMO TIMBRE SPA', nro_resol: 0, fch_resol: '2026-01-15' } });
      if (c.status !== 201) throw new Error(c.text);
    });
    afterAll(async () => {
      await ctx?.close();
      await receiver.stop();
      await drop();
    });

    const subscribe = async (url: string, path: string) => {
      const r = await call(ctx!, 'POST', '/api/v1/webhooks/subscriptions', { body: { rut_company: RUT, url: `${url}${path}`, events: ['dte.status_changed'] } });
      expect(r.status, r.text).toBe(201);
      return { id: r.json.id as number, secret: r.json.secret as string };
    };

    it('receiver answering 503 for a while: every event once it is back, exactly once, in order per document', async (t) => {
      if (!ctx) return t.skip('PostgreSQL is not available');
      const path = '/dte/webhook/status_update';
      const { id: subId, secret } = await subscribe(receiver.url, path);
      receiver.secrets.set(path, secret);
      receiver.answers.set(path, 503);
      const started = Date.now();
      await recordInterleaved(ctx, '503');
      await waitFor(() => receiver.to(path).length >= 12, 'failed attempts while the receiver is down');
      await sleep(Math.max(0, 800 - (Date.now() - started)));
      expect(receiver.accepted(path)).toHaveLength(0);
      // only the head of each document is tried while it fails: never a later event of the same document
      const whileDown = receiver.to(path).map((r) => r.verified!.payload.seq);
      expect(new Set(whileDown)).toEqual(new Set([1]));

      receiver.answers.set(path, 200);
      await waitFor(() => receiver.accepted(path).length === DOCS.length * PER_DOC, 'every event after the outage');
      await sleep(400); // nothing is sent again afterwards
      checkExactlyOnceInOrder(receiver.accepted(path));
      expect(receiver.refused()).toEqual([]);

      const rows = await listDeliveries(ctx.app.db, { rutCompany: RUT, subscriptionId: subId, limit: 500 });
      expect(rows).toHaveLength(DOCS.length * PER_DOC);
      expect(rows.every((r) => r.status === 'delivered')).toBe(true);
      // the heads were retried (attempts > 1); the rest went through at the first attempt
      expect(rows.filter((r) => r.attempts > 1).map((r) => (r.payload as { seq: number }).seq)).toEqual([1, 1, 1]);
      expect((await call(ctx, 'DELETE', `/api/v1/webhooks/subscriptions/${subId}`)).status).toBe(204);
    });

    it('receiver not listening for a while: every event once it is back, exactly once, in order per document', async (t) => {
      if (!ctx) return t.skip('PostgreSQL is not available');
      const down = new Receiver();
      down.port = await freePort();
      const path = '/dte/webhook/status_update';
      const { id: subId, secret } = await subscribe(down.url, path);
      down.secrets.set(path, secret);
      await recordInterleaved(ctx, 'refused');
      await waitFor(async () => (await listDeliveries(ctx!.app.db, { rutCompany: RUT, subscriptionId: subId, limit: 500 })).some((r) => r.attempts >= 3), 'connection failures');
      const failing = await listDeliveries(ctx.app.db, { rutCompany: RUT, subscriptionId: subId, limit: 500 });
      expect(failing.every((r) => r.status === 'pending')).toBe(true);
      expect(failing.find((r) => r.attempts > 0)?.last_error).toMatch(/fetch failed|ECONNREFUSED/);

      await down.start(); // same port: the receiver is back
      try {
        await waitFor(() => down.accepted(path).length === DOCS.length * PER_DOC, 'every event after the receiver came back');
        await sleep(400);
        checkExactlyOnceInOrder(down.accepted(path));
        expect(down.refused()).toEqual([]);
        const rows = await listDeliveries(ctx.app.db, { rutCompany: RUT, subscriptionId: subId, limit: 500 });
        expect(rows.every((r) => r.status === 'delivered')).toBe(true);
      } finally {
        await down.stop();
      }
    });
  });
}
