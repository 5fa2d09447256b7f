import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildCaf, computeDv, TimbreError } from '@timbre/dte';
import type { Kysely, KyselyPlugin } from 'kysely';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateFolio,
  allocateFolios,
  cafStatus,
  createDb,
  createSecretBox,
  findDteByKey,
  getIdempotency,
  insertCaf,
  insertCertificate,
  insertCompany,
  insertDte,
  insertDtes,
  leaseDtes,
  linkBatchItems,
  listDtes,
  storeSignedDtes,
  loadActiveCertificate,
  loadCafXml,
  masterKeyFrom,
  migrateToLatest,
  parseDbUrl,
  putIdempotency,
  StoreError,
  updateDteStatus,
  leaseDte,
  listDueDtes,
  patchDte,
  writeTransaction,
} from '../src/index.js';
import type { Database } from '../src/index.js';

const PG_URL = process.env.TIMBRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const execFileP = promisify(execFile);

const siiKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const box = createSecretBox(randomBytes(32));

let rutCounter = 0;
const run = process.pid % 1000;
/** A fresh valid RUT per call, so tests sharing a database never see each other's rows. */
function freshRut(): string {
  const body = 76_000_000 + run * 1000 + rutCounter++;
  return `${body}-${computeDv(body)}`;
}

function caf(rutEmisor: string, tipoDte: number, desde: number, hasta: number, fa: string): Buffer {
  return buildCaf({ siiKey, idk: 100, rutEmisor, tipoDte, desde, hasta, fa });
}

async function company(db: Kysely<Database>): Promise<string> {
  const rut = freshRut();
  await insertCompany(db, { rut, razonSocial: 'EMPRESA DE PRUEBA', resolutionNro: 0, resolutionFecha: '2025-01-01' });
  return rut;
}

/** `db` with a counter of the UPDATE statements it sends. */
function countingUpdates(db: Kysely<Database>): { db: Kysely<Database>; updates: () => number } {
  let n = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      if (args.node.kind === 'UpdateQueryNode') n++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: db.withPlugin(plugin), updates: () => n };
}

/** The folios of allocateFolios' runs, in order. */
const foliosOf = (runs: Array<{ desde: number; count: number }>): number[] => runs.flatMap((r) => Array.from({ length: r.count }, (_, i) => r.desde + i));

async function expectTimbreError(p: Promise<unknown>, code: string): Promise<TimbreError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TimbreError);
  expect((e as TimbreError).code).toBe(code);
  return e as TimbreError;
}

interface Backend {
  name: 'sqlite' | 'postgres';
  open(): Promise<{ db: Kysely<Database>; another: () => Kysely<Database>; rawDump: () => Promise<string>; sqliteUrl?: string; schema?: string }>;
  close(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir = '';
  const dbs: Kysely<Database>[] = [];
  return {
    name: 'sqlite',
    async open() {
      dir = mkdtempSync(join(tmpdir(), 'timbre-store-'));
      const url = `sqlite:${join(dir, 'timbre.db')}`;
      const db = createDb({ url });
      dbs.push(db);
      return {
        db,
        sqliteUrl: url,
        another: () => {
          const d = createDb({ url });
          dbs.push(d);
          return d;
        },
        // every byte on disk: the database file, its WAL and shared-memory files
        rawDump: async () => readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('\n'),
      };
    },
    async close() {
      for (const d of dbs) await d.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBackend(): Backend {
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const dbs: Kysely<Database>[] = [];
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  return {
    name: 'postgres',
    async open() {
      await admin.query(`CREATE SCHEMA ${schema}`);
      const mk = () => {
        const d = createDb({ url: PG_URL, searchPath: schema, maxConnections: 10 });
        dbs.push(d);
        return d;
      };
      const db = mk();
      return {
        db,
        schema,
        another: mk,
        rawDump: async () => {
          const r = await admin.query(`SELECT string_agg(t::text, E'\\n') AS s FROM ${schema}.caf t`);
          return String((r.rows[0] as { s: string | null }).s ?? '');
        },
      };
    },
    async close() {
      for (const d of dbs) await d.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

describe.each([
  { name: 'sqlite', make: sqliteBackend },
  { name: 'postgres', make: postgresBackend },
])('store on $name', ({ make }) => {
  const backend = make();
  let db: Kysely<Database>;
  let ctx: Awaited<ReturnType<Backend['open']>>;

  beforeAll(async () => {
    ctx = await backend.open();
    db = ctx.db;
  });
  afterAll(async () => {
    await backend.close();
  });

  it(`[${backend.name}] migrates an empty database, and a second run does nothing`, async () => {
    // Only this test's schema: other test files keep their own Timbre schemas in the same database.
    const ours = async () => (await db.introspection.getTables()).filter((t) => ctx.schema === undefined || t.schema === ctx.schema).map((t) => t.name);
    expect(await ours()).not.toContain('caf');
    const results = await migrateToLatest(db, ctx.schema ? { schema: ctx.schema } : {});
    expect(results.map((r) => [r.migrationName, r.status])).toEqual([
      ['20261128T120000_initial', 'Success'],
      ['20261128T230000_dte_pipeline', 'Success'],
      ['20261129T000000_async_pipeline', 'Success'],
      ['20261204T030000_company_logo', 'Success'],
      ['20261204T040000_received', 'Success'],
    ]);
    const tables = await ours();
    for (const t of ['company', 'caf', 'certificate', 'dte', 'idempotency', 'envio', 'batch', 'batch_item', 'job', 'outbox_event', 'webhook_subscription', 'webhook_delivery']) expect(tables).toContain(t);
    expect(await migrateToLatest(db, ctx.schema ? { schema: ctx.schema } : {})).toEqual([]);
  });

  it(`[${backend.name}] 200 parallel allocations give 200 distinct consecutive folios`, async () => {
    const rut = await company(db);
    await insertCaf(db, box, { xml: caf(rut, 33, 1, 500, '2025-06-01') });
    const t0 = performance.now();
    const got = await Promise.all(Array.from({ length: 200 }, () => allocateFolio(db, { rutEmisor: rut, tipoDte: 33, fecha: '2025-06-02' })));
    const ms = performance.now() - t0;
    console.log(`[${backend.name}] 200 parallel allocateFolio: ${ms.toFixed(0)} ms`);
    const folios = got.map((g) => g.folio).sort((a, b) => a - b);
    expect(folios).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const [s] = await cafStatus(db, rut, { fecha: '2025-06-02' });
    expect(s?.nextFolio).toBe(201);
    expect(s?.foliosLeft).toBe(300);
  });

  it(`[${backend.name}] two connections/pools allocating at once never share a folio`, async () => {
    const rut = await company(db);
    await insertCaf(db, box, { xml: caf(rut, 39, 1, 1000, '2025-06-01') });
    const other = ctx.another();
    const one = (d: Kysely<Database>) => allocateFolio(d, { rutEmisor: rut, tipoDte: 39, fecha: '2025-06-02' });
    const got = await Promise.all(Array.from({ length: 200 }, (_, i) => one(i % 2 === 0 ? db : other)));
    expect(got.map((g) => g.folio).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it(`[${backend.name}] a folio allocated in a rolled-back transaction is handed out again`, async () => {
    const rut = await company(db);
    await insertCaf(db, box, { xml: caf(rut, 52, 1, 10, '2025-06-01') });
    const req = { rutEmisor: rut, tipoDte: 52, fecha: '2025-06-02' };
    const failed = db.transaction().execute(async (trx) => {
      const { folio } = await allocateFolio(trx, req);
      await insertDte(trx, { rutEmisor: rut, tipoDte: 52, folio });
      throw new Error(`boom after folio ${folio}`);
    });
    await expect(failed).rejects.toThrow('boom after folio 1');
    expect(await findDteByKey(db, { rutEmisor: rut, tipoDte: 52, folio: 1 })).toBeUndefined();
    expect((await allocateFolio(db, req)).folio).toBe(1);
  });

  it(`[${backend.name}] writeTransaction: claim, folio and draft commit together or not at all`, async () => {
    const rut = await company(db);
    await insertCaf(db, box, { xml: caf(rut, 56, 1, 10, '2025-06-01') });
    const req = { rutEmisor: rut, tipoDte: 56, fecha: '2025-06-02' };
    await expect(
      writeTransaction(db, async (trx) => {
        await putIdempotency(trx, { key: 'wt-1', rutCompany: rut, requestHash: 'h', responseJson: '', statusCode: 0 });
        const { folio } = await allocateFolio(trx, req);
        await insertDte(trx, { rutEmisor: rut, tipoDte: 56, folio, requestJson: '{}', fechaEmision: '2025-06-02' });
        throw new Error(`boom after folio ${folio}`);
      }),
    ).rejects.toThrow('boom after folio 1');
    expect(await getIdempotency(db, 'wt-1', rut)).toBeUndefined();
    expect(await findDteByKey(db, { rutEmisor: rut, tipoDte: 56, folio: 1 })).toBeUndefined();
    const row = await writeTransaction(db, async (trx) => {
      const { folio, cafId } = await allocateFolio(trx, req);
      return insertDte(trx, { rutEmisor: rut, tipoDte: 56, folio, cafId, requestJson: '{"a":1}', fechaEmision: '2025-06-02' });
    });
    expect(row).toMatchObject({ folio: 1, status: 'draft', request_json: '{"a":1}', fecha_emision: '2025-06-02', envio_id: null, poll_attempts: 0, attempts: 0 });
    // Concurrent transactions on one handle: distinct consecutive folios.
    const folios = await Promise.all(Array.from({ length: 9 }, () => writeTransaction(db, async (trx) => (await allocateFolio(trx, req)).folio)));
    expect(folios.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it(`[${backend.name}] leases: one worker at a time, a lapsed lease can be taken over, finished documents never`, async () => {
    const rut = await company(db);
    const t0 = new Date('2026-01-01T00:00:00Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    const row = await insertDte(db, { rutEmisor: rut, tipoDte: 33, folio: 1, status: 'signed' });
    const other = ctx.another();
    const [a, b] = await Promise.all([leaseDte(db, row.id, { now: t0, leaseMs: 10_000 }), leaseDte(other, row.id, { now: t0, leaseMs: 10_000 })]);
    expect([a, b].filter((x) => x !== undefined)).toHaveLength(1);
    expect(await leaseDte(db, row.id, { now: at(5), leaseMs: 10_000 })).toBeUndefined();
    expect(await listDueDtes(db, { now: at(5), rutEmisor: rut })).toEqual([]);
    expect((await listDueDtes(db, { now: at(11), rutEmisor: rut })).map((r) => r.id)).toEqual([row.id]);
    expect(await leaseDte(db, row.id, { now: at(11), leaseMs: 10_000 })).toMatchObject({ id: row.id, lease_until: at(21).toISOString() });
    // Scheduled for later: not due, unless the schedule is ignored.
    await patchDte(db, row.id, { lease_until: null, next_attempt_at: at(60).toISOString() });
    expect(await listDueDtes(db, { now: at(30), rutEmisor: rut })).toEqual([]);
    expect(await listDueDtes(db, { now: at(30), rutEmisor: rut, ignoreSchedule: true })).toHaveLength(1);
    expect(await listDueDtes(db, { now: at(61), rutEmisor: rut, tipoDte: 33, folio: 1 })).toHaveLength(1);
    expect(await listDueDtes(db, { now: at(61), rutEmisor: rut, folio: 2 })).toEqual([]);
    await patchDte(db, row.id, { status: 'sent', next_attempt_at: null });
    expect(await leaseDte(db, row.id, { now: at(100), leaseMs: 10_000 })).toBeUndefined();
    expect(await listDueDtes(db, { now: at(100), rutEmisor: rut })).toEqual([]);
  });

  it(`[${backend.name}] consumes CAF ranges in order, then reports exhaustion naming rut and type`, async () => {
    const rut = await company(db);
    // inserted out of order on purpose
    const second = await insertCaf(db, box, { xml: caf(rut, 33, 11, 20, '2025-06-01') });
    const first = await insertCaf(db, box, { xml: caf(rut, 33, 1, 10, '2025-06-01') });
    const got: Array<{ folio: number; cafId: number }> = [];
    for (let i = 0; i < 20; i++) got.push(await allocateFolio(db, { rutEmisor: rut, tipoDte: 33, fecha: '2025-06-15' }));
    expect(got.map((g) => g.folio)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(got.slice(0, 10).every((g) => g.cafId === first.id)).toBe(true);
    expect(got.slice(10).every((g) => g.cafId === second.id)).toBe(true);
    const e = await expectTimbreError(allocateFolio(db, { rutEmisor: rut, tipoDte: 33, fecha: '2025-06-15' }), 'ERR_CAF_FOLIO_OUT_OF_RANGE');
    expect(e.message).toContain(rut);
    expect(e.message).toContain('33');
    // another type has no CAF at all
    await expectTimbreError(allocateFolio(db, { rutEmisor: rut, tipoDte: 61, fecha: '2025-06-15' }), 'ERR_CAF_FOLIO_OUT_OF_RANGE');
    const [s] = await cafStatus(db, rut, { fecha: '2025-06-15' });
    expect(s).toMatchObject({ tipoDte: 33, foliosLeft: 0, nextFolio: undefined });
    expect(s?.warnings[0]).toMatch(/no usable folios/);
  });

  it(`[${backend.name}] skips a CAF expired at the issue date (6-month rule) and uses the newer one`, async () => {
    const rut = await company(db);
    await insertCaf(db, box, { xml: caf(rut, 33, 1, 10, '2025-01-10') }); // expires 2025-07-10
    const newer = await insertCaf(db, box, { xml: caf(rut, 33, 11, 20, '2025-06-01') });
    // the day before expiry the old CAF is still used
    expect((await allocateFolio(db, { rutEmisor: rut, tipoDte: 33, fecha: '2025-07-09' })).folio).toBe(1);
    const r = await allocateFolio(db, { rutEmisor: rut, tipoDte: 33, fecha: '2025-07-10' });
    expect(r).toEqual({ folio: 11, cafId: newer.id });
    const status = await cafStatus(db, rut, { fecha: '2025-07-10', minFolios: 50, expiringWithinDays: 30 });
    expect(status[0]).toMatchObject({ tipoDte: 33, foliosLeft: 9, nextFolio: 12, expiresAt: '2025-12-01' });
    expect(status[0]?.cafs.map((c) => c.usable)).toEqual([false, true]);
    expect(status[0]?.warnings).toEqual(['only 9 folios left for type 33']);
    const soon = await cafStatus(db, rut, { fecha: '2025-11-15', minFolios: 5 });
    expect(soon[0]?.warnings).toEqual(['CAF 11-20 expires on 2025-12-01 with 9 folios left']);
  });

  it(`[${backend.name}] only expired CAFs → ERR_CAF_EXPIRED; a type without the rule keeps its old CAF`, async () => {
    const rut = await company(db);
    await insertCaf(db, box, { xml: caf(rut, 33, 1, 10, '2024-01-31') }); // 31 Jul → expires 2024-07-31
    const e = await expectTimbreError(allocateFolio(db, { rutEmisor: rut, tipoDte: 33, fecha: '2024-08-01' }), 'ERR_CAF_EXPIRED');
    expect(e.message).toContain(rut);
    expect(e.message).toContain('type 33');
    await insertCaf(db, box, { xml: caf(rut, 39, 1, 10, '2024-01-31') }); // boletas do not expire
    expect((await allocateFolio(db, { rutEmisor: rut, tipoDte: 39, fecha: '2025-08-01' })).folio).toBe(1);
    // not-yet-authorised is reported as such
    await expectTimbreError(allocateFolio(db, { rutEmisor: rut, tipoDte: 39, fecha: '2024-01-30' }), 'ERR_CAF_NOT_YET_VALID');
  });

  it(`[${backend.name}] allocateFolios: a contiguous run with ONE guarded UPDATE per CAF, across CAFs in order, partial when they run out`, async () => {
    const rut = await company(db);
    const second = await insertCaf(db, box, { xml: caf(rut, 33, 11, 15, '2025-06-01') }); // inserted out of order on purpose
    const first = await insertCaf(db, box, { xml: caf(rut, 33, 1, 10, '2025-06-01') });
    const req = { rutEmisor: rut, tipoDte: 33, fecha: '2025-06-15' };
    const c = countingUpdates(db);
    expect(await allocateFolios(c.db, req, 4)).toEqual([{ cafId: first.id, desde: 1, count: 4 }]);
    expect(c.updates()).toBe(1);
    // 6 left in the first CAF, 2 more from the second: one UPDATE each
    expect(await allocateFolios(c.db, req, 8)).toEqual([
      { cafId: first.id, desde: 5, count: 6 },
      { cafId: second.id, desde: 11, count: 2 },
    ]);
    expect(c.updates()).toBe(3);
    expect((await allocateFolio(db, req)).folio).toBe(13); // the single-folio allocator agrees
    // asked for more than is left: what there is, then the allocateFolio error
    expect(await allocateFolios(db, req, 10)).toEqual([{ cafId: second.id, desde: 14, count: 2 }]);
    await expectTimbreError(allocateFolios(db, req, 1), 'ERR_CAF_FOLIO_OUT_OF_RANGE');
    await expectTimbreError(allocateFolios(db, req, 0), 'ERR_INPUT_INVALID');
    await expectTimbreError(allocateFolios(db, { ...req, fecha: 'ayer' }, 3), 'ERR_INPUT_INVALID');
    const [s] = await cafStatus(db, rut, { fecha: '2025-06-15' });
    expect(s).toMatchObject({ foliosLeft: 0, nextFolio: undefined });

    // the 6-month rule: an expired CAF is skipped, the run comes from the newer one
    const rut2 = await company(db);
    await insertCaf(db, box, { xml: caf(rut2, 33, 1, 10, '2025-01-10') }); // expires 2025-07-10
    const newer = await insertCaf(db, box, { xml: caf(rut2, 33, 11, 20, '2025-06-01') });
    expect(await allocateFolios(db, { rutEmisor: rut2, tipoDte: 33, fecha: '2025-07-10' }, 3)).toEqual([{ cafId: newer.id, desde: 11, count: 3 }]);
    await expectTimbreError(allocateFolios(db, { rutEmisor: rut2, tipoDte: 33, fecha: '2026-01-10' }, 3), 'ERR_CAF_EXPIRED');
  });

  it(`[${backend.name}] allocateFolios under concurrency (transactions, some rolled back): every folio exactly once, none skipped`, async () => {
    const rut = await company(db);
    await insertCaf(db, box, { xml: caf(rut, 34, 1, 300, '2025-06-01') });
    await insertCaf(db, box, { xml: caf(rut, 34, 301, 600, '2025-06-01') });
    const req = { rutEmisor: rut, tipoDte: 34, fecha: '2025-06-02' };
    const a = countingUpdates(db);
    // PostgreSQL: two pools, every caller in a transaction. SQLite: one handle (one process cannot
    // hold a write transaction on one connection while another connection waits for the lock: that
    // is the cross-process test below), transactions and plain callers mixed: the plain ones race
    // between reading the CAFs and the guarded UPDATE.
    const b = backend.name === 'postgres' ? countingUpdates(ctx.another()) : a;
    type Outcome = { runs: Array<{ cafId: number; desde: number; count: number }>; kept: boolean };
    const callers: Array<Promise<Outcome>> = [];
    for (let i = 0; i < 60; i++) {
      const count = 1 + ((i * 7) % 23); // 1..23, 50 committed callers ask for ~600+
      if (i % 6 === 5) {
        // allocate in a transaction that then fails: these folios must come back
        callers.push(
          writeTransaction(a.db, async (trx) => {
            const runs = await allocateFolios(trx, req, count);
            throw Object.assign(new Error('rolled back'), { runs });
          }).catch((e: { runs?: Outcome['runs'] }) => {
            if (e instanceof TimbreError && e.code === 'ERR_CAF_FOLIO_OUT_OF_RANGE') return { runs: [], kept: false }; // came too late
            if (!e.runs) throw e;
            return { runs: e.runs, kept: false };
          }),
        );
      } else {
        const d = i % 2 === 0 ? a.db : b.db;
        const call = backend.name === 'postgres' || i % 4 === 0 ? writeTransaction(d, (trx) => allocateFolios(trx, req, count)) : allocateFolios(d, req, count);
        callers.push(
          call.then(
            (runs) => ({ runs, kept: true }),
            (e: unknown) => {
              if (e instanceof TimbreError && e.code === 'ERR_CAF_FOLIO_OUT_OF_RANGE') return { runs: [], kept: true };
              throw e;
            },
          ),
        );
      }
    }
    const outcomes = await Promise.all(callers);
    const kept = outcomes.filter((o) => o.kept).flatMap((o) => o.runs);
    for (const r of kept) expect(r.desde <= 300 ? r.desde + r.count - 1 <= 300 : r.desde + r.count - 1 <= 600).toBe(true); // a run never spans two CAFs
    const folios = foliosOf(kept).sort((x, y) => x - y);
    expect(folios).toEqual(Array.from({ length: 600 }, (_, i) => i + 1)); // each once, none skipped
    expect(outcomes.some((o) => !o.kept && o.runs.length > 0)).toBe(true); // rolled-back callers did get folios, and gave them back
    const [s] = await cafStatus(db, rut, { fecha: '2025-06-02' });
    expect(s).toMatchObject({ foliosLeft: 0 });
    // more UPDATEs than runs: the callers really raced, some guards failed and were retried
    const runs = outcomes.reduce((n, o) => n + o.runs.length, 0);
    const updates = a.updates() + (b === a ? 0 : b.updates());
    console.log(`[${backend.name}] 60 concurrent allocateFolios: ${runs} runs, ${updates} guarded UPDATEs`);
    expect(updates).toBeGreaterThan(runs);
  });

  it(`[${backend.name}] bulk helpers: insertDtes, linkBatchItems, storeSignedDtes, leaseDtes`, async () => {
    const rut = await company(db);
    const now = new Date().toISOString();
    const batchId = randomBytes(16).toString('hex');
    await db.insertInto('batch').values({ id: batchId, rut_emisor: rut, total: 3, callback_url: null, idempotency_key: null, status: 'open', created_at: now, updated_at: now }).execute();
    await db
      .insertInto('batch_item')
      .values([0, 1, 2].map((idx) => ({ batch_id: batchId, idx, tipo_dte: 33, request_json: `{"i":${idx}}`, dte_id: null, error_code: null, error_message: null })))
      .execute();
    const inserted = await writeTransaction(db, (trx) =>
      insertDtes(
        trx,
        [7, 8, 9].map((folio, i) => ({ rutEmisor: rut, tipoDte: 33, folio, status: 'draft' as const, fechaEmision: '2025-06-02', requestJson: `{"i":${i}}`, cafId: 1, batchId })),
      ),
    );
    expect(inserted.map((r) => r.folio).sort()).toEqual([7, 8, 9]);
    const idOf = new Map(inserted.map((r) => [r.folio, r.id]));
    const row7 = await findDteByKey(db, { rutEmisor: rut, tipoDte: 33, folio: 7 });
    expect(row7).toMatchObject({ id: idOf.get(7), status: 'draft', batch_id: batchId, request_json: '{"i":0}', fecha_emision: '2025-06-02', caf_id: 1 });

    const links = [0, 1, 2].map((idx) => ({ idx, dteId: idOf.get(7 + idx) as number }));
    expect(await linkBatchItems(db, batchId, links)).toBe(3);
    expect(await linkBatchItems(db, batchId, links)).toBe(0); // already linked: nothing, and the caller can tell
    const items = await db.selectFrom('batch_item').select(['idx', 'dte_id']).where('batch_id', '=', batchId).orderBy('idx').execute();
    expect(items.map((i) => Number(i.dte_id))).toEqual([idOf.get(7), idOf.get(8), idOf.get(9)]);

    const t0 = new Date('2030-01-01T00:00:00Z');
    const ids = [...idOf.values()];
    expect((await leaseDtes(db, ids, { now: t0, leaseMs: 10_000, owner: 'job:1' })).map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(await leaseDtes(db, ids, { now: t0, leaseMs: 10_000, owner: 'job:2' })).toEqual([]); // held
    expect(await leaseDtes(db, ids, { now: t0, leaseMs: 10_000, owner: 'job:1' })).toHaveLength(3); // its owner takes them back

    expect(await storeSignedDtes(db, [{ id: idOf.get(7) as number, xmlSigned: '<DTE a="ñ"/>', ted: '<TED/>' }, { id: idOf.get(8) as number, xmlSigned: '<DTE b/>', ted: '<TED b/>' }])).toBe(2);
    expect(await findDteByKey(db, { rutEmisor: rut, tipoDte: 33, folio: 7 })).toMatchObject({ status: 'signed', xml_signed: '<DTE a="ñ"/>', ted: '<TED/>', error_message: null });
    expect(await findDteByKey(db, { rutEmisor: rut, tipoDte: 33, folio: 9 })).toMatchObject({ status: 'draft', xml_signed: null });
    await patchDte(db, idOf.get(8) as number, { status: 'sent' });
    // a lapsed lease is free again, a finished document never
    expect((await leaseDtes(db, ids, { now: new Date(t0.getTime() + 20_000), leaseMs: 10_000 })).map((r) => r.folio).sort()).toEqual([7, 9]);
  });

  it(`[${backend.name}] the CAF private key is never stored in clear`, async () => {
    const rut = await company(db);
    const xml = caf(rut, 56, 1, 5, '2025-06-01');
    expect(xml.toString('latin1')).toContain('PRIVATE KEY'); // the test would be vacuous otherwise
    const row = await insertCaf(db, box, { xml });
    const raw = await ctx.rawDump();
    expect(raw).toContain('tbx1.'); // we are looking at the right data
    expect(raw).not.toContain('PRIVATE KEY');
    expect(raw).not.toContain('RSASK');
    expect((await loadCafXml(db, box, row.id))?.equals(xml)).toBe(true);
  });

  it(`[${backend.name}] DTE, certificate and idempotency repositories`, async () => {
    const rut = await company(db);
    for (let folio = 1; folio <= 5; folio++) await insertDte(db, { rutEmisor: rut, tipoDte: 33, folio });
    await expect(insertDte(db, { rutEmisor: rut, tipoDte: 33, folio: 3 })).rejects.toThrow();
    const updated = await updateDteStatus(db, { rutEmisor: rut, tipoDte: 33, folio: 3 }, { status: 'sent', siiTrackId: '123456' });
    expect(updated).toMatchObject({ status: 'sent', sii_track_id: '123456', folio: 3 });
    expect(await updateDteStatus(db, { rutEmisor: rut, tipoDte: 33, folio: 99 }, { status: 'sent' })).toBeUndefined();
    expect(await findDteByKey(db, { rutEmisor: rut, tipoDte: 33, folio: 3 })).toMatchObject({ status: 'sent', rut_emisor: rut });
    await expect(db.insertInto('dte').values({ rut_emisor: rut, tipo_dte: 33, folio: 9, status: 'bogus' as never, sii_status: null, sii_track_id: null, xml_signed: null, error_message: null, idempotency_key: null, created_at: 'x', updated_at: 'x' }).execute()).rejects.toThrow();

    const p1 = await listDtes(db, { rutEmisor: rut, limit: 2 });
    expect(p1.items.map((d) => d.folio)).toEqual([5, 4]);
    const p2 = await listDtes(db, { rutEmisor: rut, limit: 2, before: p1.nextBefore });
    expect(p2.items.map((d) => d.folio)).toEqual([3, 2]);
    const p3 = await listDtes(db, { rutEmisor: rut, limit: 2, before: p2.nextBefore });
    expect(p3).toMatchObject({ nextBefore: undefined });
    expect(p3.items.map((d) => d.folio)).toEqual([1]);
    expect((await listDtes(db, { rutEmisor: rut, status: 'sent' })).items.map((d) => d.folio)).toEqual([3]);

    const p12 = randomBytes(64);
    await insertCertificate(db, box, { rutCompany: rut, rutSigner: '11111111-1', notBefore: '2020-01-01T00:00:00Z', notAfter: '2099-01-01T00:00:00Z', p12, password: 'sécret' });
    const cert = await loadActiveCertificate(db, box, rut);
    expect(cert?.p12.equals(p12)).toBe(true);
    expect(cert?.password).toBe('sécret');
    expect(await loadActiveCertificate(db, box, rut, new Date('2100-01-01T00:00:00Z'))).toBeUndefined();

    const rec = { key: 'k-1', rutCompany: rut, requestHash: 'h1', responseJson: '{"ok":true}', statusCode: 201 };
    expect(await putIdempotency(db, rec)).toMatchObject({ inserted: true });
    const again = await putIdempotency(db, { ...rec, requestHash: 'h2', statusCode: 500 });
    expect(again).toMatchObject({ inserted: false, row: { request_hash: 'h1', status_code: 201 } });
    expect(await getIdempotency(db, 'k-1', rut)).toMatchObject({ response_json: '{"ok":true}' });
    expect(await getIdempotency(db, 'k-2', rut)).toBeUndefined();
  });

  it(`[${backend.name}] foreign keys are enforced`, async () => {
    const nobody = freshRut();
    await expect(insertCaf(db, box, { xml: caf(nobody, 33, 1, 10, '2025-06-01') })).rejects.toThrow();
  });

  it(`[${backend.name}] bigint columns come back as numbers`, async () => {
    const r = await sql<{ n: number; big: number }>`select count(*) as n, ${sql.lit(9_999_999_999)} as big from caf`.execute(db);
    expect(typeof r.rows[0]?.n).toBe('number');
    expect(r.rows[0]?.big).toBe(9_999_999_999);
  });
});

describe('store across processes (SQLite file)', () => {
  let dir = '';
  beforeAll(() => {
    execFileSync('npx', ['tsc', '-b', 'packages/store'], { cwd: repoRoot, stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'timbre-store-mp-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('4 processes × 50 allocations → 200 distinct folios, no gaps', async () => {
    // A loaded machine can start the children so late that they run one after the other (nothing
    // tested): then the round is repeated on a fresh database, up to 3 times.
    let overlapped = false;
    for (let round = 0; round < 3 && !overlapped; round++) {
      const url = `sqlite:${join(dir, `timbre-${round}.db`)}`;
      const db = createDb({ url });
      await migrateToLatest(db);
      const rut = await company(db);
      await insertCaf(db, box, { xml: caf(rut, 33, 1, 120, '2025-06-01') });
      await insertCaf(db, box, { xml: caf(rut, 33, 121, 400, '2025-06-01') });
      await db.destroy();

      const startAt = Date.now() + 1500 * (round + 1);
      const t0 = performance.now();
      const outs = await Promise.all(
        [0, 1, 2, 3].map(() => execFileP(process.execPath, [join(here, 'alloc-child.mjs'), url, rut, '33', '50', '2025-06-02', String(startAt)])),
      );
      console.log(`[sqlite] 4 processes × 50 allocateFolio: ${(performance.now() - t0).toFixed(0)} ms (incl. the start barrier)`);
      const perChild = outs.map((o) => JSON.parse(o.stdout) as number[]);
      for (const f of perChild) expect(f).toHaveLength(50);
      const all = perChild.flat().sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      // the processes really overlapped: at least one got a non-contiguous set of folios
      overlapped = perChild.some((f) => f[f.length - 1]! - f[0]! !== 49);
    }
    expect(overlapped).toBe(true);
  });
});

describe('allocateFolios across processes (SQLite file)', () => {
  let dir = '';
  beforeAll(() => {
    execFileSync('npx', ['tsc', '-b', 'packages/store'], { cwd: repoRoot, stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'timbre-store-mpb-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('4 processes taking runs of 1..9 in write transactions → each of the 1,000 folios of two CAFs once, no gaps', async () => {
    const url = `sqlite:${join(dir, 'timbre.db')}`;
    const db = createDb({ url });
    await migrateToLatest(db);
    const rut = await company(db);
    await insertCaf(db, box, { xml: caf(rut, 33, 1, 400, '2025-06-01') });
    await insertCaf(db, box, { xml: caf(rut, 33, 401, 1000, '2025-06-01') });
    await db.destroy();
    // The child: the BUILT allocator, a common start time, then runs until no folio is left.
    const child = `
      import { setTimeout as sleep } from 'node:timers/promises';
      const { allocateFolios, createDb, writeTransaction } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const [url, rutEmisor, startAt, seed] = process.argv.slice(1);
      const db = createDb({ url, busyTimeoutMs: 30_000 });
      await db.selectFrom('caf').select('id').limit(1).execute();
      const wait = Number(startAt) - Date.now();
      if (wait > 0) await sleep(wait);
      const runs = [];
      for (let i = 0; ; i++) {
        const count = 1 + ((i * 5 + Number(seed)) % 9);
        try {
          runs.push(...(await writeTransaction(db, (trx) => allocateFolios(trx, { rutEmisor, tipoDte: 33, fecha: '2025-06-02' }, count))));
        } catch (e) {
          if (e.code === 'ERR_CAF_FOLIO_OUT_OF_RANGE') break;
          throw e;
        }
        await sleep(2); // work between runs (SQLite's busy handler is not fair to a writer in a tight loop)
      }
      await db.destroy();
      process.stdout.write(JSON.stringify(runs));`;
    const startAt = Date.now() + 1500;
    const outs = await Promise.all([0, 1, 2, 3].map((seed) => execFileP(process.execPath, ['--input-type=module', '-e', child, url, rut, String(startAt), String(seed)])));
    const perChild = outs.map((o) => JSON.parse(o.stdout) as Array<{ desde: number; count: number }>);
    const all = perChild.flatMap(foliosOf).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // they really ran at once: at least two of them took folios, in interleaved runs
    expect(perChild.filter((runs) => runs.length > 0).length).toBeGreaterThanOrEqual(2);
    expect(perChild.some((runs) => runs.some((r, i) => i > 0 && r.desde !== (runs[i - 1] as { desde: number; count: number }).desde + (runs[i - 1] as { count: number }).count))).toBe(true);
    for (const runs of perChild) for (const r of runs) expect(r.desde <= 400 === r.desde + r.count - 1 <= 400).toBe(true); // never across two CAFs
  });
});

describe('secret box', () => {
  it('round-trips strings and bytes, with a fresh IV each time', () => {
    const s1 = box.seal('hola');
    const s2 = box.seal('hola');
    expect(s1).toMatch(/^tbx1\./);
    expect(s1).not.toBe(s2);
    expect(box.open(s1).toString('utf8')).toBe('hola');
    const bytes = randomBytes(1000);
    expect(box.open(box.seal(bytes)).equals(bytes)).toBe(true);
    expect(box.open(box.seal('')).length).toBe(0);
  });

  it('detects tampering anywhere in the sealed value', () => {
    const sealed = box.seal('secret CAF');
    const raw = Buffer.from(sealed.slice(5), 'base64url');
    for (const i of [0, 12, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[i] = bad[i]! ^ 1;
      expect(() => box.open(`tbx1.${bad.toString('base64url')}`)).toThrow(expect.objectContaining({ code: 'ERR_SECRET_TAMPERED' }));
    }
    expect(() => box.open(sealed.slice(0, -4))).toThrow(expect.objectContaining({ code: 'ERR_SECRET_TAMPERED' }));
    expect(() => box.open('secret CAF')).toThrow(expect.objectContaining({ code: 'ERR_SECRET_MALFORMED' }));
    expect(() => box.open('tbx1.AAAA')).toThrow(expect.objectContaining({ code: 'ERR_SECRET_MALFORMED' }));
  });

  it('refuses a value sealed with another key', () => {
    const other = createSecretBox(randomBytes(32));
    expect(() => other.open(box.seal('x'))).toThrow(StoreError);
    expect(() => other.open(box.seal('x'))).toThrow(expect.objectContaining({ code: 'ERR_SECRET_TAMPERED' }));
  });

  it('masterKeyFrom accepts hex and base64 of 32 bytes only', () => {
    const k = randomBytes(32);
    expect(masterKeyFrom(k.toString('hex')).equals(k)).toBe(true);
    expect(masterKeyFrom(k.toString('base64')).equals(k)).toBe(true);
    expect(masterKeyFrom(k.toString('base64url')).equals(k)).toBe(true);
    expect(() => masterKeyFrom(randomBytes(16).toString('hex'))).toThrow(expect.objectContaining({ code: 'ERR_MASTER_KEY_INVALID' }));
    expect(() => masterKeyFrom(randomBytes(31).toString('base64'))).toThrow(expect.objectContaining({ code: 'ERR_MASTER_KEY_INVALID' }));
    expect(() => masterKeyFrom('')).toThrow(expect.objectContaining({ code: 'ERR_MASTER_KEY_INVALID' }));
    expect(() => createSecretBox(randomBytes(16))).toThrow(expect.objectContaining({ code: 'ERR_MASTER_KEY_INVALID' }));
  });
});

describe('parseDbUrl', () => {
  it('maps URLs to a dialect', () => {
    expect(parseDbUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', filename: ':memory:' });
    expect(parseDbUrl('sqlite:data/t.db')).toEqual({ kind: 'sqlite', filename: 'data/t.db' });
    expect(parseDbUrl('sqlite:///var/t.db')).toEqual({ kind: 'sqlite', filename: '/var/t.db' });
    expect(parseDbUrl('/var/t.db')).toEqual({ kind: 'sqlite', filename: '/var/t.db' });
    expect(parseDbUrl('postgresql://u@h/db')).toEqual({ kind: 'postgres', connectionString: 'postgresql://u@h/db' });
    expect(() => parseDbUrl('mysql://h/db')).toThrow(expect.objectContaining({ code: 'ERR_DB_URL_INVALID' }));
  });
});
