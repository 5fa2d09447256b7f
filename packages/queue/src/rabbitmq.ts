/**
 * The RabbitMQ queue (amqplib): one connection, a confirm channel for publishing, a channel per
 * consumer with its prefetch. Topology for queue `q` with prefix `p`:
 *
 *   p.q                 durable work queue (dead-letters rejected messages to p.q.dead)
 *   p.q.dead            durable dead letters (error, attempts in headers)
 *   p.q.delay.<ms>      one per rounded delay: x-message-ttl <ms>, dead-letters back to p.q when it
 *                       expires, x-expires so idle buckets vanish (no plugin, no head-of-line blocking:
 *                       every message of a bucket has the same TTL)
 *
 * Messages are persistent JSON; headers carry the job id, the 1-based attempt and maxAttempts. A
 * failure is acknowledged only after its retry copy (attempt + 1, into a delay bucket) or its dead
 * letter was confirmed. A delivery flagged `redelivered` (its consumer died or lost the connection
 * before answering) counts as an attempt: it is re-published with attempt + 1 (or dead-lettered)
 * before it runs again, so a job that crashes its consumer cannot loop forever.
 *
 * On connection loss the queue reconnects with backoff + jitter and re-attaches every consumer; the
 * broker requeues what was unacked. publish() waits for the reconnection (up to publishTimeoutMs)
 * and only resolves on a publisher confirm; a publish whose confirm was lost is sent again after the
 * reconnection (at-least-once: a duplicate is possible, never a silent loss).
 */
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';
import {
  asRetryLater,
  backoffMs,
  checkQueueName,
  encodePayload,
  errorText,
  QueueError,
  resolveConsumeOptions,
  resolveDelay,
  resolveMaxAttempts,
  settledWithin,
} from './types.js';
import type { Consumer, ConsumeOptions, DeadLetter, Job, JobQueue, PublishOptions, QueueLogger, QueueStats, ResolvedConsumeOptions } from './types.js';

export interface RabbitQueueOptions {
  /** amqp:// or amqps:// */
  url: string;
  /** Exchange/queue prefix (default 'timbre'). */
  name?: string;
  /** How long publish() (and consume()) waits for a connection and a confirm (default 30 s). */
  publishTimeoutMs?: number;
  /** How long close()/cancel() wait for running handlers (default 30 s). */
  closeTimeoutMs?: number;
  /** TCP connect timeout (default 5 s). */
  connectTimeoutMs?: number;
  /** AMQP heartbeat in seconds unless the URL sets `heartbeat` (default 15). */
  heartbeatSec?: number;
  /** Cap of the reconnection backoff (default 10 s; starts at 100 ms). */
  reconnectMaxMs?: number;
  logger: QueueLogger;
}

const H_ID = 'x-timbre-id';
const H_ATTEMPT = 'x-timbre-attempt';
const H_MAX = 'x-timbre-max-attempts';
const H_ERROR = 'x-timbre-error';
const H_DEAD_AT = 'x-timbre-dead-at';

/** Delay buckets: rounded UP to two significant digits (37 → 37, 1234 → 1300), so never early. */
export function delayBucket(ms: number): number {
  if (ms <= 0) return 0;
  const mag = 10 ** Math.max(0, Math.floor(Math.log10(ms)) - 1);
  return Math.ceil(ms / mag) * mag;
}

/** Re-declare a delay bucket at least this often; its x-expires is TTL + BUCKET_IDLE_MS. */
const BUCKET_REDECLARE_MS = 10_000;
const BUCKET_IDLE_MS = 30_000;

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function withHeartbeat(url: string, sec: number): string {
  if (/[?&]heartbeat=/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}heartbeat=${sec}`;
}

function intHeader(v: unknown, fallback: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : typeof v === 'bigint' ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

interface Outgoing {
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

/** An error that means "the channel/connection went away": retry after reconnection. */
class LinkLost extends Error {}

export class RabbitJobQueue implements JobQueue {
  readonly kind = 'rabbitmq' as const;
  readonly prefix: string;
  private readonly url: string;
  private readonly o: Required<Omit<RabbitQueueOptions, 'url' | 'name' | 'logger'>>;
  readonly logger: QueueLogger;

  private model: ChannelModel | null = null;
  private pub: ConfirmChannel | null = null;
  private admin: Promise<Channel> | null = null;
  private started = false;
  private closing = false;
  private reconnects = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lastError = 'not connected yet';
  private waiters = new Set<() => void>();
  /** Work/dead queues declared on the current connection. */
  private declared = new Map<string, Promise<void>>();
  /** Delay buckets: name → when last declared (any connection). */
  private buckets = new Map<string, number>();
  /** Diagnostics: connections lost, publishes sent again because their confirm was lost with the link. */
  readonly counters = { connectionsLost: 0, republished: 0 };
  private readonly used = new Set<string>();
  private readonly consumers = new Set<RabbitConsumer>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(o: RabbitQueueOptions) {
    this.prefix = o.name ?? 'timbre';
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,60}$/.test(this.prefix)) throw new QueueError('ERR_QUEUE_CONFIG', `invalid queue prefix "${this.prefix}"`);
    this.o = {
      publishTimeoutMs: o.publishTimeoutMs ?? 30_000,
      closeTimeoutMs: o.closeTimeoutMs ?? 30_000,
      connectTimeoutMs: o.connectTimeoutMs ?? 5_000,
      heartbeatSec: o.heartbeatSec ?? 15,
      reconnectMaxMs: o.reconnectMaxMs ?? 10_000,
    };
    this.url = withHeartbeat(o.url, this.o.heartbeatSec);
    this.logger = o.logger;
  }

  workQueue(queue: string): string {
    return `${this.prefix}.${queue}`;
  }
  deadQueue(queue: string): string {
    return `${this.prefix}.${queue}.dead`;
  }
  delayQueue(queue: string, ms: number): string {
    return `${this.prefix}.${queue}.delay.${ms}`;
  }

  // ---------------------------------------------------------------- connection

  private start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    void this.connect();
  }

  get connected(): boolean {
    return this.model !== null && this.pub !== null;
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
    let model: ChannelModel | undefined;
    try {
      model = await amqp.connect(this.url, { timeout: this.o.connectTimeoutMs });
      const m = model;
      m.on('error', (err: unknown) => {
        this.lastError = errorText(err, 300);
      });
      m.on('close', (err: unknown) => this.onLost(m, err));
      const pub = await m.createConfirmChannel();
      pub.on('error', (err: unknown) => this.logger.warn({ err: errorText(err, 300) }, 'queue: publisher channel error'));
      pub.on('close', () => {
        if (this.pub !== pub) return;
        this.pub = null;
        // The publisher channel died but the connection may live on: start over with a fresh connection.
        setImmediate(() => {
          if (this.model === m && !this.closing) void m.close().catch(() => undefined);
        });
      });
      if (this.closing) {
        await m.close().catch(() => undefined);
        return;
      }
      this.model = m;
      this.pub = pub;
      this.admin = null;
      this.declared = new Map();
      if (this.reconnects > 0) this.logger.warn({ url: redact(this.url), after: this.reconnects }, 'queue: reconnected to RabbitMQ');
      this.reconnects = 0;
      for (const w of [...this.waiters]) w();
      for (const c of this.consumers) void c.attach();
    } catch (e) {
      this.lastError = errorText(e, 300);
      if (model) await model.close().catch(() => undefined);
      this.scheduleReconnect();
    }
  }

  private onLost(model: ChannelModel, err: unknown): void {
    if (this.model !== model) return; // a connection that was never adopted, or already replaced
    this.model = null;
    this.pub = null;
    this.admin = null;
    this.declared = new Map();
    if (this.closing) return;
    this.counters.connectionsLost++;
    this.lastError = err ? errorText(err, 300) : 'connection closed';
    this.logger.warn({ url: redact(this.url), err: this.lastError }, 'queue: lost the RabbitMQ connection; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing) return;
    const n = this.reconnects++;
    const delay = Math.min(this.o.reconnectMaxMs, 100 * 2 ** Math.min(n, 20)) * (0.5 + Math.random() * 0.5);
    if (n > 0 && n % 10 === 0) this.logger.warn({ url: redact(this.url), attempts: n, err: this.lastError }, 'queue: RabbitMQ still unreachable');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  /** The live connection and publisher channel, waiting for a (re)connection until `deadline`. */
  private async ready(deadline: number): Promise<{ model: ChannelModel; pub: ConfirmChannel }> {
    for (;;) {
      if (this.closing) throw new QueueError('ERR_QUEUE_CLOSED', 'the queue is closed');
      this.start();
      if (this.model && this.pub) return { model: this.model, pub: this.pub };
      const left = deadline - Date.now();
      if (left <= 0) throw new QueueError('ERR_QUEUE_UNAVAILABLE', `RabbitMQ unreachable (${redact(this.url)}): ${this.lastError}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** A channel for declarations and inspection (recreated when a failed declaration closes it). */
  private async adminChannel(deadline: number): Promise<Channel> {
    const { model } = await this.ready(deadline);
    if (!this.admin) {
      const p = model.createChannel().then((ch) => {
        ch.on('error', () => undefined);
        ch.on('close', () => {
          if (this.admin === p) this.admin = null;
        });
        return ch;
      });
      p.catch(() => {
        if (this.admin === p) this.admin = null;
      });
      this.admin = p;
    }
    return this.admin;
  }

  /** Declare p.q and p.q.dead (once per connection). */
  async ensureTopology(queue: string, deadline = Date.now() + this.o.publishTimeoutMs): Promise<void> {
    this.used.add(queue);
    const key = `topology:${queue}`;
    const have = this.declared.get(key);
    if (have) return have;
    const declared = this.declared;
    const p = (async () => {
      const ch = await this.adminChannel(deadline);
      await ch.assertQueue(this.deadQueue(queue), { durable: true });
      await ch.assertQueue(this.workQueue(queue), { durable: true, deadLetterExchange: '', deadLetterRoutingKey: this.deadQueue(queue) });
    })();
    declared.set(key, p);
    p.catch(() => {
      if (declared.get(key) === p) declared.delete(key);
    });
    return p;
  }

  private async ensureBucket(queue: string, ms: number, deadline: number): Promise<string> {
    const name = this.delayQueue(queue, ms);
    const last = this.buckets.get(name);
    if (last !== undefined && Date.now() - last < BUCKET_REDECLARE_MS && this.declared.has(`bucket:${name}`)) return name;
    const ch = await this.adminChannel(deadline);
    await ch.assertQueue(name, {
      durable: true,
      messageTtl: ms,
      expires: ms + BUCKET_IDLE_MS,
      deadLetterExchange: '',
      deadLetterRoutingKey: this.workQueue(queue),
    });
    this.buckets.set(name, Date.now());
    this.declared.set(`bucket:${name}`, Promise.resolve());
    return name;
  }

  // ---------------------------------------------------------------- publishing

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const untrack = () => this.pending.delete(p);
    p.then(untrack, untrack);
    return p;
  }

  /** Publish with confirms until every message is confirmed; retries what a lost link left unconfirmed. */
  private async send(batch: Outgoing[], deadline: number): Promise<void> {
    let todo = batch;
    for (;;) {
      const { pub } = await this.ready(deadline);
      const results = await Promise.all(todo.map((m) => this.confirm(pub, m, deadline)));
      const nacked = results.find((r) => r instanceof QueueError);
      if (nacked) throw nacked;
      const lost = todo.filter((_, i) => results[i] instanceof LinkLost);
      if (lost.length === 0) return;
      this.counters.republished += lost.length;
      if (Date.now() >= deadline) {
        throw new QueueError('ERR_QUEUE_UNAVAILABLE', `no publisher confirm for ${lost.length} message(s) before the timeout (${this.lastError}); they may or may not have been stored`);
      }
      todo = lost;
      // Wait for the connection to be seen as lost (or the publisher channel replaced) before retrying.
      if (this.pub === pub) await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** One publish and its confirm: null (confirmed), LinkLost (retry), QueueError (nacked/timeout). */
  private confirm(pub: ConfirmChannel, m: Outgoing, deadline: number): Promise<null | LinkLost | QueueError> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (v: null | LinkLost | QueueError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => settle(new LinkLost('confirm timeout')), Math.max(1, deadline - Date.now()));
      try {
        pub.publish('', m.routingKey, m.content, m.options, (err: unknown) => {
          if (err === null || err === undefined) settle(null);
          else if (err instanceof Error && err.message === 'message nacked') settle(new QueueError('ERR_QUEUE_NACKED', `RabbitMQ refused the message for ${m.routingKey}`));
          else settle(new LinkLost(errorText(err)));
        });
      } catch (e) {
        settle(new LinkLost(errorText(e)));
      }
    });
  }

  private message(queue: string, payload: unknown, options: PublishOptions | undefined): { out: Outgoing; delay: number } {
    const id = randomUUID();
    return {
      delay: resolveDelay(options?.delayMs),
      out: {
        routingKey: this.workQueue(queue),
        content: Buffer.from(encodePayload(payload), 'utf8'),
        options: {
          persistent: true,
          contentType: 'application/json',
          messageId: options?.dedupeKey ?? id,
          timestamp: Math.floor(Date.now() / 1000),
          headers: { [H_ID]: id, [H_ATTEMPT]: 1, [H_MAX]: resolveMaxAttempts(options) },
        },
      },
    };
  }

  /** Route to the work queue, or through the delay bucket for `delay`. */
  private async routed(queue: string, out: Outgoing, delay: number, deadline: number): Promise<Outgoing> {
    if (delay <= 0) return { ...out, routingKey: this.workQueue(queue) };
    return { ...out, routingKey: await this.ensureBucket(queue, delayBucket(delay), deadline) };
  }

  async publish<T>(queue: string, payload: T, options?: PublishOptions): Promise<void> {
    checkQueueName(queue);
    const { out, delay } = this.message(queue, payload, options);
    if (this.closing) throw new QueueError('ERR_QUEUE_CLOSED', 'the queue is closed');
    const deadline = Date.now() + this.o.publishTimeoutMs;
    await this.track(
      (async () => {
        await this.ensureTopology(queue, deadline);
        await this.send([await this.routed(queue, out, delay, deadline)], deadline);
      })(),
    );
  }

  async publishMany<T>(queue: string, payloads: Array<{ payload: T; options?: PublishOptions }>): Promise<void> {
    checkQueueName(queue);
    const msgs = payloads.map((p) => this.message(queue, p.payload, p.options));
    if (this.closing) throw new QueueError('ERR_QUEUE_CLOSED', 'the queue is closed');
    if (msgs.length === 0) return;
    const deadline = Date.now() + this.o.publishTimeoutMs;
    await this.track(
      (async () => {
        await this.ensureTopology(queue, deadline);
        const batch: Outgoing[] = [];
        for (const m of msgs) batch.push(await this.routed(queue, m.out, m.delay, deadline));
        await this.send(batch, deadline);
      })(),
    );
  }

  /** Internal: re-publish a delivered message (retry copy, dead letter) with new headers. */
  async forward(queue: string, msg: Message, headers: Record<string, unknown>, delay: number, dead: boolean): Promise<void> {
    const deadline = Date.now() + this.o.publishTimeoutMs;
    const p = msg.properties;
    const base: Outgoing = {
      routingKey: dead ? this.deadQueue(queue) : this.workQueue(queue),
      content: msg.content,
      options: {
        persistent: true,
        contentType: p.contentType ?? 'application/json',
        messageId: p.messageId ?? undefined,
        timestamp: p.timestamp ?? undefined,
        headers: { ...(p.headers ?? {}), ...headers },
      },
    };
    await this.ensureTopology(queue, deadline);
    await this.send([dead ? base : await this.routed(queue, base, delay, deadline)], deadline);
  }

  // ---------------------------------------------------------------- consuming

  async consume<T>(queue: string, handler: (job: Job<T>) => Promise<void>, options?: ConsumeOptions): Promise<Consumer> {
    checkQueueName(queue);
    const opts = resolveConsumeOptions(options);
    if (this.closing) throw new QueueError('ERR_QUEUE_CLOSED', 'the queue is closed');
    const c = new RabbitConsumer(this, queue, handler as (job: Job) => Promise<void>, opts, this.o.closeTimeoutMs);
    this.consumers.add(c);
    try {
      await this.ready(Date.now() + this.o.publishTimeoutMs);
      await c.attached(Date.now() + this.o.publishTimeoutMs);
    } catch (e) {
      this.consumers.delete(c);
      await c.cancel();
      throw e;
    }
    return { cancel: () => c.cancel().finally(() => this.consumers.delete(c)) };
  }

  /** Internal: a new channel on the current connection, or undefined while disconnected. */
  async channelFor(): Promise<{ model: ChannelModel; channel: Channel } | undefined> {
    const model = this.model;
    if (!model || this.closing) return undefined;
    return { model, channel: await model.createChannel() };
  }

  isCurrent(model: ChannelModel): boolean {
    return this.model === model && !this.closing;
  }

  // ---------------------------------------------------------------- dead letters, stats

  private async withTempChannel<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const { model } = await this.ready(Date.now() + this.o.publishTimeoutMs);
    const ch = await model.createChannel();
    ch.on('error', () => undefined);
    try {
      return await fn(ch);
    } finally {
      // Closing the channel requeues whatever it got and did not ack (in its original position).
      await ch.close().catch(() => undefined);
    }
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    checkQueueName(queue);
    await this.ensureTopology(queue);
    return this.withTempChannel(async (ch) => {
      const out: DeadLetter[] = [];
      while (out.length < limit) {
        const m = await ch.get(this.deadQueue(queue), { noAck: false });
        if (m === false) break;
        const h = (m.properties.headers ?? {}) as Record<string, unknown>;
        let payload: unknown;
        try {
          payload = JSON.parse(m.content.toString('utf8')) as unknown;
        } catch {
          payload = m.content.toString('utf8');
        }
        out.push({
          id: String(h[H_ID] ?? m.properties.messageId ?? ''),
          payload,
          attempts: intHeader(h[H_ATTEMPT], 0),
          error: typeof h[H_ERROR] === 'string' ? h[H_ERROR] : h[H_ERROR] == null ? null : String(h[H_ERROR]),
        });
      }
      return out;
    });
  }

  async redrive(queue: string, id?: string): Promise<number> {
    checkQueueName(queue);
    await this.ensureTopology(queue);
    return this.withTempChannel(async (ch) => {
      const { messageCount } = await ch.checkQueue(this.deadQueue(queue));
      let count = 0;
      for (let i = 0; i < messageCount; i++) {
        const m = await ch.get(this.deadQueue(queue), { noAck: false });
        if (m === false) break;
        const h = { ...((m.properties.headers ?? {}) as Record<string, unknown>) };
        if (id !== undefined && h[H_ID] !== id && m.properties.messageId !== id) continue; // stays (requeued on close)
        delete h[H_ERROR];
        delete h[H_DEAD_AT];
        await this.forward(queue, { ...m, properties: { ...m.properties, headers: h } }, { [H_ATTEMPT]: 1 }, 0, false);
        ch.ack(m);
        count++;
      }
      return count;
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    checkQueueName(queue);
    await this.ensureTopology(queue);
    return this.withTempChannel(async (ch) => {
      const work = await ch.checkQueue(this.workQueue(queue));
      const dead = await ch.checkQueue(this.deadQueue(queue));
      let inFlight = 0;
      for (const c of this.consumers) if (c.queue === queue) inFlight += c.running;
      return { ready: work.messageCount, inFlight, dead: dead.messageCount };
    });
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    if (this.closing) return { ok: false, detail: 'closed' };
    try {
      await this.ready(Date.now() + Math.min(2000, this.o.publishTimeoutMs));
      return { ok: true };
    } catch (e) {
      return { ok: false, detail: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Every RabbitMQ queue this instance declared (work, dead, delay buckets) — for tests and tear-down. */
  knownQueues(): string[] {
    return [...[...this.used].flatMap((q) => [this.workQueue(q), this.deadQueue(q)]), ...this.buckets.keys()];
  }

  /** Delete the work, dead and (known) delay queues of `queue` — for tests and tear-down. */
  async deleteQueues(queue: string): Promise<void> {
    await this.withTempChannel(async (ch) => {
      const names = [this.workQueue(queue), this.deadQueue(queue), ...[...this.buckets.keys()].filter((b) => b.startsWith(`${this.prefix}.${queue}.delay.`))];
      for (const n of names) await ch.deleteQueue(n);
    });
    this.declared.delete(`topology:${queue}`);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    for (const w of [...this.waiters]) w();
    const deadline = Date.now() + this.o.closeTimeoutMs;
    await Promise.all([...this.consumers].map((c) => c.cancel()));
    await settledWithin(Promise.allSettled([...this.pending]), deadline - Date.now());
    const model = this.model;
    this.model = null;
    this.pub = null;
    if (model) await model.close().catch(() => undefined);
  }

  /** Internal: publishes issued by consumers (retries, dead letters) are tracked so close() waits for them. */
  trackForward(p: Promise<void>): Promise<void> {
    return this.track(p);
  }

  get isClosing(): boolean {
    return this.closing;
  }
}

class RabbitConsumer {
  private channel: Channel | null = null;
  private model: ChannelModel | null = null;
  private tag: string | null = null;
  private attaching = false;
  private cancelled = false;
  private cancelling: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private attachWaiters = new Set<() => void>();

  constructor(
    private readonly q: RabbitJobQueue,
    readonly queue: string,
    private readonly handler: (job: Job) => Promise<void>,
    private readonly opts: ResolvedConsumeOptions,
    private readonly closeTimeoutMs: number,
  ) {}

  get running(): number {
    return this.inFlight.size;
  }

  /** Wait until the consumer is attached (first attach), up to the deadline. */
  async attached(deadline: number): Promise<void> {
    void this.attach();
    while (!this.tag) {
      const left = deadline - Date.now();
      if (left <= 0 || this.cancelled) throw new QueueError('ERR_QUEUE_UNAVAILABLE', `could not start consuming ${this.q.workQueue(this.queue)}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.attachWaiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 100));
        this.attachWaiters.add(done);
      });
    }
  }

  /** (Re)open this consumer's channel on the current connection and start consuming. Idempotent. */
  async attach(): Promise<void> {
    if (this.cancelled || this.attaching || this.channel) return;
    this.attaching = true;
    let ch: Channel | undefined;
    try {
      const got = await this.q.channelFor();
      if (!got) return; // disconnected: the reconnection attaches every consumer
      ch = got.channel;
      const model = got.model;
      const channel = ch;
      channel.on('error', (err: unknown) => this.q.logger.warn({ queue: this.queue, err: errorText(err, 300) }, 'queue: consumer channel error'));
      channel.on('close', () => {
        if (this.channel !== channel) return;
        this.channel = null;
        this.tag = null;
        this.later(model);
      });
      await channel.prefetch(this.opts.prefetch);
      await this.q.ensureTopology(this.queue);
      if (this.cancelled) {
        await channel.close().catch(() => undefined);
        return;
      }
      this.channel = channel;
      this.model = model;
      const { consumerTag } = await channel.consume(this.q.workQueue(this.queue), (msg) => this.onMessage(channel, msg), { noAck: false });
      if (this.cancelled) {
        // cancel() ran while we were attaching: give back whatever was delivered (requeued on close)
        if (this.channel === channel) this.channel = null;
        await channel.close().catch(() => undefined);
        return;
      }
      if (this.channel === channel) this.tag = consumerTag;
      for (const w of [...this.attachWaiters]) w();
    } catch (e) {
      this.q.logger.warn({ queue: this.queue, err: errorText(e, 300) }, 'queue: could not attach a consumer; retrying');
      if (ch && this.channel === ch) {
        this.channel = null;
        this.tag = null;
      }
      if (ch) await ch.close().catch(() => undefined);
      this.later(null);
    } finally {
      this.attaching = false;
    }
  }

  /** Re-attach soon if the connection is still the same (a channel-level failure); a new connection re-attaches by itself. */
  private later(model: ChannelModel | null): void {
    if (this.cancelled) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.cancelled || this.channel) return;
      if (model === null || this.q.isCurrent(model)) void this.attach();
    }, 500);
  }

  private onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // Cancelled by the broker (queue deleted): drop this channel and attach again.
      this.q.logger.warn({ queue: this.queue }, 'queue: the broker cancelled a consumer; re-attaching');
      if (this.channel === ch) {
        this.channel = null;
        this.tag = null;
        void ch.close().catch(() => undefined);
        this.later(null);
      }
      return;
    }
    const p = this.handle(ch, msg).catch((e: unknown) => this.q.logger.error({ queue: this.queue, err: errorText(e, 500) }, 'queue: unexpected error handling a message'));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private alive(ch: Channel): boolean {
    return this.channel === ch;
  }

  private ack(ch: Channel, msg: Message): void {
    try {
      ch.ack(msg);
    } catch {
      // channel gone: the broker requeued the message; it is delivered again (at-least-once)
    }
  }

  /** Re-publish (retry copy / dead letter), then ack; if that fails the message is requeued (redelivered). */
  private async forward(ch: Channel, msg: Message, headers: Record<string, unknown>, delay: number, dead: boolean): Promise<void> {
    if (!this.alive(ch)) return; // already requeued by the broker with the channel
    try {
      await this.q.trackForward(this.q.forward(this.queue, msg, headers, delay, dead));
    } catch (e) {
      this.q.logger.warn({ queue: this.queue, err: errorText(e, 300) }, 'queue: could not re-publish a failed job; it will be redelivered');
      try {
        ch.nack(msg, false, true);
      } catch {
        /* channel gone: requeued anyway */
      }
      return;
    }
    this.ack(ch, msg);
  }

  private async handle(ch: Channel, msg: ConsumeMessage): Promise<void> {
    const h = (msg.properties.headers ?? {}) as Record<string, unknown>;
    const attempt = Math.max(1, intHeader(h[H_ATTEMPT], 1));
    const maxAttempts = Math.max(1, intHeader(h[H_MAX], 8));
    const id = String(h[H_ID] ?? msg.properties.messageId ?? `${msg.fields.deliveryTag}`);

    if (msg.fields.redelivered) {
      // Its previous delivery ended without an answer (consumer died, connection lost): that was an attempt.
      if (attempt >= maxAttempts) {
        await this.forward(ch, msg, { [H_ATTEMPT]: attempt, [H_ERROR]: `gave up after ${maxAttempts} attempts: the consumer of the last one stopped without answering`, [H_DEAD_AT]: new Date().toISOString() }, 0, true);
      } else {
        await this.forward(ch, msg, { [H_ATTEMPT]: attempt + 1 }, 0, false);
      }
      return;
    }

    let payload: unknown;
    try {
      payload = JSON.parse(msg.content.toString('utf8')) as unknown;
    } catch (e) {
      await this.forward(ch, msg, { [H_ATTEMPT]: attempt, [H_ERROR]: `malformed payload: ${errorText(e, 200)}`, [H_DEAD_AT]: new Date().toISOString() }, 0, true);
      return;
    }

    try {
      await this.handler({ id, queue: this.queue, payload, attempt, maxAttempts });
    } catch (e) {
      const later = asRetryLater(e);
      if (later) {
        await this.forward(ch, msg, { [H_ATTEMPT]: attempt }, Math.max(1, resolveDelay(later.delayMs)), false);
      } else if (attempt >= maxAttempts) {
        await this.forward(ch, msg, { [H_ATTEMPT]: attempt, [H_ERROR]: errorText(e, 1000), [H_DEAD_AT]: new Date().toISOString() }, 0, true);
      } else {
        const delay = backoffMs(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs);
        await this.forward(ch, msg, { [H_ATTEMPT]: attempt + 1, [H_ERROR]: errorText(e, 1000) }, delay, false);
      }
      return;
    }
    this.ack(ch, msg);
  }

  cancel(): Promise<void> {
    this.cancelling ??= (async () => {
      this.cancelled = true;
      clearTimeout(this.retryTimer);
      for (const w of [...this.attachWaiters]) w();
      const ch = this.channel;
      if (ch && this.tag) await ch.cancel(this.tag).catch(() => undefined);
      // deliveries already in transit before the broker's cancel-ok still arrive: wait for those too
      const deadline = Date.now() + this.closeTimeoutMs;
      while (this.inFlight.size > 0 && Date.now() < deadline) await settledWithin(Promise.all([...this.inFlight]), deadline - Date.now());
      if (this.inFlight.size > 0) {
        this.q.logger.warn({ queue: this.queue, running: this.inFlight.size }, 'queue: handlers still running at close; their messages are requeued by the broker');
      }
      this.channel = null;
      this.tag = null;
      if (ch) await ch.close().catch(() => undefined);
    })();
    return this.cancelling;
  }
}
