/**
 * A consumer in a child process is killed with SIGKILL in the middle of its handler: the job is
 * redelivered (RabbitMQ: the broker requeues the unacked message when the connection dies; database:
 * the lease lapses) and completed by another consumer, as attempt 2.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, JobQueue } from '../src/index.js';
import { backends, freshQueue, waitFor } from './backends.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const CHILD = join(pkg, 'test', 'fixtures', 'child-consumer.mjs');

/** The child runs the compiled package: build it when dist is older than src. */
function ensureBuilt(): void {
  const newest = (dir: string, ext: string): number => {
    try {
      return Math.max(0, ...readdirSync(dir).filter((f) => f.endsWith(ext)).map((f) => statSync(join(dir, f)).mtimeMs));
    } catch {
      return 0; // not built
    }
  };
  // (tsc -b does not rewrite outputs whose text did not change, but it does update its .tsbuildinfo)
  if (Math.max(newest(join(pkg, 'dist'), '.js'), newest(pkg, '.tsbuildinfo')) >= newest(join(pkg, 'src'), '.ts')) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', pkg], { stdio: 'inherit' });
}

beforeAll(() => ensureBuilt());

describe.concurrent.each(backends)('a consumer killed mid-handler on $name', ({ make }) => {
  const backend = make();
  let q: JobQueue;

  beforeAll(async () => {
    await backend.setup();
    q = backend.make();
  });
  afterAll(async () => {
    await backend.teardown();
  });

  it(`[${backend.name}] SIGKILL mid-handler → the job is redelivered and completed by another consumer`, async () => {
    const name = freshQueue('crash');
    let out = '';
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, QUEUE_CHILD: JSON.stringify({ ...backend.childConfig(), queue: name, leaseMs: 600 }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<string | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    try {
      await waitFor(() => out.includes('ready\n') || child.exitCode !== null, 15_000, 'the child consumer');
      expect(out).toContain('ready');
      await q.publish(name, { victim: true });
      await waitFor(() => out.includes('started '), 10_000, `the child to take the job (${out})`);
      const started = JSON.parse(out.split('started ')[1]!.split('\n')[0]!) as { id: string; attempt: number };
      expect(started.attempt).toBe(1);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      const got: Job[] = [];
      const t0 = Date.now();
      const consumer = await q.consume(name, async (job) => {
        got.push(job);
      });
      await waitFor(() => got.length >= 1, 10_000, 'the redelivery');
      console.log(`[${backend.name}] redelivered ${Date.now() - t0} ms after the kill`);
      expect(got[0]).toMatchObject({ id: started.id, attempt: 2, payload: { victim: true } });
      await waitFor(async () => {
        const s = await q.stats(name);
        return s.ready === 0 && (s.inFlight ?? 0) === 0;
      }, 5000, 'an empty queue');
      expect((await q.stats(name)).dead).toBe(0);
      expect(got).toHaveLength(1);
      await consumer.cancel();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
