/**
 * @timbre/cache — one cache interface, two backends:
 *
 * - **Redis** (`createCache({ url: 'redis://…' })`, ioredis): shared by every process; values are
 *   JSON under `prefix + key` with a `PX` time to live. Commands fail fast when Redis is unreachable
 *   (no offline queue, a short command timeout) and the cache then answers "miss": the caller
 *   computes, slower but with the same result. The client reconnects by itself with backoff.
 * - **Memory** (the default, no URL): an LRU (lru-cache) per process with a time to live per entry.
 *
 * The rule every user of this package follows: **cache loss never changes a result, only its
 * speed.** Cache only values that are either content-addressed (the key is a hash of everything the
 * value depends on — see `hashKey`) or self-correcting (an SII token the SII refuses is dropped and
 * fetched again). `del` is best effort: when Redis is down a deletion is lost, so a value whose
 * staleness would change an answer (a folio count, a document status) does not belong here.
 *
 * @example
 * ```ts
 * const cache = createCache({ url: process.env.REDIS_URL, logger: app.log });
 * const verified = await cache.wrap(`caf-verified:${hashKey(trustFingerprint, cafBytes)}`, 86_400_000, async () => {
 *   verifyCaf(caf, { trustedKeys }); // throws → nothing cached, the caller gets the error
 *   return true;
 * });
 * ```
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

export interface CacheHealth {
  ok: boolean;
  /** Short, safe to show unauthenticated (`/ready`): never a URL, password or address. */
  detail?: string;
}

export interface Cache {
  readonly kind: 'redis' | 'memory';
  /** The value, or `undefined` on a miss — and on any cache failure (logged, never thrown). */
  get<T>(key: string): Promise<T | undefined>;
  /**
   * Store a JSON-serializable value for `ttlMs` (> 0). Cache failures are logged, never thrown;
   * a value JSON cannot represent (a BigInt, a cycle, a function) or a bad TTL is a programming
   * error and throws. `undefined` is not cacheable (it is what a miss looks like); `null` is.
   */
  set<T>(key: string, value: T, ttlMs: number): Promise<void>;
  /** Best effort: a deletion lost while Redis is down is logged, not thrown. */
  del(key: string): Promise<void>;
  /**
   * The cached value, or `compute()`'s, stored for `ttlMs`. Concurrent calls for one key in this
   * process share one `compute` (single flight). Cache failures only mean computing: the result is
   * always `compute()`'s or an earlier one of the same key. A throwing `compute` caches nothing and
   * every waiting caller gets its error. `undefined` results are returned but not cached.
   */
  wrap<T>(key: string, ttlMs: number, compute: () => Promise<T>): Promise<T>;
  /** Redis: PING answered; memory: always ok. */
  health(): Promise<CacheHealth>;
  /** Closes the connection (Redis) or empties the LRU (memory). Later calls are misses. */
  close(): Promise<void>;
}

/** Pino-compatible (Fastify's `app.log` fits). */
export interface CacheLogger {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface CacheOptions {
  /** `redis://` or `rediss://` (TLS) URL; absent or empty: the in-memory LRU. */
  url?: string;
  /** Redis key prefix (default `timbre:`), so several services or test runs share one Redis. */
  prefix?: string;
  /** Memory: most entries kept (default 10 000; least recently used go first). */
  maxEntries?: number;
  logger?: CacheLogger;
  /** Redis: a command not answered within this is a miss, ms (default 500). */
  commandTimeoutMs?: number;
  /** Redis: connection attempt timeout, ms (default 2 000). The first commands wait for the first attempt. */
  connectTimeoutMs?: number;
}

export const CACHE_DEFAULTS = { prefix: 'timbre:', maxEntries: 10_000, commandTimeoutMs: 500, connectTimeoutMs: 2_000 } as const;

/** Redis when `url` is given, the in-memory LRU otherwise. Never connects synchronously, never throws for an unreachable Redis. */
export function createCache(options: CacheOptions = {}): Cache {
  return options.url ? new RedisCache({ ...options, url: options.url }) : new MemoryCache(options);
}

/** The ioredis client behind a Redis cache (to share the connection, e.g. with @fastify/rate-limit), else `undefined`. */
export function redisClientOf(cache: Cache): Redis | undefined {
  return cache instanceof RedisCache ? cache.client : undefined;
}

/**
 * SHA-256 (hex) of the parts, each length-prefixed so `('ab', 'c')` and `('a', 'bc')` differ. For
 * content-addressed keys: hash everything the cached value depends on (bytes, keys, versions).
 */
export function hashKey(...parts: Array<string | Uint8Array>): string {
  const h = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    h.update(`${bytes.length}:`);
    h.update(bytes);
  }
  return h.digest('hex');
}

// ------------------------------------------------------------------------------------------------

function checkTtl(ttlMs: number): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`cache: ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  return Math.max(1, Math.ceil(ttlMs));
}

function serialize(key: string, value: unknown): string {
  const text = JSON.stringify(value); // throws for BigInt and cycles
  if (text === undefined) throw new TypeError(`cache: the value for "${key}" is not JSON-serializable (${typeof value})`);
  return text;
}

/** What to log about an error: its code and message, nothing else (no stack, no options). */
function errorSummary(err: unknown): { code?: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { ...(typeof e?.code === 'string' ? { code: e.code } : {}), message: typeof e?.message === 'string' ? e.message : String(err) };
}

/** `wrap` with single flight on top of a backend's get/set. */
abstract class BaseCache implements Cache {
  abstract readonly kind: 'redis' | 'memory';
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(protected readonly logger?: CacheLogger) {}

  abstract get<T>(key: string): Promise<T | undefined>;
  abstract set<T>(key: string, value: T, ttlMs: number): Promise<void>;
  abstract del(key: string): Promise<void>;
  abstract health(): Promise<CacheHealth>;
  abstract close(): Promise<void>;

  wrap<T>(key: string, ttlMs: number, compute: () => Promise<T>): Promise<T> {
    try {
      checkTtl(ttlMs);
    } catch (err) {
      return Promise.reject(err);
    }
    const running = this.inflight.get(key);
    if (running) return running as Promise<T>;
    const flight = (async () => {
      try {
        const hit = await this.get<T>(key);
        if (hit !== undefined) return hit;
        const value = await compute();
        if (value !== undefined) {
          try {
            await this.set(key, value, ttlMs);
          } catch (err) {
            // Not cacheable (not JSON): the result stands, only it is not kept.
            this.logger?.warn({ key, err: errorSummary(err) }, 'cache: value not cached');
          }
        }
        return value;
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, flight);
    return flight;
  }
}

// ------------------------------------------------------------------------------------------------
// Memory
// ------------------------------------------------------------------------------------------------

/**
 * Per-process LRU. Values are kept as JSON text, so a hit is a fresh copy exactly as Redis would
 * give it (a caller mutating what it got cannot change what the next caller gets).
 */
export class MemoryCache extends BaseCache {
  readonly kind = 'memory' as const;
  private readonly lru: LRUCache<string, string>;

  constructor(options: Pick<CacheOptions, 'maxEntries' | 'logger'> = {}) {
    super(options.logger);
    const max = options.maxEntries ?? CACHE_DEFAULTS.maxEntries;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`cache: maxEntries must be a positive integer, got ${options.maxEntries}`);
    this.lru = new LRUCache<string, string>({ max });
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = this.lru.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async set<T>(key: string, value: T, ttlMs: number): Promise<void> {
    const ttl = checkTtl(ttlMs);
    if (value === undefined) return void this.lru.delete(key);
    this.lru.set(key, serialize(key, value), { ttl });
  }

  async del(key: string): Promise<void> {
    this.lru.delete(key);
  }

  /** Entries currently held (expired ones may still count until touched). */
  get size(): number {
    return this.lru.size;
  }

  async health(): Promise<CacheHealth> {
    return { ok: true };
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}

// ------------------------------------------------------------------------------------------------
// Redis
// ------------------------------------------------------------------------------------------------

/** Reconnection delay after `times` failed attempts: 100 ms doubling to 10 s, ±20 % jitter. */
export function reconnectDelayMs(times: number, random: () => number = Math.random): number {
  const base = Math.min(10_000, 100 * 2 ** Math.max(0, times - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * ioredis with: lazy connection started at construction; no offline queue (a command while
 * disconnected fails at once); `commandTimeoutMs` per command; reconnection forever with backoff.
 * Every failure is a miss, logged once per outage (and "available again" once when it ends).
 */
export class RedisCache extends BaseCache {
  readonly kind = 'redis' as const;
  /** The connection, shareable (its options: no offline queue, short command timeout). */
  readonly client: Redis;
  readonly prefix: string;
  private readonly firstConnect: Promise<void>;
  private degraded = false;
  private closed = false;
  private lastErrorCode: string | undefined;

  constructor(options: CacheOptions & { url: string }) {
    super(options.logger);
    let protocol: string;
    try {
      protocol = new URL(options.url).protocol;
    } catch {
      throw new TypeError(`cache: the Redis URL is not a URL: ${redactUrl(options.url)}`);
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') throw new TypeError(`cache: the Redis URL must be redis:// or rediss://, got ${redactUrl(options.url)}`);
    this.prefix = options.prefix ?? CACHE_DEFAULTS.prefix;
    const connectTimeout = options.connectTimeoutMs ?? CACHE_DEFAULTS.connectTimeoutMs;
    this.client = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false, // fail fast while disconnected…
      commandTimeout: options.commandTimeoutMs ?? CACHE_DEFAULTS.commandTimeoutMs, // …and while Redis hangs
      maxRetriesPerRequest: 1,
      connectTimeout,
      retryStrategy: (times) => reconnectDelayMs(times),
    });
    // Without a listener ioredis prints every failed reconnection to stderr.
    this.client.on('error', (err) => this.failed('connection', err));
    this.client.on('ready', () => this.succeeded());
    // The first commands wait for the first attempt (not for the retries): a service starting
    // next to its Redis finds it ready, one starting without it is not held up.
    let timer: NodeJS.Timeout | undefined;
    this.firstConnect = Promise.race([
      this.client.connect().then(
        () => undefined,
        () => undefined, // reported by the 'error' listener; reconnection goes on
      ),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, connectTimeout + 100);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  }

  private key(key: string): string {
    return this.prefix + key;
  }

  private failed(op: string, err: unknown): void {
    if (this.closed) return;
    const summary = errorSummary(err);
    this.lastErrorCode = summary.code ?? (/timed? ?out/i.test(summary.message) ? 'ETIMEDOUT' : 'ERROR');
    if (this.degraded) return;
    this.degraded = true;
    this.logger?.warn({ op, err: summary }, 'cache: Redis unavailable, answering misses (results unchanged, only slower) until it is back');
  }

  private succeeded(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.lastErrorCode = undefined;
    if (this.logger?.info) this.logger.info({}, 'cache: Redis available again');
    else this.logger?.warn({}, 'cache: Redis available again');
  }

  async get<T>(key: string): Promise<T | undefined> {
    await this.firstConnect;
    if (this.closed) return undefined;
    let text: string | null;
    try {
      text = await this.client.get(this.key(key));
    } catch (err) {
      this.failed('get', err);
      return undefined;
    }
    this.succeeded();
    if (text === null) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      this.logger?.warn({ key }, 'cache: unreadable value treated as a miss');
      return undefined;
    }
  }

  async set<T>(key: string, value: T, ttlMs: number): Promise<void> {
    const ttl = checkTtl(ttlMs);
    if (value === undefined) return this.del(key);
    const text = serialize(key, value);
    await this.firstConnect;
    if (this.closed) return;
    try {
      await this.client.set(this.key(key), text, 'PX', ttl);
      this.succeeded();
    } catch (err) {
      this.failed('set', err);
    }
  }

  async del(key: string): Promise<void> {
    await this.firstConnect;
    if (this.closed) return;
    try {
      await this.client.del(this.key(key));
      this.succeeded();
    } catch (err) {
      this.failed('del', err);
    }
  }

  async health(): Promise<CacheHealth> {
    await this.firstConnect;
    if (this.closed) return { ok: false, detail: 'closed' };
    if (this.client.status !== 'ready') return { ok: false, detail: `redis ${this.client.status}${this.lastErrorCode ? ` (${this.lastErrorCode})` : ''}` };
    try {
      const pong = await this.client.ping();
      this.succeeded();
      return pong === 'PONG' ? { ok: true } : { ok: false, detail: 'unexpected PING answer' };
    } catch (err) {
      this.failed('ping', err);
      return { ok: false, detail: `redis ping failed (${this.lastErrorCode})` };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
        return;
      } catch {
        // fall through
      }
    }
    this.client.disconnect(); // also stops reconnecting
  }
}
