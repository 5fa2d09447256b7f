/**
 * The three real backends the queue tests run on: RabbitMQ (amqp://guest:guest@127.0.0.1:5672 or
 * TIMBRE_TEST_AMQP_URL), the database queue on a SQLite temp file, and on a fresh PostgreSQL schema
 * (TIMBRE_TEST_PG_URL). Every run uses its own prefix/schema/file and removes them afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { createDb, migrateToLatest } from '@timbre/store';
import type { Database } from '@timbre/store';
import { createQueue, RabbitJobQueue } from '../src/index.js';
import type { CreateQueueOptions, JobQueue, QueueLogger } from '../src/index.js';

export const AMQP_URL = process.env.TIMBRE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const PG_URL = process.env.TIMBRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects warnings/errors instead of printing them (tests look at them). */
export function memoryLogger(): QueueLogger & { lines: Array<{ level: string; m: string; o: object }> } {
  const lines: Array<{ level: string; m: string; o: object }> = [];
  return {
    lines,
    warn: (o, m) => lines.push({ level: 'warn', m: m ?? '', o }),
    error: (o, m) => lines.push({ level: 'error', m: m ?? '', o }),
  };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export interface Backend {
  name: 'rabbitmq' | 'sqlite' | 'postgres';
  kind: 'rabbitmq' | 'database';
  setup(): Promise<void>;
  /** A queue instance on this backend (closed at teardown). */
  make(options?: Partial<CreateQueueOptions>): JobQueue;
  /** A queue instance whose broker/database cannot be reached. */
  unreachable(): JobQueue;
  /** What a child process needs to reach the same backend (see fixtures/child-consumer.mjs). */
  childConfig(): Record<string, unknown>;
  teardown(): Promise<void>;
}

const runId = () => `${process.pid}_${randomBytes(3).toString('hex')}`;

export function rabbitBackend(): Backend {
  const prefix = `test_q_${runId()}`;
  const made: JobQueue[] = [];
  const extra = new Set<string>();
  return {
    name: 'rabbitmq',
    kind: 'rabbitmq',
    async setup() {},
    make(options = {}) {
      const q = createQueue({ url: AMQP_URL, name: prefix, logger: memoryLogger(), closeTimeoutMs: 5000, publishTimeoutMs: 10_000, ...options });
      made.push(q);
      return q;
    },
    unreachable() {
      const q = createQueue({ url: 'amqp://guest:guest@127.0.0.1:1', name: prefix, logger: memoryLogger(), publishTimeoutMs: 250, connectTimeoutMs: 250 });
      made.push(q);
      return q;
    },
    childConfig() {
      return { amqpUrl: AMQP_URL, prefix };
    },
    async teardown() {
      for (const q of made) {
        if (q instanceof RabbitJobQueue) for (const n of q.knownQueues()) extra.add(n);
        await q.close();
      }
      const conn = await amqp.connect(AMQP_URL);
      const ch = await conn.createChannel();
      for (const n of extra) if (n.startsWith(`${prefix}.`)) await ch.deleteQueue(n);
      await conn.close();
    },
  };
}

export function sqliteBackend(): Backend {
  let dir = '';
  let url = '';
  let db: Kysely<Database>;
  const made: JobQueue[] = [];
  const dbs: Kysely<Database>[] = [];
  return {
    name: 'sqlite',
    kind: 'database',
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'timbre-queue-'));
      url = `sqlite:${join(dir, 'timbre.db')}`;
      db = createDb({ url });
      dbs.push(db);
      await migrateToLatest(db);
    },
    make(options = {}) {
      const q = createQueue({ db, logger: memoryLogger(), pollMs: 20, leaseMs: 2000, closeTimeoutMs: 5000, ...options });
      made.push(q);
      return q;
    },
    unreachable() {
      // a database without the queue's table (migrations never ran)
      const empty = createDb({ url: `sqlite:${join(dir, 'empty.db')}` });
      dbs.push(empty);
      const q = createQueue({ db: empty, logger: memoryLogger() });
      made.push(q);
      return q;
    },
    childConfig() {
      return { dbUrl: url };
    },
    async teardown() {
      for (const q of made) await q.close();
      for (const d of dbs) await d.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): Backend {
  const schema = `test_queue_${runId()}`;
  let db: Kysely<Database>;
  const made: JobQueue[] = [];
  const dbs: Kysely<Database>[] = [];
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  return {
    name: 'postgres',
    kind: 'database',
    async setup() {
      await admin.query(`CREATE SCHEMA ${schema}`);
      db = createDb({ url: PG_URL, searchPath: schema, maxConnections: 10 });
      dbs.push(db);
      await migrateToLatest(db, { schema });
    },
    make(options = {}) {
      const q = createQueue({ db, logger: memoryLogger(), pollMs: 20, leaseMs: 2000, closeTimeoutMs: 5000, ...options });
      made.push(q);
      return q;
    },
    unreachable() {
      const nowhere = createDb({ url: 'postgres://postgres@127.0.0.1:1/test', maxConnections: 1 });
      dbs.push(nowhere);
      const q = createQueue({ db: nowhere, logger: memoryLogger() });
      made.push(q);
      return q;
    },
    childConfig() {
      return { dbUrl: PG_URL, schema };
    },
    async teardown() {
      for (const q of made) await q.close();
      for (const d of dbs) await d.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

export const backends = [
  { name: 'rabbitmq', make: rabbitBackend },
  { name: 'sqlite', make: sqliteBackend },
  { name: 'postgres', make: postgresBackend },
] as const;

let queueCounter = 0;
/** A queue name of its own for each test. */
export const freshQueue = (label: string): string => `${label}-${++queueCounter}-${randomBytes(2).toString('hex')}`;
