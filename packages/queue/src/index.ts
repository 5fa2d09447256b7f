/**
 * @timbre/queue — a durable job queue behind one small interface, two implementations:
 * RabbitMQ (QUEUE_URL=amqp://…) and an embedded queue on the service's own database (the default).
 * Delivery is at least once: handlers must be idempotent. See README.md.
 */
import type { Kysely } from 'kysely';
import type { Database } from '@timbre/store';
import { DatabaseJobQueue } from './database.js';
import { RabbitJobQueue } from './rabbitmq.js';
import { consoleLogger, QueueError } from './types.js';
import type { JobQueue, QueueLogger } from './types.js';

export * from './types.js';
export { DatabaseJobQueue } from './database.js';
export { RabbitJobQueue, delayBucket } from './rabbitmq.js';

export interface CreateQueueOptions {
  /** amqp:// or amqps:// → RabbitMQ; unset or empty → the database queue. */
  url?: string;
  /** Required for the database queue (the service's own Kysely handle; close() leaves it open). */
  db?: Kysely<Database>;
  /** RabbitMQ: exchange/queue prefix, default 'timbre' (queues are `${name}.${queue}`). */
  name?: string;
  /** Database: lease of a claimed job, default 60 s (heartbeats extend it every leaseMs/3). */
  leaseMs?: number;
  /** Database: idle polling interval, default 250 ms. */
  pollMs?: number;
  /** close()/cancel(): how long to wait for running handlers, default 30 s. */
  closeTimeoutMs?: number;
  /** RabbitMQ: how long publish()/consume() wait for a connection and a confirm, default 30 s. */
  publishTimeoutMs?: number;
  /** RabbitMQ: TCP connect timeout, default 5 s. */
  connectTimeoutMs?: number;
  /** RabbitMQ: AMQP heartbeat (s) unless the URL sets one, default 15. */
  heartbeatSec?: number;
  /** RabbitMQ: cap of the reconnection backoff, default 10 s. */
  reconnectMaxMs?: number;
  logger?: QueueLogger;
}

export function isAmqpUrl(url: string | undefined): url is string {
  return url !== undefined && /^amqps?:\/\//i.test(url.trim());
}

/** RabbitMQ when `url` is amqp(s)://, else the database queue on `db`. */
export function createQueue(options: CreateQueueOptions): JobQueue {
  const logger = options.logger ?? consoleLogger;
  const url = options.url?.trim();
  if (url) {
    if (!isAmqpUrl(url)) throw new QueueError('ERR_QUEUE_CONFIG', 'QUEUE_URL must be amqp:// or amqps:// (leave it unset for the database queue)');
    return new RabbitJobQueue({
      url,
      logger,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.publishTimeoutMs === undefined ? {} : { publishTimeoutMs: options.publishTimeoutMs }),
      ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.heartbeatSec === undefined ? {} : { heartbeatSec: options.heartbeatSec }),
      ...(options.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: options.reconnectMaxMs }),
    });
  }
  if (!options.db) throw new QueueError('ERR_QUEUE_CONFIG', 'the database queue needs `db` (or set QUEUE_URL=amqp://… for RabbitMQ)');
  return new DatabaseJobQueue({
    db: options.db,
    logger,
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
  });
}

/**
 * From the environment: QUEUE_URL (amqp(s)://… → RabbitMQ, unset → database), QUEUE_PREFIX (RabbitMQ
 * prefix, default 'timbre'). Explicit options win.
 */
export function createQueueFromEnv(options: Omit<CreateQueueOptions, 'url'> & { env?: NodeJS.ProcessEnv } = {}): JobQueue {
  const { env = process.env, ...rest } = options;
  const url = env.QUEUE_URL?.trim();
  const name = rest.name ?? (env.QUEUE_PREFIX?.trim() || undefined);
  return createQueue({ ...rest, ...(url ? { url } : {}), ...(name === undefined ? {} : { name }) });
}
