// Batch benchmark: documents/s end to end for one batch of N facturas (default 5,000; --quick: 500)
// through `POST /api/v1/dte/batch`, compared in the same run with the core-only ceiling (@timbre/dte
// alone, one thread: parseDteInput → inputToDte → emitDte, as bench/core.js and bench/api.js).
//
//   npm run bench -- batch [--quick] [--docs=N] [--db=pg,sqlite] [--pg=URL] [--amqp=URL] [--repeat=N]
//                          [--envelope-size=200] [--send-concurrency=2] [--core-seconds=3]
//                          [--service-log=warn]   (the service's pino log on stdout; off by default)
//
// Two setups, each on a fresh database, simulator and service: PostgreSQL (a fresh schema, dropped
// afterwards) with RabbitMQ (a unique queue prefix, its queues deleted afterwards), and SQLite (a temp
// file) with the embedded queue. A setup whose server is unreachable is skipped with a message.
//
// End to end = from the moment the POST is sent to the moment EVERY document of the batch is
//   - `sent`: the submission (validated, folio, stamped + signed, in an envelope, uploaded), and
//   - `accepted`: the status poller asked the SII and recorded its answer.
// Progress is read from the service's database every 50 ms by this process (a separate connection;
// SQLite in WAL mode allows the reader), not with GET /api/v1/dte/batch/{id}: a 5,000-document
// progress answer is a megabyte of JSON whose cost would be charged to the service ~20 times a
// second. At the end GET /api/v1/dte/batch/{id} must say: all accepted, folios 1..N in item order;
// and the simulator must hold each folio in exactly one envío, never seen twice (DTE-3-100/101).
//
// The service runs as it would in production except for the status poller's pace, set like
// services/dte/test/batch-rabbit.test.ts (every 200 ms, 500 documents and 100 SII queries per company
// per pass): with the defaults (every 5 s) the `accepted` figure would measure the poller's
// politeness towards the SII, not the service. The simulator answers final statuses at once
// (statusDelayMs 0); it verifies every document of every upload like the SII (signatures, TED, CAF,
// folios), which costs about as much CPU as issuing them, so it runs in its own process.
//
// Process layout (child_process.fork of this file, role in TIMBRE_BENCH_BATCH_ROLE): this process
// measures the core ceiling, then orchestrates the simulator and the service, each in its own process
// so that the service's CPU, RSS and heap are its own. Memory: the service samples its RSS and
// heapUsed every 250 ms from the POST to the last `accepted`; printed are min / max / last and the
// least-squares slope (MiB/s) of each, over the whole batch and over its second half (the first
// seconds ramp up to the working set), and the live heap after a full GC before and after the batch
// (the children run with --expose-gc). The machine has 2 cores: the service, the simulator, PostgreSQL
// and RabbitMQ share them, so the figures are a lower bound of a service with the cores to itself.
// Last line: one JSON object; exit code 1 when a check fails.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, clearTimeout, setImmediate, setInterval, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { rate as rateOf } from './lib/rate.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), '..');
const RUT = '76086428-5';
const RAZON_SOCIAL = 'EMPRESA DEMO TIMBRE SPA';
const ROLE_ENV = 'TIMBRE_BENCH_BATCH_ROLE';
const POLL = { intervalMs: 200, baseMs: 200, maxMs: 1_000, batch: 500, perCompany: 100 };
const MIB = 1024 * 1024;
const { fetch } = globalThis; // Node 20's fetch (the lint config declares only a few Node globals)
const storeRequire = createRequire(path.join(root, 'packages/store/package.json'));

// ---------------------------------------------------------------------------------------------
// Child roles
// ---------------------------------------------------------------------------------------------

/** Answer {id, cmd} messages from the parent with {id, ...reply}. */
function serve(handlers) {
  process.on('message', async (m) => {
    try {
      const reply = await handlers[m.cmd](m);
      process.send({ id: m.id, ok: true, reply });
    } catch (e) {
      process.send({ id: m.id, ok: false, error: e instanceof Error ? e.stack : String(e) });
    }
  });
}

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

async function roleSim() {
  const { createSimulator } = await import('@timbre/sii-sim');
  const sim = createSimulator({ statusDelayMs: 0 });
  const url = await sim.start(0);
  serve({
    cpu: () => ({ cpuMs: cpuMs() }),
    /** Per folio (type 33): in how many envíos the SII holds it; documents it saw twice. */
    ledger: () => {
      const count = {};
      let duplicates = 0;
      let envios = 0;
      const estados = {};
      for (const e of sim.state.envios.values()) {
        envios++;
        for (const d of e.documentos) {
          if (d.tipoDte === 33 && d.folio !== undefined) count[d.folio] = (count[d.folio] ?? 0) + 1;
          estados[d.estado] = (estados[d.estado] ?? 0) + 1;
          if (d.errores.some((o) => o.code === 'DTE-3-100' || o.code === 'DTE-3-101')) duplicates++;
        }
      }
      return { count, duplicates, envios, estados };
    },
    close: async () => {
      await sim.close();
      setImmediate(() => process.exit(0));
      return {};
    },
  });
  process.send({ type: 'ready', url });
}

async function roleService() {
  const { buildApp } = await import(new URL('../services/dte/dist/app.js', import.meta.url).href);
  const cfg = JSON.parse(process.env.TIMBRE_BENCH_BATCH_CONFIG);
  const app = await buildApp({
    databaseUrl: cfg.databaseUrl,
    ...(cfg.searchPath ? { databaseSearchPath: cfg.searchPath } : {}),
    masterKey: Buffer.from(cfg.masterKey, 'hex'),
    jwtKey: new Uint8Array(Buffer.from(cfg.jwtKey, 'hex')),
    sii: { environment: 'sim', url: cfg.simUrl, maxAttempts: 1, timeoutMs: 60_000 },
    ...(cfg.queueUrl ? { queueUrl: cfg.queueUrl, queueName: cfg.queueName } : {}),
    batch: { ...(cfg.envelopeSize ? { envelopeSize: cfg.envelopeSize } : {}), ...(cfg.sendConcurrency ? { sendConcurrency: cfg.sendConcurrency } : {}) },
    pipeline: { poll: POLL },
    rateLimit: false,
    ...(cfg.logLevel ? { logger: { level: cfg.logLevel } } : {}),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  let samples = [];
  let timer;
  let t0 = 0;
  let cpu0 = 0;
  const sample = () => {
    const m = process.memoryUsage();
    samples.push({ t: (performance.now() - t0) / 1000, rss: m.rss, heapUsed: m.heapUsed });
  };
  // Live heap after a full collection (the child runs with --expose-gc): what a leak would grow.
  const liveHeap = () => {
    globalThis.gc?.();
    return process.memoryUsage().heapUsed;
  };
  serve({
    'mem-start': () => {
      const heapBefore = liveHeap();
      samples = [];
      t0 = performance.now();
      cpu0 = cpuMs();
      sample();
      timer = setInterval(sample, 250);
      return { heapBefore };
    },
    'mem-stop': () => {
      clearInterval(timer);
      sample();
      const cpu = cpuMs() - cpu0;
      return { samples, cpuMs: cpu, maxRssKb: process.resourceUsage().maxRSS, heapAfter: liveHeap() };
    },
    close: async () => {
      clearInterval(timer);
      await app.close();
      setImmediate(() => process.exit(0));
      return {};
    },
  });
  process.send({ type: 'ready', url });
}

// ---------------------------------------------------------------------------------------------
// Orchestrator
// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const flags = {};
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m) flags[m[1]] = m[2] ?? true;
  }
  const quick = flags.quick === true;
  const num = (k, d) => {
    if (flags[k] === undefined) return d;
    const n = Number(flags[k]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k} must be a non-negative number`);
    return n;
  };
  const dbs = typeof flags.db === 'string' ? flags.db.split(',') : ['pg', 'sqlite'];
  for (const d of dbs) if (d !== 'sqlite' && d !== 'pg') throw new Error(`--db: unknown setup "${d}" (pg, sqlite)`);
  const docs = Math.trunc(num('docs', quick ? 500 : 5000));
  if (docs < 1 || docs > 5000) throw new Error('--docs must be 1..5000 (the API takes at most 5,000 documents per batch)');
  return {
    quick,
    docs,
    repeat: Math.max(1, Math.trunc(num('repeat', 1))),
    dbs,
    pgUrl: typeof flags.pg === 'string' ? flags.pg : (process.env.TIMBRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'),
    amqpUrl: typeof flags.amqp === 'string' ? flags.amqp : (process.env.TIMBRE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'),
    envelopeSize: flags['envelope-size'] === undefined ? undefined : Math.trunc(num('envelope-size', 200)),
    sendConcurrency: flags['send-concurrency'] === undefined ? undefined : Math.trunc(num('send-concurrency', 2)),
    coreSeconds: num('core-seconds', quick ? 1 : 3),
    serviceLog: typeof flags['service-log'] === 'string' ? flags['service-log'] : undefined,
  };
}

/** A forked child in `role`; resolves `ready` once it reported ready. */
function startChild(role, extraEnv = {}) {
  const proc = fork(here, [], { env: { ...process.env, [ROLE_ENV]: role, ...extraEnv }, execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 1;
  let exited = false;
  const ready = new Promise((resolve, reject) => {
    proc.on('message', (m) => {
      if (m.type === 'ready') resolve(m);
      else if (m.id !== undefined && pending.has(m.id)) {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.ok) p.resolve(m.reply);
        else p.reject(new Error(`${role}: ${m.error}`));
      }
    });
    proc.on('exit', (code, signal) => {
      exited = true;
      const err = new Error(`${role} process exited (${signal ?? code})`);
      reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
  });
  return {
    ready,
    request(cmd, payload = {}) {
      if (exited) return Promise.reject(new Error(`${role} process is gone`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        proc.send({ id, cmd, ...payload });
      });
    },
    async close() {
      if (exited) return;
      const gone = new Promise((r) => proc.once('exit', r));
      await this.request('close').catch(() => {});
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}


/** The core ceiling: JSON input → stamped + signed DTE, parseDteInput included (the service validates every document). */
async function coreCeiling(example, seconds) {
  const { emitDte, generateFixtures, inputToDte, loadPkcs12, parseCaf, parseDteInput } = await import('@timbre/dte');
  const fx = generateFixtures({ desde: 1, hasta: 10_000_000, fechaAutorizacion: '2026-11-01', tipos: [33] });
  const cert = loadPkcs12(fx.p12, fx.p12Password, { now: new Date('2026-11-27T12:00:00Z') });
  const opts = { cafs: fx.cafs.map((c) => parseCaf(c.xml)), signer: cert, now: '2026-11-27T10:00:00' };
  let folio = 1;
  return rateOf(() => emitDte(inputToDte(parseDteInput(example), { folio: folio++, fchEmis: '2026-11-27' }), opts), { seconds });
}

async function pgReachable(pg, url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (e) {
    await client.end().catch(() => {});
    return e instanceof Error ? e.message : String(e);
  }
}

async function pgQuery(pg, url, sql) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function amqpReachable(url) {
  try {
    const { default: amqp } = await import('amqplib');
    const c = await amqp.connect(url, { timeout: 2000 });
    await c.close();
    return true;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Delete the work and dead-letter queues of a prefix (delay buckets expire on their own: x-expires). */
async function amqpCleanup(url, prefix) {
  const { default: amqp } = await import('amqplib');
  const c = await amqp.connect(url);
  try {
    const ch = await c.createChannel();
    ch.on('error', () => {});
    for (const q of ['dte.batch.prepare', 'dte.batch.send']) {
      for (const name of [`${prefix}.${q}`, `${prefix}.${q}.dead`]) await ch.deleteQueue(name).catch(() => undefined);
    }
  } finally {
    await c.close().catch(() => undefined);
  }
}

async function httpJson(method, url, { token, body, type = 'application/json' } = {}) {
  const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}) };
  let payload;
  if (body !== undefined) {
    headers['content-type'] = type;
    payload = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(url, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, text, json };
}

async function provision(serviceUrl, simUrl, admin, fx, hasta) {
  const expect201 = (what, r) => {
    if (r.status !== 201) throw new Error(`${what}: ${r.status} ${r.text.slice(0, 500)}`);
  };
  const fchResol = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  expect201('company', await httpJson('POST', `${serviceUrl}/api/v1/companies`, { token: admin, body: { rut: RUT, razon_social: RAZON_SOCIAL, nro_resol: 0, fch_resol: fchResol } }));
  expect201('certificate', await httpJson('POST', `${serviceUrl}/api/v1/dte/certificate/upload`, { token: admin, body: { rut_company: RUT, p12_base64: fx.p12.toString('base64'), password: fx.p12Password } }));
  const caf = await fetch(`${simUrl}/sim/caf`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rutEmisor: RUT, razonSocial: RAZON_SOCIAL, tipoDte: 33, desde: 1, hasta }),
  });
  if (caf.status !== 201) throw new Error(`simulator CAF: ${caf.status} ${await caf.text()}`);
  expect201('CAF upload', await httpJson('POST', `${serviceUrl}/api/v1/dte/caf/upload`, { token: admin, body: Buffer.from(await caf.arrayBuffer()), type: 'application/xml' }));
}

/** Status counts of the batch's documents, read from the service's database (a connection of our own). */
async function progressReader(setup) {
  if (setup.kind === 'pg') {
    const pg = storeRequire('pg');
    const client = new pg.Client({ connectionString: setup.url });
    await client.connect();
    await client.query(`SET search_path TO ${setup.searchPath}`);
    return {
      async counts(batchId) {
        const r = await client.query('SELECT status, count(*)::int AS n FROM dte WHERE batch_id = $1 GROUP BY status', [batchId]);
        return Object.fromEntries(r.rows.map((row) => [row.status, row.n]));
      },
      close: () => client.end(),
    };
  }
  const Sqlite = storeRequire('better-sqlite3');
  let db;
  let stmt;
  return {
    async counts(batchId) {
      // Opened on first use: the service creates the file and its schema.
      if (!db) {
        db = new Sqlite(setup.file, { readonly: true, fileMustExist: true });
        db.pragma('busy_timeout = 1000');
        stmt = db.prepare('SELECT status, count(*) AS n FROM dte WHERE batch_id = ? GROUP BY status');
      }
      return Object.fromEntries(stmt.all(batchId).map((row) => [row.status, row.n]));
    },
    close: async () => db?.close(),
  };
}

/** Least-squares slope of y over t (units of y per second). */
function slope(points, key) {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p[key], 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p[key] - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function memSummary(samples, key) {
  const v = samples.map((s) => s[key]);
  const end = samples[samples.length - 1]?.t ?? 0;
  // The first seconds are the ramp from an idle process to the batch's working set (the 7 MB body,
  // its 5,000 validated documents, envelopes in flight, V8 growing its heap): the second half shows
  // whether it keeps growing.
  return { min: Math.min(...v), max: Math.max(...v), last: v[v.length - 1], slope: slope(samples, key), slope2: slope(samples.filter((x) => x.t >= end / 2), key) };
}

const FINAL_BAD = ['error', 'rejected', 'accepted_with_reparos'];

/** One batch on a fresh simulator, service and database. */
async function runOnce(setup, ctx) {
  const { args, fx, jwtKey, body } = ctx;
  const { signToken } = await import('@timbre/auth');
  const sim = startChild('sim');
  let service;
  let reader;
  try {
    const simUrl = (await sim.ready).url;
    service = startChild('service', {
      TIMBRE_BENCH_BATCH_CONFIG: JSON.stringify({
        databaseUrl: setup.databaseUrl,
        searchPath: setup.searchPath,
        queueUrl: setup.queueUrl,
        queueName: setup.queueName,
        masterKey: randomBytes(32).toString('hex'),
        jwtKey: Buffer.from(jwtKey).toString('hex'),
        simUrl,
        envelopeSize: args.envelopeSize,
        sendConcurrency: args.sendConcurrency,
        logLevel: args.serviceLog,
      }),
    });
    const serviceUrl = (await service.ready).url;
    const admin = await signToken({ sub: 'bench-admin', companies: [RUT], permissions: ['admin'] }, jwtKey, { expiresIn: '2h' });
    const odoo = await signToken({ sub: 'bench-odoo', companies: [RUT], permissions: ['dte:generate', 'dte:read'] }, jwtKey, { expiresIn: '2h' });
    await provision(serviceUrl, simUrl, admin, fx, args.docs + 100);
    reader = await progressReader(setup);

    const n = args.docs;
    const simCpu0 = (await sim.request('cpu')).cpuMs;
    const { heapBefore } = await service.request('mem-start');
    const t0 = performance.now();
    const at = (ms) => (ms - t0) / 1000;
    const created = await httpJson('POST', `${serviceUrl}/api/v1/dte/batch`, { token: odoo, body });
    const answeredAt = performance.now();
    if (created.status !== 202) throw new Error(`POST /api/v1/dte/batch: ${created.status} ${created.text.slice(0, 500)}`);
    const batchId = created.json.batch_id;

    const marks = {};
    let last = {};
    for (;;) {
      const c = await reader.counts(batchId);
      const now = performance.now();
      last = c;
      const total = Object.values(c).reduce((a, b) => a + b, 0);
      const submitted = (c.sent ?? 0) + (c.accepted ?? 0) + FINAL_BAD.reduce((a, k) => a + (c[k] ?? 0), 0);
      if (marks.drafts === undefined && total === n) marks.drafts = now;
      if (marks.firstSent === undefined && submitted > 0) marks.firstSent = now;
      if (marks.sent === undefined && submitted === n) marks.sent = now;
      if ((c.accepted ?? 0) === n) {
        marks.accepted = now;
        break;
      }
      if (FINAL_BAD.some((k) => (c[k] ?? 0) > 0) && submitted === n && (c.sent ?? 0) === 0) break; // final, but not all accepted
      if (now - t0 > 15 * 60_000) throw new Error(`the batch did not finish in 15 minutes: ${JSON.stringify(c)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const mem = await service.request('mem-stop');
    const simCpuMs = (await sim.request('cpu')).cpuMs - simCpu0;

    // ---- checks
    const problems = [];
    if (marks.accepted === undefined) problems.push(`not every document was accepted: ${JSON.stringify(last)}`);
    const progress = await httpJson('GET', `${serviceUrl}/api/v1/dte/batch/${batchId}`, { token: odoo });
    if (progress.status !== 200) problems.push(`GET batch: ${progress.status}`);
    else {
      const docs = progress.json.documents;
      if (docs.length !== n) problems.push(`${docs.length} documents in the batch, expected ${n}`);
      const bad = docs.filter((d) => d.status !== 'accepted');
      if (bad.length > 0) problems.push(`${bad.length} documents not accepted (first: ${JSON.stringify(bad[0])})`);
      const wrong = docs.findIndex((d, i) => d.folio !== i + 1);
      if (wrong >= 0) problems.push(`document ${wrong} has folio ${docs[wrong].folio}, expected ${wrong + 1} (folios in item order, none skipped)`);
      if (new Set(docs.map((d) => d.id)).size !== docs.length) problems.push('a document id appears twice');
      if (progress.json.status !== 'done') problems.push(`batch status ${progress.json.status}`);
    }
    const ledger = await sim.request('ledger');
    for (let f = 1; f <= n; f++) {
      if (ledger.count[f] !== 1) {
        problems.push(`the simulator holds folio ${f} in ${ledger.count[f] ?? 0} envíos (expected exactly 1)`);
        break;
      }
    }
    if (ledger.duplicates > 0) problems.push(`the simulator saw ${ledger.duplicates} documents twice (DTE-3-100/101)`);

    return {
      n,
      answer: at(answeredAt),
      drafts: marks.drafts !== undefined ? at(marks.drafts) : NaN,
      firstSent: marks.firstSent !== undefined ? at(marks.firstSent) : NaN,
      sent: marks.sent !== undefined ? at(marks.sent) : NaN,
      accepted: marks.accepted !== undefined ? at(marks.accepted) : NaN,
      envios: ledger.envios,
      serviceCpuMsPerDoc: mem.cpuMs / n,
      simCpuMsPerDoc: simCpuMs / n,
      rss: memSummary(mem.samples, 'rss'),
      heap: memSummary(mem.samples, 'heapUsed'),
      samples: mem.samples.length,
      maxRssKb: mem.maxRssKb,
      liveHeapBefore: heapBefore,
      liveHeapAfter: mem.heapAfter,
      problems,
    };
  } finally {
    await reader?.close().catch(() => {});
    if (service) await service.close();
    await sim.close();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const example = JSON.parse(readFileSync(path.join(root, 'examples/dte/33.json'), 'utf8'));
  const doc = { ...example };
  delete doc.fecha_emision; // the service dates it
  const body = JSON.stringify({ documents: Array.from({ length: args.docs }, () => doc) });
  const cpus = os.cpus();
  console.log(`batch bench: ONE batch of ${args.docs.toLocaleString('en-US')} facturas (examples/dte/33.json without fecha_emision; body ${(body.length / MIB).toFixed(1)} MiB)`);
  console.log(`machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? '?'}), node ${process.version}; simulator and service in 2 processes + the database (+ RabbitMQ)`);
  console.log(`service: envelopeSize ${args.envelopeSize ?? 'default (200)'}, sendConcurrency ${args.sendConcurrency ?? 'default (2)'}, status poller every ${POLL.intervalMs} ms; ${args.repeat} run(s) per setup`);

  // (1) The core ceiling, before anything else runs.
  const core = await coreCeiling(example, args.coreSeconds);
  console.log(`core ceiling (@timbre/dte alone, one thread): JSON input → stamped + signed DTE ${core.toFixed(0)} docs/s`);

  const { generateFixtures } = await import('@timbre/dte');
  const fx = generateFixtures({ tipos: [33] });
  const jwtKey = new Uint8Array(randomBytes(32));
  const results = [];
  const notes = [];
  for (const db of args.dbs) {
    const runs = [];
    for (let r = 0; r < args.repeat; r++) {
      let setup;
      let cleanup = async () => {};
      if (db === 'pg') {
        const pg = storeRequire('pg');
        const reachable = await pgReachable(pg, args.pgUrl);
        if (reachable !== true) {
          notes.push(`PostgreSQL + RabbitMQ: skipped, ${args.pgUrl.replace(/\/\/[^@/]*@/, '//…@')} unreachable (${reachable}); set TIMBRE_TEST_PG_URL or --pg=URL`);
          break;
        }
        const amqpOk = await amqpReachable(args.amqpUrl);
        if (amqpOk !== true) {
          notes.push(`PostgreSQL + RabbitMQ: skipped, RabbitMQ unreachable (${amqpOk}); set TIMBRE_TEST_AMQP_URL or --amqp=URL`);
          break;
        }
        const schema = `bench_batch_${randomBytes(5).toString('hex')}`;
        const queueName = `timbre-bench-${randomBytes(4).toString('hex')}`;
        await pgQuery(pg, args.pgUrl, `CREATE SCHEMA ${schema}`);
        setup = { kind: 'pg', name: 'PostgreSQL + RabbitMQ', databaseUrl: args.pgUrl, url: args.pgUrl, searchPath: schema, queueUrl: args.amqpUrl, queueName };
        cleanup = async () => {
          await pgQuery(pg, args.pgUrl, `DROP SCHEMA ${schema} CASCADE`);
          await amqpCleanup(args.amqpUrl, queueName);
        };
      } else {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'timbre-bench-batch-'));
        const file = path.join(dir, 'bench.db');
        setup = { kind: 'sqlite', name: 'SQLite + embedded queue', databaseUrl: `sqlite:${file}`, file };
        cleanup = async () => rmSync(dir, { recursive: true, force: true });
      }
      console.log(`… ${setup.name}${args.repeat > 1 ? ` (run ${r + 1}/${args.repeat})` : ''}`);
      try {
        runs.push(await runOnce(setup, { args, fx, jwtKey, body }));
      } catch (e) {
        runs.push({ failed: true, problems: [`FAILED: ${e instanceof Error ? e.message : String(e)}`] });
      } finally {
        await cleanup().catch((e) => notes.push(`cleanup of ${setup.name} failed: ${e instanceof Error ? e.message : String(e)}`));
      }
    }
    if (runs.length > 0) results.push({ db, name: db === 'pg' ? 'PostgreSQL + RabbitMQ' : 'SQLite + embedded queue', runs });
  }

  // ---- report
  const s1 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
  const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : '-');
  const mib = (b) => (b / MIB).toFixed(0);
  const median = (xs) => {
    const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
    return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const rows = [['setup', 'run', 'POST 202 s', 'drafts s', '1st sent s', 'all sent s', 'all accepted s', 'sent docs/s', 'of core', 'accepted docs/s', 'of core', 'svc ms/doc', 'sim ms/doc', 'envíos']];
  for (const res of results) {
    res.runs.forEach((r, i) => {
      if (r.failed) return;
      rows.push([res.name, String(i + 1), s1(r.answer), s1(r.drafts), s1(r.firstSent), s1(r.sent), s1(r.accepted), int(r.n / r.sent), pct(r.n / r.sent / core), int(r.n / r.accepted), pct(r.n / r.accepted / core), r.serviceCpuMsPerDoc.toFixed(2), r.simCpuMsPerDoc.toFixed(2), String(r.envios)]);
    });
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log('');
  console.log(`core ceiling: ${int(core)} docs/s (input → stamped + signed, one thread)`);
  rows.forEach((r, i) => {
    console.log(r.map((c, j) => (j < 1 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
  console.log('(times from the POST; "of core" = rate ÷ core ceiling; svc/sim ms/doc = CPU of the service / simulator process over the batch)');
  let failed = false;
  const json = { bench: 'batch', docs: args.docs, repeat: args.repeat, core_docs_per_s: Math.round(core) };
  for (const res of results) {
    const ok = res.runs.filter((r) => !r.failed);
    for (const [i, r] of res.runs.entries()) {
      if (r.problems.length > 0) {
        failed = true;
        console.log(`${res.name} run ${i + 1}: PROBLEMS:\n  ${r.problems.join('\n  ')}`);
      }
    }
    if (ok.length === 0) continue;
    const last = ok[ok.length - 1];
    for (const [label, m] of [
      ['RSS', last.rss],
      ['heapUsed', last.heap],
    ]) {
      console.log(
        `${res.name}: service ${label} over the batch (${last.samples} samples, every 250 ms): min ${mib(m.min)}, max ${mib(m.max)}, last ${mib(m.last)} MiB; ` +
          `slope ${(m.slope / MIB).toFixed(2)} MiB/s over the batch, ${(m.slope2 / MIB).toFixed(2)} MiB/s over its second half`,
      );
    }
    console.log(`${res.name}: service live heap (after a full GC) before → after the batch: ${mib(last.liveHeapBefore)} → ${mib(last.liveHeapAfter)} MiB`);
    const sentRates = ok.map((r) => r.n / r.sent);
    const accRates = ok.map((r) => r.n / r.accepted);
    if (ok.length > 1) {
      console.log(`${res.name}: ${ok.length} runs, median ${int(median(sentRates))} docs/s sent (${int(Math.min(...sentRates))}–${int(Math.max(...sentRates))}), ${int(median(accRates))} docs/s accepted (${int(Math.min(...accRates))}–${int(Math.max(...accRates))})`);
    }
    if (ok.every((r) => r.problems.length === 0)) {
      console.log(`${res.name}: every document accepted, folios 1..${args.docs} in item order, each in exactly one envío at the simulator, none seen twice: OK`);
    }
    const k = res.db;
    Object.assign(json, {
      [`${k}_sent_docs_per_s`]: Math.round(median(sentRates)),
      [`${k}_accepted_docs_per_s`]: Math.round(median(accRates)),
      [`${k}_sent_ratio_to_core`]: +(median(sentRates) / core).toFixed(3),
      [`${k}_accepted_ratio_to_core`]: +(median(accRates) / core).toFixed(3),
      [`${k}_sent_s`]: +median(ok.map((r) => r.sent)).toFixed(2),
      [`${k}_accepted_s`]: +median(ok.map((r) => r.accepted)).toFixed(2),
      [`${k}_service_cpu_ms_per_doc`]: +median(ok.map((r) => r.serviceCpuMsPerDoc)).toFixed(2),
      [`${k}_sim_cpu_ms_per_doc`]: +median(ok.map((r) => r.simCpuMsPerDoc)).toFixed(2),
      [`${k}_rss_min_mib`]: Math.round(last.rss.min / MIB),
      [`${k}_rss_max_mib`]: Math.round(last.rss.max / MIB),
      [`${k}_rss_last_mib`]: Math.round(last.rss.last / MIB),
      [`${k}_rss_slope_mib_per_s`]: +(last.rss.slope / MIB).toFixed(3),
      [`${k}_rss_slope_2nd_half_mib_per_s`]: +(last.rss.slope2 / MIB).toFixed(3),
      [`${k}_heap_slope_mib_per_s`]: +(last.heap.slope / MIB).toFixed(3),
      [`${k}_heap_slope_2nd_half_mib_per_s`]: +(last.heap.slope2 / MIB).toFixed(3),
      [`${k}_live_heap_before_mib`]: Math.round(last.liveHeapBefore / MIB),
      [`${k}_live_heap_after_mib`]: Math.round(last.liveHeapAfter / MIB),
    });
    if (ok.length > 1) {
      json[`${k}_sent_docs_per_s_min`] = Math.round(Math.min(...sentRates));
      json[`${k}_sent_docs_per_s_max`] = Math.round(Math.max(...sentRates));
    }
  }
  for (const n of notes) console.log(n);
  if (results.every((r) => r.runs.every((x) => x.failed))) failed = true;
  console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  json.ok = !failed;
  console.log(JSON.stringify(json));
  if (failed) process.exitCode = 1;
}

const role = process.env[ROLE_ENV];
if (role === 'sim') await roleSim();
else if (role === 'service') await roleService();
else await main();
