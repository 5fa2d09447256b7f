import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUT, call, doc33, example, provision, setup, uploadCaf, type Ctx } from './helper.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isoDaysAgo = (days: number) => new Date(Date.now() - days * 86_400_000 + -3 * 3_600_000).toISOString().slice(0, 10);

describe('status poller (real HTTP, simulator with a processing delay)', () => {
  let ctx: Ctx;
  let getEstUp = 0;
  beforeAll(async () => {
    // The simulator reveals its verdict over 600 ms: the first polls see a non-final state.
    ctx = await setup({ simStatusDelayMs: 600, pipeline: { recoveryIntervalMs: false, poll: { intervalMs: 100, baseMs: 150, maxMs: 1_000, batch: 50, perCompany: 10 } } });
    await provision(ctx, 20);
    await uploadCaf(ctx, 33, 21, 40, isoDaysAgo(20)); // for the document dated 5 days ago
    await uploadCaf(ctx, 61, 1, 10);
  });
  afterAll(async () => ctx.close());

  const waitFinal = async (id: number) => {
    for (let i = 0; i < 100; i++) {
      const r = await call(ctx, 'GET', `/api/v1/dte/${id}`);
      if (!['draft', 'signed', 'sent'].includes(r.json.status as string)) return r.json as Record<string, unknown>;
      await sleep(100);
    }
    throw new Error(`document ${id} never reached a final status`);
  };

  it('moves sent documents to their final status without anyone asking: accepted, with reparos, rejected', async () => {
    const ok = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33() });
    expect(ok.json.status).toBe('sent');
    const late = await call(ctx, 'POST', '/api/v1/dte/generate', { body: { ...doc33(), fecha_emision: isoDaysAgo(5) } });
    expect(late.status, late.text).toBe(200);
    const nc = example('61');
    delete nc.fecha_emision;
    const bad = await call(ctx, 'POST', '/api/v1/dte/generate', { body: nc }); // references a 33 the SII never received
    expect(bad.status, bad.text).toBe(200);

    expect(await waitFinal(ok.json.id as number)).toMatchObject({ status: 'accepted', sii_status: 'EPR' });
    expect(await waitFinal(late.json.id as number)).toMatchObject({ status: 'accepted_with_reparos' });
    const rejected = await waitFinal(bad.json.id as number);
    expect(rejected).toMatchObject({ status: 'rejected' });
    expect(rejected.error_message).toMatch(/^(RCH|EPR|RCT)/);

    // Polled with backoff, not hammered: a handful of status queries per document.
    const metrics = await ctx.app.inject({ url: '/metrics' });
    const polls = [...metrics.body.matchAll(/timbre_sii_calls_total\{operation="getEstUp",outcome="[^"]+"\} (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    getEstUp = polls;
    expect(polls).toBeGreaterThanOrEqual(3);
    expect(polls).toBeLessThan(40);
  });

  it('leaves final documents alone', async () => {
    await sleep(500);
    const metrics = await ctx.app.inject({ url: '/metrics' });
    const polls = [...metrics.body.matchAll(/timbre_sii_calls_total\{operation="getEstUp",outcome="[^"]+"\} (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    expect(polls).toBe(getEstUp);
    const list = await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}`);
    expect((list.json.items as Array<{ status: string }>).every((d) => d.status !== 'sent')).toBe(true);
  });
});

describe('status poller: a claim whose answer is lost', () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await setup({ pipeline: { recoveryIntervalMs: false, poll: false } });
    await provision(ctx, 5);
  });
  afterAll(async () => ctx.close());

  it('is released on the next pass, not after the lease (the UPDATE committed, the connection died before its answer)', async () => {
    const r = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33() });
    expect(r.json.status).toBe('sent');
    const id = r.json.id as number;
    await ctx.app.db.updateTable('dte').set({ next_poll_at: null }).where('id', '=', id).execute();

    // Kysely runs every statement through its executor: wrap a copy's so that a chosen statement
    // commits and then throws, as when the connection dies before the answer arrives.
    const { StatusPoller } = await import('../src/services/poller.js');
    const wrapped = ctx.app.db.withoutPlugins();
    const executor = wrapped.getExecutor();
    const original = executor.executeQuery.bind(executor);
    let failOn: RegExp | undefined = /^update "dte" set "next_poll_at"[\s\S]*returning/;
    const lost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    (executor as { executeQuery: typeof original }).executeQuery = (async (compiled, queryId) => {
      const result = await original(compiled, queryId);
      if (failOn?.test(compiled.sql)) {
        failOn = undefined;
        throw lost();
      }
      return result;
    }) as typeof original;
    const log = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} } as unknown as ConstructorParameters<typeof StatusPoller>[0]['log'];
    const poller = new StatusPoller({ db: wrapped, signers: undefined as never, metrics: undefined as never, now: () => new Date(), log, leaseMs: 300_000, retryBaseMs: 100 }, { intervalMs: 1_000, baseMs: 100, maxMs: 1_000, batch: 10, perCompany: 10 });
    await expect(poller.pollOnce()).rejects.toThrow(/Connection terminated/);
    const claimed = await ctx.app.db.selectFrom('dte').select('next_poll_at').where('id', '=', id).executeTakeFirstOrThrow();
    expect(Date.parse(claimed.next_poll_at as string)).toBeGreaterThan(Date.now() + 60_000); // the claim did commit

    // Next pass: released first (then it goes on to query the SII, which this bare poller cannot: not our concern here).
    failOn = /^select/;
    await poller.pollOnce().catch(() => undefined);
    const released = await ctx.app.db.selectFrom('dte').select(['next_poll_at', 'status']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(released.status).toBe('sent');
    expect(Date.parse(released.next_poll_at as string)).toBeLessThanOrEqual(Date.now());
  });
});

describe('GET /api/v1/dte/status racing the poller', () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await setup({ pipeline: { recoveryIntervalMs: false, poll: false } });
    await provision(ctx, 5);
  });
  afterAll(async () => ctx.close());

  it('answers what is stored when the document moved on during its SII call (not the row read before it)', async () => {
    const r = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33() });
    expect(r.json.status).toBe('sent');
    const id = r.json.id as number;
    // The SII's status answer is held 400 ms; meanwhile "the poller" records the final state.
    const fault = await fetch(`${ctx.simUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'latency', path: 'QueryEstUp', latencyMs: 400, count: 1 }) });
    expect(fault.status, await fault.text()).toBeLessThan(300);
    const pending = call(ctx, 'GET', `/api/v1/dte/status?rut_emisor=${RUT}&dte_type=33&folio=${r.json.folio as number}`);
    await sleep(150);
    await ctx.app.db.updateTable('dte').set({ status: 'accepted', sii_status: 'EPR' }).where('id', '=', id).execute();
    const s = await pending;
    expect(s.status, s.text).toBe(200);
    expect(s.json).toMatchObject({ final: true, status: 'accepted', sii_status: 'EPR' });
  });
});
