// API benchmark: `POST /api/v1/dte/generate` of the DTE service over real HTTP, compared in the same
// run with the core-only ceiling (@timbre/dte alone: input → stamped + signed DTE, one thread).
//
//   npm run bench -- api [--concurrency=16] [--seconds=10 | --requests=N] [--warmup=2] [--quick]
//                        [--db=sqlite,pg] [--pg=postgres://…] [--no-pg] [--core-seconds=3]
//                        [--service-log=error]   (the service's pino log on stdout; off by default)
//
// Each database (SQLite temp file, then PostgreSQL in a fresh schema dropped afterwards; skipped with a
// message when unreachable) gets a fresh SII simulator (statusDelayMs 0) and a fresh service,
// provisioned like services/dte/test/helper.ts: company, test certificate, one simulator CAF 33 for
// folios 1..200000; rate limiting off (`rateLimit: false`: the 600/min default would answer 429).
// Two variants are measured on it: the body of examples/dte/33.json without fecha_emision and no
// Idempotency-Key (every request issues a new document), then the same with a unique
// Idempotency-Key per request (what Odoo sends). Every response must be 200; at the end the folios
// handed out must be distinct and consecutive from 1, in the answers and in the stored rows
// (GET /api/v1/dte, paginated with next_before). Exit code 1 when any check fails.
//
// Process layout: this process measures the core ceiling, then orchestrates three child processes
// (child_process.fork of this same file, role in TIMBRE_BENCH_API_ROLE): the service (buildApp from
// services/dte/dist/app.js), the simulator and the load generator. Child processes rather than
// worker_threads so that (1) the load generator's HTTP client and JSON parsing, and the simulator's
// verification of every upload (it plays the remote SII), are not charged to the service's event loop,
// and (2) the service's RSS / CPU / event-loop utilization are its own (a worker thread shares the
// process's RSS and cpuUsage). The machine has 2 cores: the three processes share them, so the API
// figures are a lower bound of a service with the cores to itself.
//
// Load: node:http with a keep-alive Agent, `concurrency` requests always in flight (closed loop),
// a warm-up phase, then a measured phase of fixed duration (or of `--requests` requests). Rate =
// 200 answers completed in the measured window / window; latency percentiles over those answers
// (non-200 answers are counted and reported, never in the rate).
// Last line: one JSON object.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setImmediate, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { rate as rateOf } from './lib/rate.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), '..');
const RUT = '76086428-5';
const RAZON_SOCIAL = 'EMPRESA DEMO TIMBRE SPA';
const CAF_HASTA = 200_000;
const ROLE_ENV = 'TIMBRE_BENCH_API_ROLE';
const { fetch } = globalThis; // Node 20's fetch (the lint config declares only a few Node globals)

// ---------------------------------------------------------------------------------------------
// Child roles
// ---------------------------------------------------------------------------------------------

/** What a child reports about itself (memory, CPU, event-loop utilization, its clock). */
function selfStats() {
  const m = process.memoryUsage();
  return {
    t: performance.now(),
    rss: m.rss,
    heapUsed: m.heapUsed,
    maxRssKb: process.resourceUsage().maxRSS,
    cpu: process.cpuUsage(),
    elu: performance.eventLoopUtilization(),
  };
}

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

async function roleSim() {
  const { createSimulator } = await import('@timbre/sii-sim');
  const sim = createSimulator({ statusDelayMs: 0 });
  const url = await sim.start(0);
  serve({
    stats: () => selfStats(),
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
  const cfg = JSON.parse(process.env.TIMBRE_BENCH_API_CONFIG);
  const app = await buildApp({
    databaseUrl: cfg.databaseUrl,
    ...(cfg.searchPath ? { databaseSearchPath: cfg.searchPath } : {}),
    masterKey: Buffer.from(cfg.masterKey, 'hex'),
    jwtKey: new Uint8Array(Buffer.from(cfg.jwtKey, 'hex')),
    sii: { environment: 'sim', url: cfg.simUrl, maxAttempts: 1, timeoutMs: 10_000 },
    // The per-principal limiter (600/min by default) would answer 429 within seconds: this measures
    // the issuing path, not the limiter. (Ignored by a service without rate limiting.)
    rateLimit: false,
    ...(cfg.logLevel ? { logger: { level: cfg.logLevel } } : {}),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  serve({
    stats: () => selfStats(),
    close: async () => {
      await app.close();
      setImmediate(() => process.exit(0));
      return {};
    },
  });
  process.send({ type: 'ready', url });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** One load run: warm-up, measured phase, drain. Phase changes are announced to the parent. */
async function loadRun(o) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const target = new URL('/api/v1/dte/generate', o.url);
  const body = Buffer.from(o.body);
  const baseHeaders = { 'content-type': 'application/json', 'content-length': String(body.length), authorization: `Bearer ${o.token}` };
  let seq = 0;
  const send = () =>
    new Promise((resolve) => {
      const headers = o.idempotency ? { ...baseHeaders, 'idempotency-key': `${o.keyPrefix}-${seq++}` } : baseHeaders;
      const req = http.request({ agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), replayed: res.headers['idempotent-replayed'] !== undefined }));
        res.on('error', (e) => resolve({ status: 0, body: Buffer.from(String(e.message)) }));
      });
      req.on('error', (e) => resolve({ status: 0, body: Buffer.from(String(e.message)) }));
      req.end(body);
    });

  const folios = [];
  const statuses = {};
  const errors = {};
  const samples = [];
  let ok = 0;
  let non200 = 0;
  let replayed = 0;
  let badBody = 0;
  const check = (r) => {
    if (r.status !== 200) {
      non200++;
      let code = '';
      try {
        code = JSON.parse(r.body.toString('utf8')).code ?? '';
      } catch {
        code = '';
      }
      const k = `${r.status}${code ? ` ${code}` : ''}`;
      errors[k] = (errors[k] ?? 0) + 1;
      if (samples.length < 3) samples.push(`${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
      return;
    }
    ok++;
    if (r.replayed) replayed++;
    try {
      const j = JSON.parse(r.body.toString('utf8'));
      if (!Number.isSafeInteger(j.folio) || String(j.dte_type) !== '33' || typeof j.xml_signed !== 'string') badBody++;
      else folios.push(j.folio);
      statuses[j.status] = (statuses[j.status] ?? 0) + 1;
    } catch {
      badBody++;
    }
  };

  const latencies = [];
  let measureStart = Infinity;
  let measureEnd = Infinity;
  let cpu0;
  let cpu1;
  let stop = false;
  let budget = Infinity; // requests left in the measured phase (count mode)
  let lastInWindow = 0;

  const worker = async () => {
    while (!stop) {
      if (measureStart !== Infinity && budget !== Infinity) {
        if (budget <= 0) break;
        budget--;
      }
      const t0 = performance.now();
      const r = await send();
      const t1 = performance.now();
      check(r);
      if (r.status === 200 && t1 >= measureStart && t1 <= measureEnd) {
        latencies.push(t1 - t0);
        lastInWindow = t1;
      }
    }
  };

  const startMeasure = () => {
    measureStart = performance.now();
    cpu0 = process.cpuUsage();
    process.send({ type: 'phase', phase: 'measure-start' });
    if (o.requests > 0) budget = o.requests;
    else {
      setTimeout(() => {
        measureEnd = performance.now();
        cpu1 = process.cpuUsage(cpu0);
        process.send({ type: 'phase', phase: 'measure-end' });
        stop = true;
      }, o.seconds * 1000);
    }
  };
  setTimeout(startMeasure, o.warmupSeconds * 1000);
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  if (measureEnd === Infinity) {
    // Count mode: the window ends with the last response.
    measureEnd = lastInWindow;
    cpu1 = process.cpuUsage(cpu0);
    process.send({ type: 'phase', phase: 'measure-end' });
  }
  agent.destroy();

  const windowS = (measureEnd - measureStart) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const mean = latencies.reduce((a, b) => a + b, 0) / (latencies.length || 1);
  return {
    measured: latencies.length,
    windowS,
    rate: latencies.length / windowS,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean,
    total: ok + non200,
    ok,
    non200,
    errors,
    samples,
    replayed,
    badBody,
    statuses,
    folios,
    loadCpu: (cpu1.user + cpu1.system) / 1000 / (measureEnd - measureStart),
  };
}

async function roleLoad() {
  serve({
    run: (m) => loadRun(m.options),
    close: () => {
      setImmediate(() => process.exit(0));
      return {};
    },
  });
  process.send({ type: 'ready' });
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
  const dbs = typeof flags.db === 'string' ? flags.db.split(',') : ['sqlite', 'pg'];
  for (const d of dbs) if (d !== 'sqlite' && d !== 'pg') throw new Error(`--db: unknown database "${d}" (sqlite, pg)`);
  return {
    quick,
    concurrency: Math.max(1, Math.trunc(num('concurrency', 16))),
    seconds: num('seconds', quick ? 2 : 10),
    requests: Math.trunc(num('requests', 0)),
    warmupSeconds: num('warmup', quick ? 1 : 2),
    coreSeconds: num('core-seconds', quick ? 1 : 3),
    sqlite: dbs.includes('sqlite'),
    serviceLog: typeof flags['service-log'] === 'string' ? flags['service-log'] : undefined,
    pgUrl: flags['no-pg'] || !dbs.includes('pg') ? null : typeof flags.pg === 'string' ? flags.pg : (process.env.TIMBRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'),
  };
}

/** A forked child in `role`; resolves once it reported ready. */
function startChild(role, extraEnv = {}) {
  const proc = fork(here, [], { env: { ...process.env, [ROLE_ENV]: role, ...extraEnv }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let onPhase = () => {};
  let nextId = 1;
  let exited = false;
  const ready = new Promise((resolve, reject) => {
    proc.on('message', (m) => {
      if (m.type === 'ready') resolve(m);
      else if (m.type === 'phase') onPhase(m);
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
    proc,
    ready,
    /** The one listener of the load generator's phase changes (replaces the previous one). */
    onPhase: (l) => {
      onPhase = l;
    },
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
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}


async function coreCeiling(example, seconds) {
  const { buildEnvelope, emitDte, generateFixtures, inputToDte, loadPkcs12, parseCaf, parseDteInput } = await import('@timbre/dte');
  const NOW = '2026-11-27T10:00:00';
  const fx = generateFixtures({ desde: 1, hasta: 10_000_000, fechaAutorizacion: '2026-11-01', tipos: [33] });
  const cert = loadPkcs12(fx.p12, fx.p12Password, { now: new Date('2026-11-27T12:00:00Z') });
  const opts = { cafs: fx.cafs.map((c) => parseCaf(c.xml)), signer: cert, now: NOW };
  const caratula = { rutEmisor: RUT, rutEnvia: cert.rut, rutReceptor: '60803000-K', fchResol: '2026-11-01', nroResol: 0, tmstFirmaEnv: NOW };
  let folio = 1;
  // parseDteInput per document too: the service validates every request body.
  const emit = () => emitDte(inputToDte(parseDteInput(example), { folio: folio++, fchEmis: '2026-11-27' }), opts);
  const docs = rateOf(emit, { seconds });
  const withEnvelope = rateOf(() => {
    const d = emit();
    return buildEnvelope({ dtes: [{ xml: d.xml, canonical: d.canonical, tipoDte: 33 }], caratula, key: cert.signingKey });
  }, { seconds });
  return { docs, withEnvelope };
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

async function httpJson(method, url, { token, body, type = 'application/json' } = {}) {
  const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}) };
  let payload;
  if (body !== undefined) {
    headers['content-type'] = type;
    payload = Buffer.isBuffer(body) ? body : JSON.stringify(body);
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

async function provision(serviceUrl, simUrl, admin, fx) {
  const expect201 = (what, r) => {
    if (r.status !== 201) throw new Error(`${what}: ${r.status} ${r.text.slice(0, 500)}`);
  };
  const fchResol = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  expect201('company', await httpJson('POST', `${serviceUrl}/api/v1/companies`, { token: admin, body: { rut: RUT, razon_social: RAZON_SOCIAL, nro_resol: 0, fch_resol: fchResol } }));
  expect201('certificate', await httpJson('POST', `${serviceUrl}/api/v1/dte/certificate/upload`, { token: admin, body: { rut_company: RUT, p12_base64: fx.p12.toString('base64'), password: fx.p12Password } }));
  const caf = await fetch(`${simUrl}/sim/caf`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rutEmisor: RUT, razonSocial: RAZON_SOCIAL, tipoDte: 33, desde: 1, hasta: CAF_HASTA }),
  });
  if (caf.status !== 201) throw new Error(`simulator CAF: ${caf.status} ${await caf.text()}`);
  expect201('CAF upload', await httpJson('POST', `${serviceUrl}/api/v1/dte/caf/upload`, { token: admin, body: Buffer.from(await caf.arrayBuffer()), type: 'application/xml' }));
}

/** Every stored 33 of the company, newest first, following next_before. */
async function storedDocuments(serviceUrl, token) {
  const rows = [];
  let before;
  for (;;) {
    const q = `rut_emisor=${RUT}&dte_type=33&limit=500${before ? `&before=${before}` : ''}`;
    const r = await httpJson('GET', `${serviceUrl}/api/v1/dte?${q}`, { token });
    if (r.status !== 200) throw new Error(`GET /api/v1/dte: ${r.status} ${r.text.slice(0, 300)}`);
    rows.push(...r.json.items);
    if (!r.json.next_before) return rows;
    before = r.json.next_before;
  }
}

/** Distinct and consecutive from 1? Returns a problem description or null. */
function folioProblem(folios) {
  const sorted = [...folios].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i] !== i + 1) {
      const dup = sorted.findIndex((f, j) => j > 0 && f === sorted[j - 1]);
      return dup >= 0 ? `folio ${sorted[dup]} handed out twice` : `expected folio ${i + 1}, found ${sorted[i]} (gap or not starting at 1)`;
    }
  }
  return null;
}

/** CPU time of the whole machine so far (ms, summed over cores). */
function machineCpu() {
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const b = c.times.user + c.times.nice + c.times.sys + c.times.irq;
    busy += b;
    total += b + c.times.idle;
  }
  return { busy, total, cores: os.cpus().length };
}

/** Busy share of the machine between two snapshots, in cores (2 = both cores busy). */
const machineDelta = (a, b) => ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * b.cores;

const delta = (a, b) => {
  const wallMs = b.t - a.t;
  const cpuMs = (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1000;
  const active = b.elu.active - a.elu.active;
  const total = active + (b.elu.idle - a.elu.idle);
  return { cpu: cpuMs / wallMs, cpuMs, elu: total > 0 ? active / total : NaN };
};

async function benchDatabase(db, ctx) {
  const { args, load, fx, jwtKey, body } = ctx;
  const { signToken } = await import('@timbre/auth');
  const sim = startChild('sim');
  let service;
  try {
    const simUrl = (await sim.ready).url;
    service = startChild('service', {
      TIMBRE_BENCH_API_CONFIG: JSON.stringify({ databaseUrl: db.url, searchPath: db.searchPath, masterKey: randomBytes(32).toString('hex'), jwtKey: Buffer.from(jwtKey).toString('hex'), simUrl, logLevel: args.serviceLog }),
    });
    const serviceUrl = (await service.ready).url;
    const admin = await signToken({ sub: 'bench-admin', companies: [RUT], permissions: ['admin'] }, jwtKey, { expiresIn: '2h' });
    const odoo = await signToken({ sub: 'bench-odoo', companies: [RUT], permissions: ['dte:generate', 'dte:read'] }, jwtKey, { expiresIn: '2h' });
    await provision(serviceUrl, simUrl, admin, fx);

    const memBefore = await service.request('stats');
    const runs = [];
    for (const idempotency of [false, true]) {
      const snaps = [];
      const phase = (m) => {
        const machine = machineCpu();
        snaps.push(Promise.all([service.request('stats'), sim.request('stats')]).then(([s, i]) => ({ phase: m.phase, s, i, machine })));
      };
      load.onPhase(phase);
      const r = await load.request('run', {
        options: {
          url: serviceUrl,
          token: odoo,
          body,
          idempotency,
          keyPrefix: `bench-${process.pid}-${Date.now().toString(36)}`,
          concurrency: args.concurrency,
          seconds: args.seconds,
          requests: args.requests,
          warmupSeconds: args.warmupSeconds,
        },
      });
      const [start, end] = await Promise.all(snaps);
      load.onPhase(() => {});
      const svc = delta(start.s, end.s);
      const simD = delta(start.i, end.i);
      const machine = machineDelta(start.machine, end.machine);
      const otherCpu = Math.max(0, machine - svc.cpu - simD.cpu - r.loadCpu);
      runs.push({ idempotency, ...r, machine, otherCpu, serviceCpu: svc.cpu, serviceElu: svc.elu, serviceCpuMsPerReq: svc.cpuMs / Math.max(1, r.measured), simCpu: simD.cpu, simCpuMsPerReq: simD.cpuMs / Math.max(1, r.measured) });
    }
    const memAfter = await service.request('stats');

    const answered = runs.flatMap((r) => r.folios);
    const stored = await storedDocuments(serviceUrl, odoo);
    const storedFolios = stored.map((d) => d.folio);
    const answeredSet = new Set(answered);
    const storedStatuses = {};
    for (const d of stored) storedStatuses[d.status] = (storedStatuses[d.status] ?? 0) + 1;
    const check = {
      answered: answered.length,
      answeredProblem: folioProblem(answered),
      stored: stored.length,
      storedProblem: folioProblem(storedFolios),
      sameSet: stored.length === answered.length && storedFolios.every((f) => answeredSet.has(f)),
      storedStatuses,
    };
    return { name: db.name, runs, memBefore, memAfter, check };
  } finally {
    if (service) await service.close();
    await sim.close();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const example = JSON.parse(readFileSync(path.join(root, 'examples/dte/33.json'), 'utf8'));
  const requestDoc = { ...example };
  delete requestDoc.fecha_emision;
  const body = JSON.stringify(requestDoc);
  const cpus = os.cpus();
  console.log(`API bench: POST /api/v1/dte/generate over HTTP, body examples/dte/33.json without fecha_emision (${body.length} bytes)`);
  console.log(`machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? '?'}), node ${process.version}; the SII simulator, the service and the load`);
  console.log(`generator are 3 processes sharing these cores. concurrency ${args.concurrency}, warm-up ${args.warmupSeconds} s, measured ${args.requests > 0 ? `${args.requests} requests` : `${args.seconds} s`} per phase`);

  const m0 = machineCpu();
  await new Promise((r) => setTimeout(r, 1000));
  const busyBefore = machineDelta(m0, machineCpu());
  if (busyBefore > 0.15) console.log(`warning: the machine was ${(busyBefore * 100).toFixed(0)} % busy (of one core) before the run: other processes skew the figures`);

  // (1) The core ceiling, before anything else runs.
  const core = await coreCeiling(example, args.coreSeconds);
  console.log(`core ceiling (@timbre/dte alone, one thread): JSON input → stamped + signed DTE ${core.docs.toFixed(0)} docs/s; plus a signed 1-DTE EnvioDTE ${core.withEnvelope.toFixed(0)} docs/s`);

  // (2) and (3): the service on each database.
  const { generateFixtures } = await import('@timbre/dte');
  const fx = generateFixtures({ tipos: [33] });
  const jwtKey = new Uint8Array(randomBytes(32));
  const load = startChild('load');
  await load.ready;
  const results = [];
  const skipped = [];
  const failures = [];
  // A database whose service fails (start-up, provisioning, a crash) is reported, the others still run.
  const failure = (name) => (e) => {
    failures.push(`${name}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    return { name, failed: true };
  };
  try {
    if (args.sqlite) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'timbre-bench-api-'));
      try {
        console.log('… SQLite');
        results.push(await benchDatabase({ name: 'SQLite', url: `sqlite:${path.join(dir, 'bench.db')}` }, { args, load, fx, jwtKey, body }).catch(failure('SQLite')));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (args.pgUrl === null) skipped.push('PostgreSQL: skipped (--no-pg / --db)');
    else {
      const pg = createRequire(path.join(root, 'packages/store/package.json'))('pg');
      const reachable = await pgReachable(pg, args.pgUrl);
      if (reachable !== true) {
        skipped.push(`PostgreSQL: skipped, ${args.pgUrl.replace(/\/\/[^@/]*@/, '//…@')} unreachable (${reachable}); set TIMBRE_TEST_PG_URL or --pg=URL`);
      } else {
        const schema = `bench_api_${randomBytes(5).toString('hex')}`;
        await pgQuery(pg, args.pgUrl, `CREATE SCHEMA ${schema}`);
        try {
          console.log(`… PostgreSQL (schema ${schema})`);
          results.push(await benchDatabase({ name: 'PostgreSQL', url: args.pgUrl, searchPath: schema }, { args, load, fx, jwtKey, body }).catch(failure('PostgreSQL')));
        } finally {
          await pgQuery(pg, args.pgUrl, `DROP SCHEMA ${schema} CASCADE`);
        }
      }
    }
  } finally {
    await load.close();
  }

  // ---- report ----
  const int = (x) => Math.round(x).toLocaleString('en-US');
  const ms = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const pct = (x) => `${(x * 100).toFixed(0)} %`;
  const rows = [['database', 'Idempotency-Key', 'req/s', 'of core', 'p50 ms', 'p90 ms', 'p99 ms', '200s', 'non-200', 'svc CPU', 'svc ELU', 'svc ms/req', 'sim CPU', 'load CPU', 'other CPU']];
  const measured = results.filter((r) => !r.failed);
  for (const res of measured) {
    for (const r of res.runs) {
      rows.push([res.name, r.idempotency ? 'unique per req' : 'none', int(r.rate), pct(r.rate / core.docs), ms(r.p50), ms(r.p90), ms(r.p99), int(r.measured), String(r.non200), pct(r.serviceCpu), pct(r.serviceElu), r.serviceCpuMsPerReq.toFixed(2), pct(r.simCpu), pct(r.loadCpu), pct(r.otherCpu)]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log('');
  console.log(`core ceiling: ${int(core.docs)} docs/s (input → stamped + signed); with a signed 1-DTE envelope: ${int(core.withEnvelope)} docs/s`);
  rows.forEach((r, i) => {
    console.log(r.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
  console.log(`(of core = API req/s ÷ core ceiling; CPU = share of one core during the measured phase, ${cpus.length} cores = ${cpus.length * 100} %; ELU = service`);
  console.log(' event-loop utilization; other CPU = the rest of the machine: the PostgreSQL server, and anything else running, which skews the figures)');
  for (const s of skipped) console.log(s);
  for (const f of failures) console.log(f);
  let failed = failures.length > 0;
  for (const res of measured) {
    const mb = (b) => `${(b / 1048576).toFixed(0)} MiB`;
    console.log(`${res.name}: service RSS ${mb(res.memBefore.rss)} before → ${mb(res.memAfter.rss)} after (peak ${mb(res.memAfter.maxRssKb * 1024)}), heap ${mb(res.memBefore.heapUsed)} → ${mb(res.memAfter.heapUsed)}`);
    const c = res.check;
    const problems = [];
    for (const r of res.runs) {
      const v = r.idempotency ? 'with keys' : 'without keys';
      if (r.non200 > 0) problems.push(`${v}: ${r.non200} non-200 (${Object.entries(r.errors).map(([k, n]) => `${k}: ${n}`).join(', ')}), first: ${r.samples[0]}`);
      if (r.badBody > 0) problems.push(`${v}: ${r.badBody} 200 answers without a folio/xml_signed`);
      if (r.replayed > 0) problems.push(`${v}: ${r.replayed} answers replayed although every key was new`);
    }
    if (c.answeredProblem) problems.push(`answers: ${c.answeredProblem}`);
    if (c.storedProblem) problems.push(`stored rows: ${c.storedProblem}`);
    if (!c.sameSet) problems.push(`stored folios (${c.stored}) differ from answered folios (${c.answered})`);
    const sent = Object.entries(c.storedStatuses).map(([k, v]) => `${k} ${v}`).join(', ');
    const total = res.runs.reduce((a, r) => a + r.total, 0);
    console.log(`${res.name}: ${total} requests (warm-up and drain included), ${c.answered} answered 200, ${c.stored} stored rows (${sent}): ` +
      (problems.length === 0 ? `folios 1..${c.answered}, distinct and consecutive in the answers and the rows, OK` : `PROBLEMS:\n  ${problems.join('\n  ')}`));
    if (problems.length > 0) failed = true;
  }
  console.log(`total time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const round2 = (x) => (Number.isFinite(x) ? +x.toFixed(2) : null); // (NaN crosses IPC as null)
  const json = { bench: 'api', machine_busy_before_pct: Math.round(busyBefore * 100), concurrency: args.concurrency, seconds: args.requests > 0 ? null : args.seconds, core_docs_per_s: Math.round(core.docs), core_with_envelope_docs_per_s: Math.round(core.withEnvelope) };
  for (const res of measured) {
    for (const r of res.runs) {
      const k = `${res.name === 'SQLite' ? 'sqlite' : 'pg'}${r.idempotency ? '_idem' : ''}`;
      Object.assign(json, {
        [`${k}_req_per_s`]: Math.round(r.rate),
        [`${k}_ratio_to_core`]: +(r.rate / core.docs).toFixed(3),
        [`${k}_p50_ms`]: round2(r.p50),
        [`${k}_p90_ms`]: round2(r.p90),
        [`${k}_p99_ms`]: round2(r.p99),
        [`${k}_non200`]: r.non200,
        [`${k}_service_cpu_ms_per_req`]: round2(r.serviceCpuMsPerReq),
        [`${k}_sim_cpu_ms_per_req`]: round2(r.simCpuMsPerReq),
        [`${k}_other_cpu_pct`]: Math.round(r.otherCpu * 100),
      });
    }
    const k = res.name === 'SQLite' ? 'sqlite' : 'pg';
    json[`${k}_rss_before_mib`] = Math.round(res.memBefore.rss / 1048576);
    json[`${k}_rss_after_mib`] = Math.round(res.memAfter.rss / 1048576);
  }
  json.ok = !failed;
  console.log(JSON.stringify(json));
  if (failed) process.exitCode = 1;
}

const role = process.env[ROLE_ENV];
if (role === 'sim') await roleSim();
else if (role === 'service') await roleService();
else if (role === 'load') await roleLoad();
else await main();
