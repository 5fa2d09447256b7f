/**
 * The JobQueue contract, run on each backend by queue.test.ts: nothing lost, retries with growing delays then dead letters, RetryLater,
 * delays, prefetch, dedupe, leases, graceful close, health.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '@timbre/store';
import { RetryLater } from '../src/index.js';
import type { Job, JobQueue } from '../src/index.js';
import type { Backend } from './backends.js';
import { freshQueue, sleep, waitFor } from './backends.js';

/**
 * The backends' suites run concurrently with each other (describe.concurrent), the tests of one
 * backend one after the other (it.sequential): they share the backend's queue and some measure time.
 */
export function queueSuite(make: () => Backend): void {
  const backend = make();
  const it = test.sequential;
  describe.concurrent(`queue on ${backend.name}`, () => {
    let q: JobQueue;

    beforeAll(async () => {
      await backend.setup();
      q = backend.make();
    });
    afterAll(async () => {
      await backend.teardown();
    });

    it(`[${backend.name}] health: ok, and not ok when unreachable`, async () => {
      expect(await q.health()).toEqual({ ok: true });
      const bad = await backend.unreachable().health();
      expect(bad.ok).toBe(false);
      expect(bad.detail).toBeTruthy();
    });

    it(`[${backend.name}] 500 jobs (publish and publishMany) are all handled`, async () => {
      const name = freshQueue('bulk');
      const seen = new Map<number, number>();
      const consumer = await q.consume<{ n: number }>(
        name,
        async (job) => {
          seen.set(job.payload.n, (seen.get(job.payload.n) ?? 0) + 1);
        },
        { prefetch: 16 },
      );
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 250 }, (_, n) => q.publish(name, { n })));
      await q.publishMany(
        name,
        Array.from({ length: 250 }, (_, i) => ({ payload: { n: 250 + i } })),
      );
      await waitFor(() => seen.size === 500, 30_000, '500 distinct jobs');
      console.log(`[${backend.name}] 500 jobs published and handled in ${(performance.now() - t0).toFixed(0)} ms`);
      await consumer.cancel();
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      const s = await q.stats(name);
      expect(s.ready).toBe(0);
      expect(s.dead).toBe(0);
    });

    it(`[${backend.name}] two consumers on separate connections share the work, each job handled once`, async () => {
      const name = freshQueue('compete');
      const a = backend.make();
      const b = backend.make();
      const count = new Map<number, number>();
      const by = { a: 0, b: 0 };
      const handler = (who: 'a' | 'b') => async (job: Job<number>) => {
        by[who]++;
        count.set(job.payload, (count.get(job.payload) ?? 0) + 1);
        await sleep(2);
      };
      await a.consume(name, handler('a'), { prefetch: 8 });
      await b.consume(name, handler('b'), { prefetch: 8 });
      await q.publishMany(
        name,
        Array.from({ length: 200 }, (_, i) => ({ payload: i })),
      );
      await waitFor(() => count.size === 200, 20_000, '200 jobs');
      await sleep(100);
      expect([...count.values()].every((c) => c === 1)).toBe(true);
      expect(by.a).toBeGreaterThan(0);
      expect(by.b).toBeGreaterThan(0);
      await Promise.all([a.close(), b.close()]);
    });

    it(`[${backend.name}] a failing job is retried with growing delays and rising attempts, then dead-lettered; redrive brings it back`, async () => {
      const name = freshQueue('fail');
      const calls: Array<{ attempt: number; maxAttempts: number; at: number; id: string; payload: { k: string } }> = [];
      let healed = false;
      const consumer = await q.consume<{ k: string }>(
        name,
        async (job) => {
          calls.push({ attempt: job.attempt, maxAttempts: job.maxAttempts, at: Date.now(), id: job.id, payload: job.payload });
          if (!healed) throw new Error(`boom ${job.payload.k} ${job.attempt}`);
        },
        { retryBaseMs: 60, retryMaxMs: 10_000 },
      );
      await q.publish(name, { k: 'a' }, { maxAttempts: 4 });
      await waitFor(async () => (await q.stats(name)).dead === 1, 15_000, 'the dead letter');
      const a = calls.filter((c) => c.payload.k === 'a');
      expect(a.map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
      expect(a.every((c) => c.maxAttempts === 4)).toBe(true);
      const gaps = a.slice(1).map((c, i) => c.at - a[i]!.at);
      // backoff after attempt n is 60·2^(n-1) ±25 %: never early, and growing
      // (only lower bounds: a loaded machine or broker adds latency, never removes it)
      gaps.forEach((g, i) => expect(g).toBeGreaterThanOrEqual(Math.floor(60 * 2 ** i * 0.75) - 2));
      const dead = await q.deadLetters(name);
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ id: a[0]!.id, payload: { k: 'a' }, attempts: 4 });
      expect(dead[0]!.error).toContain('boom a 4');
      // still there after being looked at
      expect(await q.deadLetters(name)).toHaveLength(1);

      // a second dead job; redrive one by id, then the rest
      await q.publish(name, { k: 'b' }, { maxAttempts: 1 });
      await waitFor(async () => (await q.stats(name)).dead === 2, 10_000, 'the second dead letter');
      healed = true;
      const idB = calls.find((c) => c.payload.k === 'b')!.id;
      expect(await q.redrive(name, 'no-such-id')).toBe(0);
      expect(await q.redrive(name, idB)).toBe(1);
      await waitFor(() => calls.filter((c) => c.payload.k === 'b').length === 2, 10_000, 'b handled again');
      expect(calls.filter((c) => c.payload.k === 'b').map((c) => c.attempt)).toEqual([1, 1]);
      expect((await q.deadLetters(name)).map((d) => d.payload)).toEqual([{ k: 'a' }]);
      expect(await q.redrive(name)).toBe(1);
      await waitFor(() => calls.filter((c) => c.payload.k === 'a').length === 5, 10_000, 'a handled again');
      expect(calls.at(-1)).toMatchObject({ attempt: 1, id: a[0]!.id });
      await waitFor(async () => (await q.stats(name)).dead === 0, 5000, 'no dead letters');
      expect(await q.deadLetters(name)).toEqual([]);
      await consumer.cancel();
    });

    it(`[${backend.name}] RetryLater reschedules without counting an attempt`, async () => {
      const name = freshQueue('later');
      const seen: Array<{ attempt: number; at: number }> = [];
      const consumer = await q.consume(name, async (job) => {
        seen.push({ attempt: job.attempt, at: Date.now() });
        if (seen.length <= 3) throw new RetryLater(50, 'circuit open');
      });
      await q.publish(name, { x: 1 }, { maxAttempts: 1 });
      await waitFor(() => seen.length === 4, 10_000, 'four calls');
      expect(seen.map((s) => s.attempt)).toEqual([1, 1, 1, 1]);
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.at - seen[i - 1]!.at).toBeGreaterThanOrEqual(48);
      await sleep(100);
      expect(seen).toHaveLength(4);
      expect(await q.deadLetters(name)).toEqual([]);
      await consumer.cancel();
    });

    it(`[${backend.name}] delayMs: not before the delay`, async () => {
      const name = freshQueue('delay');
      const got: Array<{ tag: string; at: number }> = [];
      const consumer = await q.consume<{ tag: string }>(name, async (job) => {
        got.push({ tag: job.payload.tag, at: Date.now() });
      });
      const t0 = Date.now();
      await q.publish(name, { tag: 'late' }, { delayMs: 300 });
      await q.publishMany(name, [{ payload: { tag: 'later' }, options: { delayMs: 450 } }, { payload: { tag: 'now' } }]);
      await waitFor(() => got.length === 3, 10_000, 'three jobs');
      expect(got.map((g) => g.tag)).toEqual(['now', 'late', 'later']);
      expect(got[1]!.at - t0).toBeGreaterThanOrEqual(300);
      expect(got[2]!.at - t0).toBeGreaterThanOrEqual(450);
      expect(got[1]!.at - t0).toBeLessThan(3000);
      await consumer.cancel();
    });

    it(`[${backend.name}] prefetch bounds the handlers running at once`, async () => {
      const name = freshQueue('prefetch');
      let running = 0;
      let max = 0;
      let done = 0;
      const consumer = await q.consume(
        name,
        async () => {
          running++;
          max = Math.max(max, running);
          await sleep(40);
          running--;
          done++;
        },
        { prefetch: 3 },
      );
      await q.publishMany(
        name,
        Array.from({ length: 24 }, (_, i) => ({ payload: i })),
      );
      await waitFor(() => done === 24, 15_000, '24 jobs');
      expect(max).toBe(3);
      await consumer.cancel();
    });

    (backend.kind === 'database' ? it : it.skip)(`[${backend.name}] dedupeKey: a second publish with the same key is a no-op`, async () => {
      const name = freshQueue('dedupe');
      await q.publish(name, { v: 1 }, { dedupeKey: 'dte:42' });
      await q.publish(name, { v: 2 }, { dedupeKey: 'dte:42' });
      await q.publishMany(name, [
        { payload: { v: 3 }, options: { dedupeKey: 'dte:42' } },
        { payload: { v: 4 }, options: { dedupeKey: 'dte:43' } },
        { payload: { v: 5 }, options: { dedupeKey: 'dte:43' } },
        { payload: { v: 6 } },
      ]);
      // the same key on another queue is another job
      const other = freshQueue('dedupe-other');
      await q.publish(other, { v: 7 }, { dedupeKey: 'dte:42' });
      expect((await q.stats(name)).ready).toBe(3);
      expect((await q.stats(other)).ready).toBe(1);
      const got: unknown[] = [];
      const consumer = await q.consume<{ v: number }>(name, async (job) => {
        got.push(job.payload.v);
      });
      await waitFor(() => got.length === 3, 5000, 'three jobs');
      await sleep(100);
      expect(got.sort()).toEqual([1, 4, 6]);
      await consumer.cancel();
      // done rows keep the key: publishing it again is still a no-op; purge removes done rows
      await q.publish(name, { v: 8 }, { dedupeKey: 'dte:42' });
      expect((await q.stats(name)).ready).toBe(0);
      expect(await q.purge!(new Date(Date.now() + 1000))).toBeGreaterThanOrEqual(3);
    });

    (backend.kind === 'database' ? it : it.skip)(`[${backend.name}] a long handler keeps its lease (heartbeat); nobody else takes the job`, async () => {
      const name = freshQueue('heartbeat');
      const a = backend.make({ leaseMs: 150 });
      const b = backend.make({ leaseMs: 150 });
      let calls = 0;
      let done = 0;
      const handler = async () => {
        calls++;
        await sleep(500);
        done++;
      };
      await a.consume(name, handler);
      await b.consume(name, handler);
      await q.publish(name, { long: true });
      await waitFor(() => done === 1, 5000, 'the long job');
      await sleep(150);
      expect(calls).toBe(1);
      expect((await q.stats(name)).ready).toBe(0);
      await Promise.all([a.close(), b.close()]);
    });

    (backend.kind === 'database' ? it : it.skip)(`[${backend.name}] a job whose last attempt's consumer vanished is dead-lettered, not run again`, async () => {
      const name = freshQueue('ghost');
      const q2 = backend.make();
      await q2.publish(name, { ghost: true }, { maxAttempts: 2 });
      // as if a consumer claimed attempt 2 of 2 and died: its lease lapsed
      const db = (q2 as unknown as { db: Kysely<Database> }).db;
      await db
        .updateTable('job')
        .set({ attempts: 2, locked_by: 'ghost#1', locked_until: new Date(Date.now() - 1000).toISOString() })
        .where('queue', '=', name)
        .execute();
      let ran = 0;
      await q2.consume(name, async () => {
        ran++;
      });
      await waitFor(async () => (await q2.stats(name)).dead === 1, 5000, 'the dead letter');
      expect(ran).toBe(0);
      const [d] = await q2.deadLetters(name);
      expect(d).toMatchObject({ attempts: 3, payload: { ghost: true } });
      expect(d!.error).toMatch(/stopped without answering/);
      await q2.close();
    });

    (backend.kind === 'rabbitmq' ? it : it.skip)(`[${backend.name}] dedupeKey travels as the messageId`, async () => {
      const name = freshQueue('msgid');
      await q.publish(name, { v: 1 }, { dedupeKey: 'dte:42', maxAttempts: 1 });
      const consumer = await q.consume(name, async () => {
        throw new Error('to the dead letters');
      });
      await waitFor(async () => (await q.stats(name)).dead === 1, 5000, 'dead letter');
      await consumer.cancel();
      // the dead letter can be redriven by its messageId (the dedupe key) too
      expect(await q.redrive(name, 'dte:42')).toBe(1);
    });

    it(`[${backend.name}] close() waits for the running handlers, then the job is acknowledged`, async () => {
      const name = freshQueue('close');
      const q2 = backend.make();
      let started = false;
      let finished = false;
      await q2.consume(name, async () => {
        started = true;
        await sleep(300);
        finished = true;
      });
      await q2.publish(name, { x: 1 });
      await waitFor(() => started, 5000, 'the handler to start');
      const t0 = Date.now();
      await q2.close();
      expect(finished).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
      await expect(q2.publish(name, {})).rejects.toMatchObject({ code: 'ERR_QUEUE_CLOSED' });
      const s = await q.stats(name);
      expect(s.ready).toBe(0);
      expect(s.inFlight ?? 0).toBe(0);
      // nothing comes back
      const again: Job[] = [];
      const c = await q.consume(name, async (job) => {
        again.push(job);
      });
      await sleep(150);
      expect(again).toEqual([]);
      await c.cancel();
    });

    it(`[${backend.name}] close() is bounded: a handler still running at the deadline leaves its job to be redelivered`, async () => {
      const name = freshQueue('close-timeout');
      const q2 = backend.make({ closeTimeoutMs: 150, leaseMs: 400 });
      let started = false;
      await q2.consume(name, async () => {
        started = true;
        await sleep(1500);
      });
      await q2.publish(name, { x: 1 });
      await waitFor(() => started, 5000, 'the handler to start');
      const t0 = Date.now();
      await q2.close();
      expect(Date.now() - t0).toBeLessThan(1000);
      const again: Job[] = [];
      const c = await q.consume(name, async (job) => {
        again.push(job);
      });
      await waitFor(() => again.length === 1, 5000, 'the redelivery');
      expect(again[0]!.attempt).toBe(2);
      await c.cancel();
    });
  });
}
