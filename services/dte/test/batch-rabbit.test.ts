/**
 * Batches through the real RabbitMQ on the real PostgreSQL, both reached through TCP proxies so the
 * tests can cut them: 1,000 documents end to end, then faults mid-batch — the RabbitMQ connection
 * dropped, the simulator answering 5xx, timing out and losing answers, the database unreachable for a
 * while. Each ends with every document accepted, in exactly one envío, no folio duplicated or skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUT, call, doc33, provision, setup, type Ctx } from './helper.js';
import { simDocuments, waitBatch, type Progress } from './batch-helper.js';
import { AMQP_URL, PG_URL, amqpAvailable, deleteBatchQueues, pgAdmin, pgAvailable, sleep } from './infra.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

async function reachable(): Promise<boolean> {
  return (await pgAvailable()) && (await amqpAvailable());
}

const fault = (ctx: Ctx, rule: Record<string, unknown>) =>
  fetch(`${ctx.simUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) }).then((r) => {
    if (!r.ok) throw new Error(`fault: ${r.status}`);
  });

const ok = await reachable();

describe.skipIf(!ok)('batches through RabbitMQ on PostgreSQL, with faults', () => {
  let ctx: Ctx;
  let pgProxy: TcpProxy;
  let amqpProxy: TcpProxy;
  const schema = `test_batch_${Math.random().toString(36).slice(2, 10)}`;
  const queueName = `timbre-test-${Math.random().toString(36).slice(2, 8)}`;
  let nextFolio = 1;

  beforeAll(async () => {
    await pgAdmin(`CREATE SCHEMA ${schema}`);
    const pgUrl = new URL(PG_URL);
    pgProxy = await startTcpProxy({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
    const amqpUrl = new URL(AMQP_URL);
    amqpProxy = await startTcpProxy({ host: amqpUrl.hostname, port: Number(amqpUrl.port || 5672) });
    pgUrl.port = String(pgProxy.port);
    amqpUrl.port = String(amqpProxy.port);
    ctx = await setup({
      databaseUrl: pgUrl.toString(),
      searchPath: schema,
      config: { queueUrl: amqpUrl.toString(), queueName, batch: { envelopeSize: 50, sendConcurrency: 2 } },
      pipeline: { retryBaseMs: 200, recoveryIntervalMs: 1_000, deliverStatusWaitMs: 2_000, poll: { intervalMs: 200, baseMs: 200, maxMs: 1_000, batch: 500, perCompany: 100 } },
    });
    await provision(ctx, 3_000);
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    await amqpProxy?.close();
    await pgProxy?.close();
    await pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await deleteBatchQueues(queueName); // work and dead queues; retry buckets expire on their own
  }, 60_000);

  /** Send `n` facturas as one batch; run `during` while it runs; expect every one accepted once. */
  async function runBatch(n: number, during?: (batchId: string) => Promise<void>): Promise<Progress> {
    const before = await simDocuments(ctx.simUrl);
    const r = await call(ctx, 'POST', '/api/v1/dte/batch', { body: { documents: Array.from({ length: n }, () => doc33()) } });
    expect(r.status, r.text).toBe(202);
    const batchId = r.json.batch_id as string;
    if (during) await during(batchId);
    const done = await waitBatch(ctx, batchId, (p) => p.documents.every((d) => d.status === 'accepted'), 120_000);

    const folios = done.documents.map((d) => d.folio);
    expect(folios).toEqual(Array.from({ length: n }, (_, i) => nextFolio + i)); // in order, none skipped
    const after = await simDocuments(ctx.simUrl);
    for (let f = nextFolio; f < nextFolio + n; f++) {
      expect(after.count.get(`33/${f}`), `folio ${f}`).toBe(1); // in exactly one envío
      expect(after.accepted.has(`33/${f}`)).toBe(true);
    }
    expect(after.duplicates).toEqual(before.duplicates); // the SII never saw a document twice
    nextFolio += n;
    return done;
  }

  it('1,000 documents: accepted by the simulator, 1,000 distinct consecutive folios, each uploaded once', async () => {
    const started = Date.now();
    const done = await runBatch(1_000);
    expect(new Set(done.documents.map((d) => d.id)).size).toBe(1_000);
    console.log(`[batch] 1,000 documents accepted in ${Date.now() - started} ms through RabbitMQ on PostgreSQL`);
  }, 180_000);

  it('the RabbitMQ connection dropped mid-batch (twice)', async () => {
    await runBatch(300, async (batchId) => {
      await waitBatch(ctx, batchId, (p) => (p.counts.sent ?? 0) + (p.counts.accepted ?? 0) >= 50, 60_000);
      amqpProxy.drop();
      await sleep(300);
      amqpProxy.drop();
    });
  }, 180_000);

  it('the simulator answering 5xx, timing out and losing answers', async () => {
    await fault(ctx, { kind: 'http-error', status: 503, path: 'DTEUpload', count: 3 });
    await fault(ctx, { kind: 'timeout', path: 'DTEUpload', holdMs: 1_500, count: 1 });
    await fault(ctx, { kind: 'drop-response', path: 'DTEUpload', count: 2 });
    await fault(ctx, { kind: 'http-error', status: 502, path: 'QueryEstUp', count: 3 });
    await runBatch(300);
    const left = (await (await fetch(`${ctx.simUrl}/sim/faults`)).json()) as unknown[];
    expect(left).toEqual([]); // every fault was hit
  }, 180_000);

  it('the database unreachable for a while mid-batch', async () => {
    await runBatch(300, async (batchId) => {
      await waitBatch(ctx, batchId, (p) => (p.counts.sent ?? 0) + (p.counts.accepted ?? 0) >= 50, 60_000);
      pgProxy.pause();
      await sleep(2_000);
      pgProxy.resume();
    });
    const ready = await call(ctx, 'GET', '/ready');
    expect(ready.status).toBe(200);
  }, 180_000);

  it('the list agrees: every document of the company stored once, none left unfinished', async () => {
    const seen = new Map<number, number>();
    let before: number | null = null;
    for (;;) {
      const p = await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&dte_type=33&limit=500${before ? `&before=${before}` : ''}`);
      for (const d of p.json.items as Array<{ folio: number; status: string }>) {
        seen.set(d.folio, (seen.get(d.folio) ?? 0) + 1);
        expect(d.status).toBe('accepted');
      }
      before = p.json.next_before;
      if (!before) break;
    }
    expect(seen.size).toBe(nextFolio - 1);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
  });
});
