/**
 * RabbitMQ connection loss: a TCP proxy (node:net) sits between the client and the broker; the test
 * destroys every proxied socket while 300 messages are being published and consumed, and refuses
 * connections for a while (an outage). Every publish that resolved is handled; a publish during the
 * outage either succeeds after the reconnection or throws QueueError ERR_QUEUE_UNAVAILABLE.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueError, RabbitJobQueue } from '../src/index.js';
import type { CreateQueueOptions, JobQueue } from '../src/index.js';
import { AMQP_URL, freshQueue, memoryLogger, rabbitBackend, sleep, waitFor } from './backends.js';

class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  port = 0;
  drops = 0;

  constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, this.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Cut every proxied connection (both sides). */
  drop(): void {
    this.drops++;
    for (const s of this.sockets) s.destroy();
  }

  /** Cut everything and refuse new connections for `ms`. */
  outage(ms: number): Promise<void> {
    this.refusing = true;
    this.drop();
    return sleep(ms).then(() => {
      this.refusing = false;
    });
  }

  async stop(): Promise<void> {
    this.refusing = true;
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.drop();
    await closed;
  }
}

describe('RabbitMQ through a flaky TCP proxy', () => {
  const broker = new URL(AMQP_URL);
  const proxy = new TcpProxy(broker.hostname, Number(broker.port || 5672));
  const backend = rabbitBackend();
  let proxied = '';
  const made: JobQueue[] = [];
  const make = (opts: Partial<CreateQueueOptions> = {}) => {
    const q = backend.make({ url: proxied, reconnectMaxMs: 400, ...opts });
    made.push(q);
    return q;
  };

  beforeAll(async () => {
    await proxy.start();
    const u = new URL(AMQP_URL);
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    proxied = u.toString();
  });
  afterAll(async () => {
    await backend.teardown();
    await proxy.stop();
  });

  it('sockets destroyed twice while 300 messages flow → every published message is handled', async () => {
    const logger = memoryLogger();
    const q = make({ logger, publishTimeoutMs: 10_000 });
    const name = freshQueue('flaky');
    const handled = new Set<number>();
    let deliveries = 0;
    await q.consume<{ n: number }>(
      name,
      async (job) => {
        deliveries++;
        await sleep(3);
        handled.add(job.payload.n);
      },
      { prefetch: 20 },
    );
    const published: number[] = [];
    const refused: unknown[] = [];
    const publishing = (async () => {
      for (let n = 0; n < 300; n += 20) {
        const batch = Array.from({ length: 20 }, (_, i) => n + i);
        const results = await Promise.allSettled(batch.map((k) => q.publish(name, { n: k })));
        results.forEach((r, i) => (r.status === 'fulfilled' ? published.push(batch[i]!) : refused.push(r.reason)));
        await sleep(5);
      }
    })();
    await waitFor(() => handled.size >= 60, 15_000, '60 handled');
    const atDrop = [published.length + refused.length];
    proxy.drop();
    await waitFor(() => handled.size >= 180, 15_000, '180 handled');
    atDrop.push(published.length + refused.length);
    proxy.drop();
    await publishing;
    await waitFor(() => published.every((n) => handled.has(n)), 20_000, 'every published message handled');
    console.log(`flaky: drops when ${atDrop.join(' and ')} publishes had answered; ${published.length} published, ${refused.length} refused, ${handled.size} handled, ${deliveries} deliveries, ${JSON.stringify((q as RabbitJobQueue).counters)}`);
    expect(atDrop[0]).toBeLessThan(300); // the connection was cut while publishing
    for (const e of refused) expect(e).toBeInstanceOf(QueueError);
    expect(published.length).toBeGreaterThan(250);
    expect(logger.lines.filter((l) => l.m.includes('reconnected')).length).toBeGreaterThanOrEqual(2);
    expect((q as RabbitJobQueue).counters.connectionsLost).toBe(2);
    await waitFor(async () => (await q.stats(name)).ready === 0, 5000, 'an empty work queue');
    expect((await q.stats(name)).dead).toBe(0);
  });

  it('an outage: publish waits for the reconnection, or throws ERR_QUEUE_UNAVAILABLE after its timeout; health follows', async () => {
    const patient = make({ publishTimeoutMs: 8000 });
    const hasty = make({ publishTimeoutMs: 300 });
    const name = freshQueue('outage');
    const handled: string[] = [];
    await patient.consume<{ tag: string }>(name, async (job) => {
      handled.push(job.payload.tag);
    });
    expect(await hasty.health()).toEqual({ ok: true });
    const outage = proxy.outage(1500);
    await sleep(50);
    const t0 = Date.now();
    const waited = patient.publish(name, { tag: 'patient' }).then(() => Date.now() - t0);
    const err = await hasty.publish(name, { tag: 'hasty' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(QueueError);
    expect((err as QueueError).code).toBe('ERR_QUEUE_UNAVAILABLE');
    const h = await hasty.health();
    expect(h.ok).toBe(false);
    expect(h.detail).toMatch(/unreachable/);
    expect(h.detail).not.toContain('guest:guest');
    await outage;
    expect(await waited).toBeGreaterThanOrEqual(1000);
    await waitFor(() => handled.includes('patient'), 10_000, 'the patient message');
    await waitFor(async () => (await hasty.health()).ok, 5000, 'health back');
    await hasty.publish(name, { tag: 'after' });
    await waitFor(() => handled.includes('after'), 5000, 'the message after the outage');
    expect(handled).not.toContain('hasty');
  });

  it('a consumer re-attaches after the connection is cut while it is idle', async () => {
    const logger = memoryLogger();
    const q = make({ logger });
    const name = freshQueue('idle');
    const got: number[] = [];
    await q.consume<number>(name, async (job) => {
      got.push(job.payload);
    });
    await q.publish(name, 1);
    await waitFor(() => got.length === 1, 5000, 'first');
    proxy.drop();
    await sleep(50);
    expect((await q.health()).ok).toBe(true); // waits for the reconnection
    await q.publish(name, 2);
    // (the ack of 1 may have been lost with the connection: then 1 comes again — at least once)
    await waitFor(() => got.includes(2), 10_000, 'second, after the reconnection').catch((e: unknown) => {
      throw new Error(`${String(e)}; got ${JSON.stringify(got)}; log: ${JSON.stringify(logger.lines)}`);
    });
    expect([...new Set(got)].sort()).toEqual([1, 2]);
    expect(q).toBeInstanceOf(RabbitJobQueue);
  });
});
