/**
 * @timbre/cache against the real Redis at REDIS_URL (default redis://127.0.0.1:6379; a unique
 * prefix per run, every key removed afterwards), a Redis that is down, one that never answers, and
 * the in-memory LRU.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache, hashKey, MemoryCache, reconnectDelayMs, redisClientOf, RedisCache, type Cache, type CacheLogger } from '../src/index.js';

const REDIS_URL = process.env.TIMBRE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `timbre-test:${randomUUID()}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordingLogger(): CacheLogger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  return { lines, warn: (_o, msg) => void lines.push({ level: 'warn', msg }), info: (_o, msg) => void lines.push({ level: 'info', msg }) };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

let admin: Redis;
beforeAll(async () => {
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
});
afterAll(async () => {
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  expect(await admin.keys(`${PREFIX}*`)).toEqual([]);
  await admin.quit();
});

describe('Redis cache', () => {
  let cache: Cache;
  beforeAll(() => {
    cache = createCache({ url: REDIS_URL, prefix: PREFIX });
  });
  afterAll(async () => cache.close());

  it('is the Redis kind, healthy, and exposes its client', async () => {
    expect(cache.kind).toBe('redis');
    expect(cache).toBeInstanceOf(RedisCache);
    expect(await cache.health()).toEqual({ ok: true });
    expect(redisClientOf(cache)?.status).toBe('ready');
  });

  it('get / set / del, JSON under the prefix with a PX time to live', async () => {
    expect(await cache.get('a')).toBeUndefined();
    await cache.set('a', { n: 1 }, 60_000);
    expect(await cache.get('a')).toEqual({ n: 1 });
    expect(await admin.get(`${PREFIX}a`)).toBe('{"n":1}');
    const pttl = await admin.pttl(`${PREFIX}a`);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    await cache.del('a');
    expect(await cache.get('a')).toBeUndefined();
    expect(await admin.exists(`${PREFIX}a`)).toBe(0);
  });

  it('round-trips JSON values (Latin-1 text, null, nested) and refuses what JSON cannot hold', async () => {
    const value = { razon: 'Compañía Ñandú', n: 12.5, ok: false, none: null, list: [1, 'dos', { tres: [3] }], empty: '' };
    await cache.set('json', value, 60_000);
    expect(await cache.get('json')).toEqual(value);
    await cache.set('null', null, 60_000);
    expect(await cache.get('null')).toBeNull();
    await cache.set('zero', 0, 60_000);
    expect(await cache.get('zero')).toBe(0);
    await expect(cache.set('big', 10n, 60_000)).rejects.toThrow(TypeError);
    await expect(cache.set('fn', () => 1, 60_000)).rejects.toThrow(TypeError);
    await expect(cache.set('ttl', 1, 0)).rejects.toThrow(RangeError);
  });

  it('expires entries after their TTL', async () => {
    await cache.set('short', 'x', 80);
    expect(await cache.get('short')).toBe('x');
    await sleep(200);
    expect(await cache.get('short')).toBeUndefined();
  });

  it('wrap: 10 concurrent calls → one compute; a second process gets the stored value', async () => {
    let computes = 0;
    const compute = async () => {
      computes++;
      await sleep(50);
      return { v: 42 };
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.wrap('flight', 60_000, compute)));
    expect(computes).toBe(1);
    expect(results).toEqual(Array.from({ length: 10 }, () => ({ v: 42 })));
    const other = createCache({ url: REDIS_URL, prefix: PREFIX });
    try {
      expect(await other.wrap('flight', 60_000, compute)).toEqual({ v: 42 });
      expect(computes).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('wrap: a throwing compute caches nothing and every waiter gets the error', async () => {
    let computes = 0;
    const boom = async () => {
      computes++;
      await sleep(10);
      throw new Error('boom');
    };
    const all = await Promise.allSettled([cache.wrap('fails', 60_000, boom), cache.wrap('fails', 60_000, boom)]);
    expect(all.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(computes).toBe(1);
    expect(await cache.get('fails')).toBeUndefined();
    expect(await cache.wrap('fails', 60_000, async () => 'now fine')).toBe('now fine');
  });

  it('an unreadable value is a miss', async () => {
    await admin.set(`${PREFIX}garbage`, '{not json', 'PX', 60_000);
    expect(await cache.get('garbage')).toBeUndefined();
    expect(await cache.wrap('garbage', 60_000, async () => 'computed')).toBe('computed');
    expect(await cache.get('garbage')).toBe('computed');
  });
});

describe('Redis down: misses, never errors', () => {
  it('a port nothing listens on: get misses, set/del do nothing, wrap computes, health is false, one warning', async () => {
    const log = recordingLogger();
    const url = `redis://:s3cret@127.0.0.1:${await closedPort()}`;
    const cache = createCache({ url, prefix: PREFIX, logger: log });
    const t0 = Date.now();
    expect(await cache.get('x')).toBeUndefined();
    await cache.set('x', 1, 60_000);
    await cache.del('x');
    expect(await cache.get('x')).toBeUndefined();
    let computes = 0;
    const compute = async () => ++computes;
    expect(await Promise.all([cache.wrap('w', 60_000, compute), cache.wrap('w', 60_000, compute)])).toEqual([1, 1]);
    expect(await cache.wrap('w', 60_000, compute)).toBe(2); // nothing kept: computed again
    const health = await cache.health();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/^redis (reconnecting|connecting|connect|wait|close)/);
    expect(health.detail).not.toMatch(/s3cret|127\.0\.0\.1/);
    expect(Date.now() - t0).toBeLessThan(2_000); // fails fast
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    await cache.close();
    expect(await cache.get('x')).toBeUndefined();
  });

  it('a Redis that accepts connections and never answers: misses within the timeouts', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const cache = createCache({ url: `redis://127.0.0.1:${port}`, prefix: PREFIX, connectTimeoutMs: 300, commandTimeoutMs: 200 });
    try {
      const t0 = Date.now();
      expect(await cache.get('x')).toBeUndefined();
      expect(await cache.wrap('x', 60_000, async () => 'computed')).toBe('computed');
      expect((await cache.health()).ok).toBe(false);
      expect(Date.now() - t0).toBeLessThan(3_000);
    } finally {
      await cache.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('comes back: a cache created while Redis is unreachable serves hits once it is reachable', async () => {
    // Simulated with a TCP proxy to the real Redis that starts refusing, then forwards.
    const { connect } = await import('node:net');
    const real = new URL(REDIS_URL);
    let forwarding = false;
    const pipes = new Set<Socket>();
    const proxy = createServer((client) => {
      pipes.add(client);
      client.on('error', () => undefined);
      if (!forwarding) return void client.destroy();
      const upstream = connect(Number(real.port || 6379), real.hostname);
      pipes.add(upstream);
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    const log = recordingLogger();
    const cache = createCache({ url: `redis://127.0.0.1:${port}`, prefix: PREFIX, logger: log });
    try {
      expect(await cache.get('back')).toBeUndefined();
      expect((await cache.health()).ok).toBe(false);
      forwarding = true;
      const deadline = Date.now() + 5_000;
      while (!(await cache.health()).ok && Date.now() < deadline) await sleep(50);
      expect((await cache.health()).ok).toBe(true);
      await cache.set('back', 'yes', 60_000);
      expect(await cache.get('back')).toBe('yes');
      expect(log.lines.map((l) => l.level)).toEqual(['warn', 'info']);
    } finally {
      await cache.close();
      for (const s of pipes) s.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it('refuses a URL that is not redis:// or rediss:// without echoing its password', () => {
    expect(() => createCache({ url: 'http://user:pw123@host:6379' })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => createCache({ url: 'http://user:pw123@host:6379' })).not.toThrow(/pw123/);
  });

  it('reconnects with exponential backoff, capped, with jitter', () => {
    expect(reconnectDelayMs(1, () => 0.5)).toBe(100);
    expect(reconnectDelayMs(4, () => 0.5)).toBe(800);
    expect(reconnectDelayMs(50, () => 0.5)).toBe(10_000);
    expect(reconnectDelayMs(4, () => 0)).toBe(640);
    expect(reconnectDelayMs(4, () => 1)).toBe(960);
  });
});

describe('memory cache', () => {
  it('is the default: LRU with a TTL per entry, copies out, healthy', async () => {
    const cache = createCache();
    expect(cache.kind).toBe('memory');
    expect(redisClientOf(cache)).toBeUndefined();
    expect(await cache.health()).toEqual({ ok: true });
    const value = { list: [1, 2] };
    await cache.set('v', value, 60_000);
    value.list.push(3);
    const got = await cache.get<{ list: number[] }>('v');
    expect(got).toEqual({ list: [1, 2] });
    got!.list.push(4);
    expect(await cache.get('v')).toEqual({ list: [1, 2] });
    await cache.set('short', 1, 50);
    await sleep(120);
    expect(await cache.get('short')).toBeUndefined();
    await cache.del('v');
    expect(await cache.get('v')).toBeUndefined();
    await cache.close();
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const cache = new MemoryCache({ maxEntries: 3 });
    await cache.set('a', 1, 60_000);
    await cache.set('b', 2, 60_000);
    await cache.set('c', 3, 60_000);
    expect(await cache.get('a')).toBe(1); // a is now the most recent
    await cache.set('d', 4, 60_000); // evicts b
    expect(cache.size).toBe(3);
    expect(await cache.get('b')).toBeUndefined();
    expect([await cache.get('a'), await cache.get('c'), await cache.get('d')]).toEqual([1, 3, 4]);
  });

  it('wrap: single flight, errors not cached', async () => {
    const cache = createCache({ maxEntries: 10 });
    let computes = 0;
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.wrap('k', 60_000, async () => ++computes)));
    expect(results).toEqual(Array.from({ length: 10 }, () => 1));
    expect(await cache.wrap('k', 60_000, async () => ++computes)).toBe(1);
    await expect(cache.wrap('e', 60_000, async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await cache.wrap('e', 60_000, async () => 'yes')).toBe('yes');
  });
});

describe('hashKey', () => {
  it('is SHA-256 hex, deterministic, and separates parts', () => {
    const h = hashKey('caf', Buffer.from('<AUTORIZACION/>', 'latin1'));
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey('caf', '<AUTORIZACION/>')).toBe(h);
    expect(hashKey('ab', 'c')).not.toBe(hashKey('a', 'bc'));
    expect(hashKey('abc')).not.toBe(hashKey('ab', 'c'));
  });
});
