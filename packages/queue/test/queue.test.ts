/**
 * @timbre/queue: the helpers, then the JobQueue contract (suite.ts) on the real RabbitMQ and on the
 * database queue (SQLite temp file, PostgreSQL fresh schema), the three backends concurrently.
 */
import { describe, expect, it } from 'vitest';
import { backends } from './backends.js';
import { queueSuite } from './suite.js';
import { asRetryLater, backoffMs, createQueue, delayBucket, QueueError, RetryLater } from '../src/index.js';

describe('helpers', () => {
  it('backoff doubles per attempt with ±25 % jitter, never shrinks, and is capped', () => {
    for (let i = 0; i < 200; i++) {
      const d = [1, 2, 3, 4, 5].map((a) => backoffMs(a, 100, 1000));
      for (const [k, v] of d.entries()) {
        const exp = Math.min(1000, 100 * 2 ** k);
        expect(v).toBeGreaterThanOrEqual(Math.min(1000, Math.floor(exp * 0.75)));
        expect(v).toBeLessThanOrEqual(Math.min(1000, Math.ceil(exp * 1.25)));
        if (k > 0) expect(v).toBeGreaterThanOrEqual(d[k - 1]!);
      }
    }
  });

  it('delay buckets round up to two significant digits', () => {
    expect([0, 1, 37, 99, 100, 101, 1234, 300_000, 299_999].map(delayBucket)).toEqual([0, 1, 37, 99, 100, 110, 1300, 300_000, 300_000]);
  });

  it('createQueue picks RabbitMQ for amqp(s):// and the database otherwise', () => {
    expect(() => createQueue({})).toThrow(QueueError);
    expect(() => createQueue({ url: 'redis://x' })).toThrow(/amqp/);
    const q = createQueue({ url: 'amqps://u:p@example.invalid' });
    expect(q.kind).toBe('rabbitmq');
    void q.close();
  });

  it('RetryLater carries its delay and is recognised by name across module copies', () => {
    const e = new RetryLater(1500, 'circuit open');
    expect(e).toBeInstanceOf(Error);
    expect(e.delayMs).toBe(1500);
    expect(e.name).toBe('RetryLater');
    expect(asRetryLater(e)).toBe(e);
    const foreign = Object.assign(new Error('from another copy of the module'), { name: 'RetryLater', delayMs: 20 });
    expect(asRetryLater(foreign)?.delayMs).toBe(20);
    expect(asRetryLater(new Error('plain'))).toBeUndefined();
  });
});

for (const b of backends) queueSuite(b.make);
