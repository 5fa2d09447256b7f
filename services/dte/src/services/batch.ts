/**
 * Batches (`POST /api/v1/dte/batch`, month-end runs of thousands of documents): the request is
 * validated and stored at once (202), then workers on the queue do the rest, each step idempotent
 * because the queue delivers at least once:
 *
 * 1. `dte.batch.prepare {batchId}`: folios for the items that have none, in the batch's order, a
 *    chunk of 500 per transaction (folios as contiguous runs — one guarded UPDATE per CAF —, the
 *    `draft` rows and the item links in a few multi-row statements, committed together); the
 *    documents are grouped — one company, EnvioBOLETA and EnvioDTE apart, `envelopeSize` per group,
 *    in order — and one `dte.batch.send` job is published per group (dedupe key = batch + first
 *    document), each full group as soon as its chunk committed.
 * 2. `dte.batch.send {batchId, dteIds}`: lease the documents (one statement), stamp the drafts and
 *    store them `signed` together, build ONE envelope for those that have none (stored with its
 *    bytes before any upload), send every `built` envelope of the group (pipeline.ts `sendEnvio`:
 *    ask the SII before a re-upload; the outcome of all its documents in one transaction). When the
 *    SII is unreachable the job is rescheduled with `RetryLater` — paused, not failed.
 *
 * The status poller then takes the `sent` documents to their final status.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { TimbreError, TimbreValidationError } from '@timbre/dte';
import { RetryLater, type JobQueue } from '@timbre/queue';
import {
  allocateFolios,
  findCompany,
  findEnvio,
  insertDtes,
  leaseDtes,
  leaseEnvio,
  linkBatchItems,
  writeTransaction,
  type Database,
  type DteRow,
  type DteStatus,
  type EnvioRow,
} from '@timbre/store';
import type { Kysely } from 'kysely';
import { ServiceError } from '../problems.js';
import { todayInChile, validateInput, type IssuerDeps } from './issuer.js';
import { buildEnvio, isBoleta, sendEnvio, stampMany } from './pipeline.js';
import { markError } from './status.js';

export const QUEUE_PREPARE = 'dte.batch.prepare';
export const QUEUE_SEND = 'dte.batch.send';
export const MAX_BATCH = 5000;

export interface BatchDeps extends IssuerDeps {
  queue: JobQueue;
  /** Documents per envelope (default 200). */
  envelopeSize: number;
}

export interface PrepareJob {
  batchId: string;
}
export interface SendJob {
  batchId: string;
  dteIds: number[];
}

export interface BatchCreated {
  batch_id: string;
  total: number;
  accepted: number;
  refused: Array<{ index: number; code: string; message: string; field: string | null }>;
}

/** Items per prepare transaction (their folios, drafts and links commit together). */
const FOLIO_CHUNK = 500;
/** Documents validated between two turns of the event loop. */
const VALIDATE_SLICE = 100;

/** Validate and store a batch; nothing is allocated yet. Throws 422 when no document is valid. */
export async function createBatch(deps: BatchDeps, args: { rutEmisor: string; documents: unknown[]; callbackUrl?: string }): Promise<BatchCreated> {
  const { db } = deps;
  const today = todayInChile(deps.now());
  const company = await findCompany(db, args.rutEmisor);
  if (company === undefined) throw new ServiceError('ERR_COMPANY_NOT_REGISTERED', 409, `company ${args.rutEmisor} is not registered; POST /api/v1/companies first`);
  await deps.signers.forCompany(args.rutEmisor, deps.now()); // no valid certificate → 409 now, not per document later

  const items: Array<{ idx: number; tipo: number; json: string; code: string | null; message: string | null; field: string | null }> = [];
  for (let idx = 0; idx < args.documents.length; idx++) {
    const doc = args.documents[idx];
    // Validating 5,000 documents takes about a second: let other requests and jobs run meanwhile.
    if (idx % VALIDATE_SLICE === VALIDATE_SLICE - 1) await yieldToLoop();
    try {
      const { input, rutEmisor, tipoDte } = validateInput(doc, today);
      if (rutEmisor !== args.rutEmisor) {
        throw new TimbreError('ERR_INPUT_INVALID', `every document of a batch must be issued by ${args.rutEmisor}; this one by ${rutEmisor}`, { field: 'emisor.rut' });
      }
      items.push({ idx, tipo: tipoDte, json: JSON.stringify({ ...input, fecha_emision: input.fecha_emision ?? today }), code: null, message: null, field: null });
    } catch (e) {
      const first = e instanceof TimbreValidationError ? e.issues[0] : e instanceof TimbreError ? e : undefined;
      const code = first?.code ?? (e instanceof ServiceError ? e.code : 'ERR_INPUT_INVALID');
      const field = first?.field ?? (e instanceof ServiceError ? (e.fields[0]?.field ?? null) : null);
      const tipo = Number((doc as { dte_type?: unknown } | null)?.dte_type);
      items.push({ idx, tipo: Number.isInteger(tipo) ? tipo : 0, json: JSON.stringify(doc ?? null), code, message: e instanceof Error ? e.message : String(e), field: field ?? null });
    }
  }
  const refused = items.filter((i) => i.code !== null);
  if (refused.length === items.length) {
    throw new ServiceError(
      'ERR_BATCH_INVALID',
      422,
      'no document of the batch is valid',
      {},
      refused.slice(0, 100).map((r) => ({ field: `documents[${r.idx}]${r.field ? `.${r.field}` : ''}`, message: r.message ?? '', code: r.code ?? 'ERR_INPUT_INVALID' })),
    );
  }

  const batchId = randomUUID();
  const now = deps.now().toISOString();
  await writeTransaction(db, async (trx) => {
    await trx
      .insertInto('batch')
      .values({ id: batchId, rut_emisor: args.rutEmisor, total: items.length, callback_url: args.callbackUrl ?? null, idempotency_key: null, status: 'open', created_at: now, updated_at: now })
      .execute();
    for (let i = 0; i < items.length; i += 500) {
      await trx
        .insertInto('batch_item')
        .values(
          items.slice(i, i + 500).map((it) => ({
            batch_id: batchId,
            idx: it.idx,
            tipo_dte: it.tipo,
            request_json: it.json,
            dte_id: null,
            error_code: it.code,
            error_message: it.message === null ? null : it.field ? `${it.field}: ${it.message}` : it.message,
          })),
        )
        .execute();
    }
  });
  // After the commit. If this process dies right here, the recovery sweep republishes it.
  await deps.queue.publish<PrepareJob>(QUEUE_PREPARE, { batchId }, { dedupeKey: batchId });
  return {
    batch_id: batchId,
    total: items.length,
    accepted: items.length - refused.length,
    refused: refused.map((r) => ({ index: r.idx, code: r.code ?? 'ERR_INPUT_INVALID', message: r.message ?? '', field: r.field })),
  };
}

/** Job 1: folios and drafts for the items that have none, then one send job per envelope group. */
export async function prepareBatch(deps: BatchDeps, batchId: string): Promise<void> {
  const { db } = deps;
  const batch = await db.selectFrom('batch').selectAll().where('id', '=', batchId).executeTakeFirst();
  if (batch === undefined) return; // nothing to do (a stale job)
  const pending = await db
    .selectFrom('batch_item')
    .select(['idx', 'tipo_dte', 'request_json'])
    .where('batch_id', '=', batchId)
    .where('dte_id', 'is', null)
    .where('error_code', 'is', null)
    .orderBy('idx')
    .execute();
  const published = new Set<string>();
  for (let i = 0; i < pending.length; i += FOLIO_CHUNK) {
    const chunk: PendingItem[] = pending.slice(i, i + FOLIO_CHUNK).map((item) => ({ ...item, fecha: (JSON.parse(item.request_json) as { fecha_emision: string }).fecha_emision }));
    await writeTransaction(db, async (trx) => {
      const { folios, refused } = await allocateChunk(trx, batch.rut_emisor, chunk);
      const drafts = chunk.filter((item) => folios.has(item.idx));
      const inserted = await insertDtes(
        trx,
        drafts.map((item) => {
          const f = folios.get(item.idx) as { folio: number; cafId: number };
          return { rutEmisor: batch.rut_emisor, tipoDte: item.tipo_dte, folio: f.folio, status: 'draft', fechaEmision: item.fecha, requestJson: item.request_json, cafId: f.cafId, batchId };
        }),
      );
      const idOf = new Map(inserted.map((r) => [`${r.tipo_dte}/${r.folio}`, r.id]));
      const links = drafts.map((item) => {
        const id = idOf.get(`${item.tipo_dte}/${(folios.get(item.idx) as { folio: number }).folio}`);
        if (id === undefined) throw new Error(`batch ${batchId}: item ${item.idx} was not inserted`);
        return { idx: item.idx, dteId: id };
      });
      // Another worker running this same job (at-least-once delivery) may have linked some items
      // first: roll back (our folios with it) and let the retry see what is left.
      if ((await linkBatchItems(trx, batchId, links)) !== links.length) throw new RetryLater(1_000, `batch ${batchId} is being prepared by another worker`);
      const byError = new Map<string, { e: TimbreError; idx: number[] }>();
      for (const [idx, e] of refused) {
        const k = `${e.code}\u0000${e.message}`;
        const g = byError.get(k);
        if (g) g.idx.push(idx);
        else byError.set(k, { e, idx: [idx] });
      }
      for (const { e, idx } of byError.values()) {
        await trx
          .updateTable('batch_item')
          .set({ error_code: e.code, error_message: e.message })
          .where('batch_id', '=', batchId)
          .where('idx', 'in', idx)
          .where('dte_id', 'is', null)
          .execute();
      }
    });
    // The full envelope groups linked so far can go now.
    if (i + FOLIO_CHUNK < pending.length) await publishGroups(deps, batchId, false, published);
  }

  await publishGroups(deps, batchId, true, published);
}

interface PendingItem {
  idx: number;
  tipo_dte: number;
  request_json: string;
  /** The issue date (decides which CAFs may be used). */
  fecha: string;
}

/**
 * Folios for a chunk of items, per type in the batch's order: each run of consecutive items of a
 * type with the same issue date takes its folios at once (`allocateFolios`: one guarded UPDATE per
 * CAF), so the folios follow the items exactly as one `allocateFolio` per item would. Items left
 * without a folio (CAFs exhausted, expired) come back in `refused` with the reason; the others go on.
 */
async function allocateChunk(
  trx: Kysely<Database>,
  rutEmisor: string,
  chunk: readonly PendingItem[],
): Promise<{ folios: Map<number, { folio: number; cafId: number }>; refused: Map<number, TimbreError> }> {
  const folios = new Map<number, { folio: number; cafId: number }>(); // by item idx
  const refused = new Map<number, TimbreError>();
  const byTipo = new Map<number, PendingItem[]>();
  for (const item of chunk) {
    const list = byTipo.get(item.tipo_dte);
    if (list) list.push(item);
    else byTipo.set(item.tipo_dte, [item]);
  }
  for (const [tipoDte, list] of byTipo) {
    for (let start = 0; start < list.length; ) {
      const fecha = (list[start] as PendingItem).fecha;
      let end = start + 1;
      while (end < list.length && (list[end] as PendingItem).fecha === fecha) end++;
      const run = list.slice(start, end);
      let given = 0;
      try {
        // Fewer than asked only when every usable CAF ran out: the next call says why (throws).
        while (given < run.length) {
          for (const r of await allocateFolios(trx, { rutEmisor, tipoDte, fecha }, run.length - given)) {
            for (let k = 0; k < r.count; k++) folios.set((run[given++] as PendingItem).idx, { folio: r.desde + k, cafId: r.cafId });
          }
        }
      } catch (e) {
        if (!(e instanceof TimbreError)) throw e;
        for (const item of run.slice(given)) refused.set(item.idx, e);
      }
      start = end;
    }
  }
  return { folios, refused };
}

/**
 * One `dte.batch.send` job per envelope group, deterministically (the same groups, with the same
 * dedupe keys, whenever this runs again): the batch's documents in item order, boletas apart,
 * `envelopeSize` per group. Chunks link items in order, so the documents linked so far are a prefix
 * of the final list: its FULL groups are final and can be sent while the next chunk is prepared;
 * the last, partial group of each kind waits for `final`. `published` (dedupe keys) avoids
 * publishing a group twice in one run.
 */
async function publishGroups(deps: BatchDeps, batchId: string, final: boolean, published: Set<string>): Promise<void> {
  const linked = await deps.db
    .selectFrom('batch_item')
    .innerJoin('dte', 'dte.id', 'batch_item.dte_id')
    .select(['batch_item.idx', 'dte.id', 'dte.tipo_dte'])
    .where('batch_item.batch_id', '=', batchId)
    .orderBy('batch_item.idx')
    .execute();
  const groups: number[][] = [];
  for (const boletas of [false, true]) {
    const ids = linked.filter((l) => isBoleta(l.tipo_dte) === boletas).map((l) => Number(l.id));
    for (let i = 0; i < ids.length; i += deps.envelopeSize) {
      const group = ids.slice(i, i + deps.envelopeSize);
      if (group.length < deps.envelopeSize && !final) break;
      if (!published.has(`${batchId}:${group[0]}`)) groups.push(group);
    }
  }
  if (groups.length === 0) return;
  await deps.queue.publishMany<SendJob>(
    QUEUE_SEND,
    groups.map((dteIds) => ({ payload: { batchId, dteIds }, options: { dedupeKey: `${batchId}:${dteIds[0]}` } })),
  );
  for (const g of groups) published.add(`${batchId}:${g[0]}`);
}

/** Job 2: one envelope group, as far as it goes. Throws RetryLater while the SII is unreachable. */
export async function sendBatchGroup(deps: BatchDeps, job: SendJob, jobId?: string): Promise<void> {
  const { db } = deps;
  const rows = await db.selectFrom('dte').selectAll().where('id', 'in', job.dteIds).orderBy('tipo_dte').orderBy('folio').execute();
  if (rows.length === 0) return;
  const rut = (rows[0] as DteRow).rut_emisor;

  const owner = jobId !== undefined ? { owner: `job:${jobId}` } : {};
  // Lease the unfinished documents (one statement); someone else holding one → try again later.
  // Owned by the job: when this job failed half-way (the database went away before the leases
  // could be released), its retry takes them back instead of waiting for them to lapse.
  const unfinished = rows.filter((r) => r.status === 'draft' || r.status === 'signed');
  const got = unfinished.length > 0 ? await leaseDtes(db, unfinished.map((r) => r.id), { now: deps.now(), leaseMs: deps.leaseMs, ...owner }) : [];
  const byId = new Map(got.map((r) => [Number(r.id), r]));
  const leased = unfinished.map((r) => byId.get(Number(r.id))).filter((r): r is DteRow => r !== undefined); // in the group's order
  if (leased.length < unfinished.length) {
    await release(deps, leased);
    const held = unfinished.find((r) => !byId.has(Number(r.id)));
    throw new RetryLater(Math.min(deps.leaseMs, 30_000), `document ${held?.id} is held by another worker`);
  }
  try {
    const company = await findCompany(db, rut);
    if (company === undefined) throw new Error(`company ${rut} is gone`);
    const signer = await deps.signers.forCompany(rut, deps.now());

    // Stamp the drafts, stored `signed` together (a document that cannot be stamped is `error`; the
    // others go on).
    const { stamped, failed } = await stampMany(deps, leased.filter((r) => r.status === 'draft'), signer);
    for (const { row, error } of failed) {
      await markError(db, row, error instanceof Error ? error.message : String(error));
      deps.metrics.documents.inc({ dte_type: String(row.tipo_dte), status: 'error' });
    }
    const signed = new Map(stamped.map((s) => [Number(s.row.id), s]));
    const fresh: Array<{ row: DteRow; canonical?: string }> = [];
    const envioIds = new Set<number>();
    for (const r of leased) {
      if (r.status === 'draft') {
        const s = signed.get(Number(r.id));
        if (s) fresh.push(s);
      } else if (r.envio_id === null) fresh.push({ row: r });
      else envioIds.add(r.envio_id);
    }

    // One envelope for those without one.
    if (fresh.length > 0) {
      const envio = await buildEnvio(deps, fresh, { company, signer }, owner.owner);
      await sendOrThrow(deps, envio);
    }
    for (const id of envioIds) {
      const envio = await leaseEnvio(db, id, { now: deps.now(), leaseMs: deps.leaseMs, ...owner });
      if (envio === undefined) {
        const current = await findEnvio(db, id);
        if (current?.status === 'built') throw new RetryLater(Math.min(deps.leaseMs, 30_000), `envelope ${id} is being sent by another worker`);
        continue; // already sent or refused
      }
      await sendOrThrow(deps, envio);
    }
  } finally {
    await release(deps, leased);
  }
}

async function sendOrThrow(deps: BatchDeps, envio: EnvioRow): Promise<void> {
  const out = await sendEnvio(deps, envio);
  if (out.kind === 'retry') {
    const at = out.envio.next_attempt_at ? Date.parse(out.envio.next_attempt_at) - deps.now().getTime() : deps.retryBaseMs;
    throw new RetryLater(Math.max(100, at), `envelope ${envio.id}: ${out.code}`);
  }
}

async function release(deps: BatchDeps, rows: DteRow[]): Promise<void> {
  if (rows.length === 0) return;
  try {
    await deps.db
      .updateTable('dte')
      .set({ lease_until: null, lease_owner: null })
      .where('id', 'in', rows.map((r) => r.id))
      .execute();
  } catch (err) {
    // The database is away: the leases lapse on their own, and this job's retry takes them back.
    deps.log.warn({ err }, 'could not release document leases');
  }
}

/**
 * Batches whose prepare job was lost (the process died between the commit and the publish, or the
 * job was dead-lettered): items still without a document after `graceMs` get a new prepare job
 * (idempotent, so a duplicate is harmless). Returns the batch ids republished.
 */
export async function republishStalledBatches(deps: BatchDeps, graceMs: number): Promise<string[]> {
  const cutoff = new Date(deps.now().getTime() - graceMs).toISOString();
  const stalled = await deps.db
    .selectFrom('batch')
    .select('batch.id')
    .where('batch.created_at', '<', cutoff)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('batch_item')
          .select('batch_item.idx')
          .whereRef('batch_item.batch_id', '=', 'batch.id')
          .where('batch_item.dte_id', 'is', null)
          .where('batch_item.error_code', 'is', null),
      ),
    )
    .limit(100)
    .execute();
  for (const b of stalled) await deps.queue.publish<PrepareJob>(QUEUE_PREPARE, { batchId: b.id });
  return stalled.map((b) => b.id);
}

// ------------------------------------------------------------------------------------------------
// Progress
// ------------------------------------------------------------------------------------------------

export interface BatchProgress {
  batch_id: string;
  rut_emisor: string;
  total: number;
  done: number;
  status: 'open' | 'done';
  counts: Partial<Record<DteStatus | 'refused' | 'pending', number>>;
  created_at: string;
  documents: Array<{
    index: number;
    id: number | null;
    dte_type: string;
    folio: number | null;
    status: DteStatus | 'refused' | 'pending';
    sii_track_id: string | null;
    sii_status: string | null;
    error_code: string | null;
    error_message: string | null;
  }>;
}

/** Submitted (or refused) counts as done: the status poller takes `sent` to final. */
const SETTLED: ReadonlySet<string> = new Set(['sent', 'accepted', 'accepted_with_reparos', 'rejected', 'error', 'refused']);

export async function batchProgress(deps: Pick<BatchDeps, 'db'>, batchId: string): Promise<BatchProgress | undefined> {
  const batch = await deps.db.selectFrom('batch').selectAll().where('id', '=', batchId).executeTakeFirst();
  if (batch === undefined) return undefined;
  const rows = await deps.db
    .selectFrom('batch_item')
    .leftJoin('dte', 'dte.id', 'batch_item.dte_id')
    .select([
      'batch_item.idx',
      'batch_item.tipo_dte',
      'batch_item.error_code',
      'batch_item.error_message as item_error',
      'dte.id',
      'dte.folio',
      'dte.status',
      'dte.sii_track_id',
      'dte.sii_status',
      'dte.error_message',
    ])
    .where('batch_item.batch_id', '=', batchId)
    .orderBy('batch_item.idx')
    .execute();
  const counts: BatchProgress['counts'] = {};
  const documents = rows.map((r) => {
    const status: BatchProgress['documents'][number]['status'] = r.status ?? (r.error_code ? 'refused' : 'pending');
    counts[status] = (counts[status] ?? 0) + 1;
    return {
      index: r.idx,
      id: r.id ?? null,
      dte_type: String(r.tipo_dte),
      folio: r.folio ?? null,
      status,
      sii_track_id: r.sii_track_id ?? null,
      sii_status: r.sii_status ?? null,
      error_code: r.error_code,
      error_message: r.error_message ?? r.item_error,
    };
  });
  const done = documents.filter((d) => SETTLED.has(d.status)).length;
  return {
    batch_id: batch.id,
    rut_emisor: batch.rut_emisor,
    total: batch.total,
    done,
    status: done === batch.total ? 'done' : 'open',
    counts,
    created_at: batch.created_at,
    documents,
  };
}
