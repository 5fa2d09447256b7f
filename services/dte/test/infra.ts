/**
 * Test infrastructure shared by the service's tests: the machine's PostgreSQL (a fresh schema per
 * test file) and RabbitMQ, free ports, and the real service process (dist/server.js).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const PG_URL = process.env.TIMBRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const AMQP_URL = process.env.TIMBRE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const SERVER = fileURLToPath(new URL('../dist/server.js', import.meta.url));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

/** Run SQL as the admin connection (schema creation and removal). */
export async function pgAdmin(sqlText: string): Promise<void> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sqlText);
  } finally {
    await c.end();
  }
}

export async function pgAvailable(): Promise<boolean> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

export async function amqpAvailable(): Promise<boolean> {
  const { connect } = await import('amqplib');
  try {
    await (await connect(AMQP_URL)).close();
    return true;
  } catch {
    return false;
  }
}

/** A fresh PostgreSQL schema, or undefined when PostgreSQL is not reachable. */
export async function pgSchema(prefix = 'test'): Promise<{ schema: string; drop(): Promise<void> } | undefined> {
  if (!(await pgAvailable())) return undefined;
  const schema = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  await pgAdmin(`CREATE SCHEMA ${schema}`);
  return { schema, drop: () => pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}

/** Delete the batch queues a test created under its RabbitMQ prefix. */
export async function deleteBatchQueues(prefix: string): Promise<void> {
  const { connect } = await import('amqplib');
  const c = await connect(AMQP_URL);
  const ch = await c.createChannel();
  for (const q of ['dte.batch.prepare', 'dte.batch.send']) {
    await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
    await ch.deleteQueue(`${prefix}.${q}.dead`).catch(() => undefined);
  }
  await c.close().catch(() => undefined);
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<number | string | null>;
  log(): string;
  /** SIGTERM and wait, unless it already exited. */
  stop(): Promise<void>;
}

/** Start `node dist/server.js` with `env` on a free port; resolves once /health answers. */
export async function startService(env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`service exited at start: ${out}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, child, exited, log: () => out, stop };
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`service did not start: ${out}`);
}
