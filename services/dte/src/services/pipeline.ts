/**
 * Moving stored documents forward: `draft → signed → in an envelope (envio) → sent`, each step
 * persisted before the next begins, so that whichever process holds the lease next (the request
 * that created a document, a retry with the same Idempotency-Key, `recovery/resend`, the recovery
 * sweep after a restart, a batch worker) continues from the last persisted step:
 *
 * - `draft`: folio allocated (with the request and the issue date, in one transaction) → `stamp`
 *   → `signed` with the XML and the TED. Never sent, so signing again after a crash is harmless.
 * - `signed` without envelope → `buildEnvio` builds the EnvioDTE/EnvioBOLETA of one or many
 *   documents and stores its text, linked to them, in one transaction: every later upload sends
 *   these SAME bytes (the SII refuses the same bytes within 900 s as a duplicate, STATUS 99, naming
 *   the first track id; different bytes would be a second envío).
 * - an envelope `built` → `sendEnvio` counts the attempt (before the upload), uploads, and marks the
 *   envelope and all its documents `sent` with the track id in one transaction. When an earlier
 *   attempt was counted, the SII may already have it (the process died after uploading, or the
 *   answer was lost): QueryEstDte is asked first, and the bytes are uploaded only if the SII does
 *   not know the first document.
 *
 * A transient failure (SII unavailable, answer lost) leaves the documents `signed`, schedules the
 * next attempt with exponential backoff and jitter, and releases the lease. A definite failure (a
 * document cannot be stamped, the SII refuses the upload) makes them `error`: their folios are used
 * and must be annulled with the SII.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { RUT_SII, TimbreError, buildEnvelope, emitDte, inputToDte, parseXml, readDte, siiTimestamp, toBytes, type DteInput } from '@timbre/dte';
import type { DeliverOptions, EstadoDte } from '@timbre/sii';
import {
  findCompany,
  findDteById,
  findEnvio,
  insertEnvio,
  leaseEnvio,
  patchDte,
  storeSignedDtes,
  writeTransaction,
  type Company,
  type Database,
  type DteRow,
  type DteStatus,
  type EnvioPatch,
  type EnvioRow,
} from '@timbre/store';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Metrics } from '../plugins/metrics.js';
import type { CompanySigner, SignerCache } from './signers.js';
import { DTE_STATE_COLUMNS, markError, transition, type DteState } from './status.js';

/** Points right after each persisted step (and right before/after the upload): the crash-test hook. */
export const FAULT_POINTS = ['draft', 'signed', 'enveloped', 'uploading', 'uploaded', 'sent'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface PipelineDeps {
  db: Kysely<Database>;
  signers: SignerCache;
  metrics: Metrics;
  now: () => Date;
  log: FastifyBaseLogger;
  /** How long a worker owns a document (must exceed the longest upload + status wait). */
  leaseMs: number;
  /** First retry delay after a transient failure, ms; doubles per attempt (jittered), at most 15 min. */
  retryBaseMs: number;
  /** Passed to deliverEnvelope (how long to ask the SII after a lost answer before uploading again). */
  deliver?: DeliverOptions;
  /** Test hook: called after each persisted step. */
  faultPoint?: (point: FaultPoint) => void;
}

export type AdvanceOutcome =
  /** Uploaded (or found at the SII): the document is `sent`. */
  | { kind: 'sent'; row: DteRow }
  /** Definite failure: the document is `error`. */
  | { kind: 'failed'; row: DteRow; error: unknown }
  /** Transient failure: still `signed`, next attempt scheduled. */
  | { kind: 'retry'; row: DteRow; error: unknown; code: string }
  /** Its envelope is being sent by another worker right now. */
  | { kind: 'busy'; row: DteRow };

const TRANSIENT = new Set(['ERR_SII_UNAVAILABLE', 'ERR_SII_TIMEOUT', 'ERR_SII_CIRCUIT_OPEN']);
const MAX_RETRY_MS = 15 * 60_000;

export const isTransient = (e: unknown): boolean => e instanceof TimbreError && TRANSIENT.has(e.code);
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Exponential backoff with ±20 % jitter, so that documents failed together do not retry together. */
export function retryDelayMs(baseMs: number, attempts: number, random: () => number = Math.random): number {
  const raw = Math.min(MAX_RETRY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/** What `sendEnvio` did with an envelope. */
export type EnvioOutcome =
  | { kind: 'sent'; envio: EnvioRow }
  | { kind: 'failed'; envio: EnvioRow; error: unknown }
  | { kind: 'retry'; envio: EnvioRow; error: unknown; code: string };

const codeOf = (e: unknown): string => (typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'ERR_INTERNAL');

/** The company and its signer, or the reason they are not available now. */
async function companySigner(deps: PipelineDeps, rutEmisor: string): Promise<{ company: Company; signer: CompanySigner } | { error: unknown }> {
  try {
    const company = await findCompany(deps.db, rutEmisor);
    if (company === undefined) throw new TimbreError('ERR_INPUT_INVALID', `company ${rutEmisor} is gone`);
    return { company, signer: await deps.signers.forCompany(rutEmisor, deps.now()) };
  } catch (error) {
    return { error };
  }
}

/** Stamp and sign a draft in memory (nothing stored), or throw why it cannot be (definite). */
async function emitDraft(deps: PipelineDeps, row: DteRow, signer: CompanySigner): Promise<{ xml: string; ted: string; canonical: string }> {
  if (row.request_json === null || row.fecha_emision === null || row.caf_id === null) {
    throw new TimbreError('ERR_INPUT_INVALID', `draft ${row.id} has no stored request to stamp`);
  }
  const input = JSON.parse(row.request_json) as DteInput;
  const caf = await deps.signers.caf(row.caf_id);
  const dte = inputToDte(input, { folio: row.folio, fchEmis: row.fecha_emision });
  return emitDte(dte, { cafs: [caf], signer: { rut: signer.certificado.rut, signingKey: signer.certificado.signingKey }, now: deps.now() });
}

/**
 * `draft → signed`: stamp and sign with the stored request, folio and issue date. Returns the
 * updated row and the canonical form of the signed DTE (spares parsing it for the envelope), or
 * throws the reason it cannot be stamped (definite: the caller records `error`).
 */
export async function stamp(deps: PipelineDeps, row: DteRow, signer: CompanySigner): Promise<{ row: DteRow; canonical: string }> {
  const emitted = await emitDraft(deps, row, signer);
  const updated = await patchDte(deps.db, row.id, { status: 'signed', xml_signed: emitted.xml, ted: emitted.ted, error_message: null });
  if (updated === undefined) throw new Error(`document ${row.id} vanished`);
  deps.metrics.documents.inc({ dte_type: String(row.tipo_dte), status: 'signed' });
  deps.faultPoint?.('signed');
  return { row: updated, canonical: emitted.canonical };
}

/** Documents stamped between two turns of the event loop (about 1 ms each). */
const STAMP_SLICE = 16;

/**
 * `stamp` for many drafts (a batch's envelope group): each is stamped and signed in memory, then
 * ALL are stored `signed` with one statement (per 500) before anything else happens to them —
 * before their envelope is built, long before an upload. Drafts that cannot be stamped come back in
 * `failed` (the caller records `error`); the others in `stamped`, in the order given. The event
 * loop gets a turn every few documents, so other requests and jobs are not held up.
 */
export async function stampMany(
  deps: PipelineDeps,
  rows: readonly DteRow[],
  signer: CompanySigner,
): Promise<{ stamped: Array<{ row: DteRow; canonical: string }>; failed: Array<{ row: DteRow; error: unknown }> }> {
  const done: Array<{ row: DteRow; xml: string; ted: string; canonical: string }> = [];
  const failed: Array<{ row: DteRow; error: unknown }> = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as DteRow;
    try {
      done.push({ row, ...(await emitDraft(deps, row, signer)) });
    } catch (error) {
      failed.push({ row, error });
    }
    if (i % STAMP_SLICE === STAMP_SLICE - 1) await yieldToLoop();
  }
  if (done.length === 0) return { stamped: [], failed };
  const at = new Date().toISOString();
  const updated = await storeSignedDtes(deps.db, done.map((d) => ({ id: d.row.id, xmlSigned: d.xml, ted: d.ted })), at);
  if (updated !== done.length) throw new Error(`${done.length - updated} of ${done.length} documents vanished while being stamped`);
  for (const d of done) deps.metrics.documents.inc({ dte_type: String(d.row.tipo_dte), status: 'signed' });
  deps.faultPoint?.('signed');
  return {
    stamped: done.map((d) => ({ row: { ...d.row, status: 'signed', xml_signed: d.xml, ted: d.ted, error_message: null, updated_at: at }, canonical: d.canonical })),
    failed,
  };
}

/**
 * Build one envelope for signed documents of one company (boletas 39/41 go in EnvioBOLETA, the rest
 * in EnvioDTE: never mixed) and store it, linked to its documents, in one transaction. The caller
 * holds the envelope's lease from here on.
 */
export async function buildEnvio(
  deps: PipelineDeps,
  docs: ReadonlyArray<{ row: DteRow; canonical?: string }>,
  ctx: { company: Company; signer: CompanySigner },
  leaseOwner?: string,
): Promise<EnvioRow> {
  const first = docs[0];
  if (first === undefined) throw new RangeError('buildEnvio: no documents');
  const xml = buildEnvelope({
    dtes: docs.map((d) => ({ xml: d.row.xml_signed as string, tipoDte: d.row.tipo_dte, ...(d.canonical !== undefined ? { canonical: d.canonical } : {}) })),
    caratula: {
      rutEmisor: first.row.rut_emisor,
      rutEnvia: ctx.signer.certificado.rut,
      rutReceptor: RUT_SII,
      fchResol: ctx.company.resolution_fecha,
      nroResol: ctx.company.resolution_nro,
      tmstFirmaEnv: siiTimestamp(deps.now()),
    },
    key: ctx.signer.certificado.signingKey,
  }).xml;
  const kind = isBoleta(first.row.tipo_dte) ? 'EnvioBOLETA' : 'EnvioDTE';
  const envio = await writeTransaction(deps.db, async (trx) => {
    const e = await insertEnvio(trx, {
      rutEmisor: first.row.rut_emisor,
      kind,
      documents: docs.length,
      xml,
      leaseUntil: new Date(deps.now().getTime() + deps.leaseMs).toISOString(),
      leaseOwner: leaseOwner ?? null,
    });
    await trx
      .updateTable('dte')
      .set({ envio_id: e.id, updated_at: new Date().toISOString() })
      .where('id', 'in', docs.map((d) => d.row.id))
      .execute();
    return e;
  });
  deps.faultPoint?.('enveloped');
  return envio;
}

export const isBoleta = (tipoDte: number): boolean => tipoDte === 39 || tipoDte === 41;

/** Every envelope column but its text: the text never changes once built, and the caller has it. */
const ENVIO_STATE: Record<Exclude<keyof EnvioRow, 'xml'>, true> = {
  id: true,
  rut_emisor: true,
  kind: true,
  status: true,
  documents: true,
  track_id: true,
  sii_status: true,
  upload_attempts: true,
  attempts: true,
  lease_until: true,
  lease_owner: true,
  next_attempt_at: true,
  error_message: true,
  created_at: true,
  updated_at: true,
};
const ENVIO_STATE_COLUMNS = Object.keys(ENVIO_STATE) as Array<keyof typeof ENVIO_STATE>;

/** `patchEnvio` that does not read the (up to megabytes of) envelope text back: it is the one given. */
async function patchEnvioState(db: Kysely<Database>, envio: EnvioRow, patch: EnvioPatch): Promise<EnvioRow> {
  const updated = await db
    .updateTable('envio')
    .set({ ...patch, updated_at: new Date().toISOString() })
    .where('id', '=', envio.id)
    .returning(ENVIO_STATE_COLUMNS)
    .executeTakeFirst();
  if (updated === undefined) throw new Error(`envio ${envio.id} vanished`);
  return { ...envio, ...updated };
}

/**
 * Upload an envelope whose lease the caller holds, and record the outcome on it and on every
 * document it carries (one transaction). Never throws for the SII's answers; only when the database
 * fails.
 */
export async function sendEnvio(deps: PipelineDeps, leased: EnvioRow): Promise<EnvioOutcome> {
  const { db, metrics } = deps;
  let envio = leased;
  let docs: DteState[] = [];
  const count = (status: DteStatus) => {
    for (const d of docs) metrics.documents.inc({ dte_type: String(d.tipo_dte), status });
  };
  const patch = async (p: EnvioPatch, on: Kysely<Database> = db): Promise<EnvioRow> => {
    envio = await patchEnvioState(on, envio, p);
    return envio;
  };
  const retry = async (error: unknown, code: string): Promise<EnvioOutcome> => {
    const attempts = envio.attempts + 1;
    const next = new Date(deps.now().getTime() + retryDelayMs(deps.retryBaseMs, attempts)).toISOString();
    const message = messageOf(error);
    await patch({ attempts, next_attempt_at: next, lease_until: null, error_message: message });
    await db
      .updateTable('dte')
      .set({ error_message: message, next_attempt_at: next, updated_at: new Date().toISOString() })
      .where('envio_id', '=', envio.id)
      .where('status', '=', 'signed')
      .execute();
    deps.log.warn({ err: error, envio: envio.id, next }, 'envelope will be sent again');
    return { kind: 'retry', envio, error, code };
  };
  const fail = async (error: unknown): Promise<EnvioOutcome> => {
    const message = messageOf(error);
    await writeTransaction(db, async (trx) => {
      await patch({ status: 'error', error_message: message, lease_until: null, next_attempt_at: null }, trx);
      await transition(trx, docs, ['signed'], { status: 'error', errorMessage: message, extra: { lease_until: null, next_attempt_at: null } });
    });
    count('error');
    deps.log.warn({ err: error, envio: envio.id }, 'envelope refused');
    return { kind: 'failed', envio, error };
  };
  const sent = async (trackId: string | null, siiStatus: string | null): Promise<EnvioOutcome> => {
    const now = new Date().toISOString();
    await writeTransaction(db, async (trx) => {
      await patch({ status: 'sent', track_id: trackId ?? envio.track_id, sii_status: siiStatus, error_message: null, lease_until: null, next_attempt_at: null }, trx);
      await transition(trx, docs, ['signed'], {
        status: 'sent',
        siiTrackId: trackId ?? envio.track_id,
        siiStatus,
        errorMessage: null,
        extra: { lease_until: null, next_attempt_at: null, next_poll_at: now },
      });
    });
    count('sent');
    deps.faultPoint?.('sent');
    return { kind: 'sent', envio };
  };

  const cs = await companySigner(deps, envio.rut_emisor);
  if ('error' in cs) return retry(cs.error, codeOf(cs.error));
  const { signer } = cs;

  // Its documents, without their large texts (the envelope has them): what their outcome needs.
  docs = await db.selectFrom('dte').select(DTE_STATE_COLUMNS).where('envio_id', '=', envio.id).orderBy('tipo_dte').orderBy('folio').execute();
  // An earlier attempt may have reached the SII: ask before uploading again.
  const first =
    envio.upload_attempts > 0
      ? await db
          .selectFrom('dte')
          .select(['rut_emisor', 'tipo_dte', 'folio', 'xml_signed'])
          .where('envio_id', '=', envio.id)
          .where('xml_signed', 'is not', null)
          .orderBy('tipo_dte')
          .orderBy('folio')
          .limit(1)
          .executeTakeFirst()
      : undefined;
  if (first !== undefined) {
    try {
      const estado = await signer.sii.getEstDte(estDteQuery(first));
      metrics.siiCalls.inc({ operation: 'getEstDte', outcome: estado.estado });
      if (estado.recibido) return sent(envio.track_id, estado.estado);
    } catch (e) {
      metrics.siiCalls.inc({ operation: 'getEstDte', outcome: codeOf(e) });
      if (isTransient(e)) return retry(e, codeOf(e));
      // A definite refusal of the query: upload the same bytes; the SII's duplicate rule covers us.
    }
  }

  await patch({ upload_attempts: envio.upload_attempts + 1 });
  deps.faultPoint?.('uploading');
  let delivered: Awaited<ReturnType<CompanySigner['sii']['deliverEnvelope']>>;
  try {
    delivered = await signer.sii.deliverEnvelope(toBytes(envio.xml), { fileName: `envio-${envio.id}.xml`, ...deps.deliver });
  } catch (e) {
    metrics.siiCalls.inc({ operation: 'deliver', outcome: codeOf(e) });
    return isTransient(e) ? retry(e, codeOf(e)) : fail(e);
  }
  metrics.siiCalls.inc({ operation: 'deliver', outcome: delivered.kind });
  deps.faultPoint?.('uploaded');
  switch (delivered.kind) {
    case 'unknown':
      return retry(new Error(`SII answer lost: ${delivered.detail}`), 'ERR_SII_OUTCOME_UNKNOWN');
    case 'recorded':
      return sent(null, delivered.estadoDte.estado);
    default:
      return sent(delivered.trackId ?? null, null);
  }
}

/**
 * Advance one document whose lease the caller holds, as far as it goes: stamp it, give it its own
 * envelope, send that. Never throws for the document's own failures (they are recorded and
 * returned); throws only when the database fails.
 */
export async function advance(deps: PipelineDeps, leased: DteRow): Promise<AdvanceOutcome> {
  const { db } = deps;
  let row = leased;
  const reload = async (): Promise<DteRow> => {
    const r = await findDteById(db, row.id);
    if (r === undefined) throw new Error(`document ${row.id} vanished`);
    row = r;
    return r;
  };
  const fail = async (error: unknown): Promise<AdvanceOutcome> => {
    const updated = await markError(db, row, messageOf(error));
    deps.metrics.documents.inc({ dte_type: String(row.tipo_dte), status: 'error' });
    deps.log.warn({ err: error, id: row.id, tipoDte: row.tipo_dte, folio: row.folio }, 'document failed');
    return { kind: 'failed', row: updated, error };
  };
  const retry = async (error: unknown, code: string, next?: string | null): Promise<AdvanceOutcome> => {
    const attempts = row.attempts + 1;
    const at = next ?? new Date(deps.now().getTime() + retryDelayMs(deps.retryBaseMs, attempts)).toISOString();
    const updated = await patchDte(db, row.id, { attempts, next_attempt_at: at, lease_until: null, error_message: messageOf(error) });
    deps.log.warn({ err: error, id: row.id, tipoDte: row.tipo_dte, folio: row.folio, next: at }, 'document will be retried');
    return { kind: 'retry', row: updated ?? row, error, code };
  };

  const cs = await companySigner(deps, row.rut_emisor);
  // No certificate right now (expired, replaced): the document waits, it does not fail.
  if ('error' in cs) return retry(cs.error, codeOf(cs.error));

  // 1. draft → signed
  let canonical: string | undefined;
  if (row.status === 'draft') {
    try {
      ({ row, canonical } = await stamp(deps, row, cs.signer));
    } catch (e) {
      return fail(e);
    }
  }
  if (row.status !== 'signed' || row.xml_signed === null) return { kind: 'failed', row, error: new Error(`document ${row.id} is ${row.status}`) };

  // 2. its envelope: built and stored now, or the one it already has
  let envio: EnvioRow | undefined;
  if (row.envio_id === null) {
    try {
      envio = await buildEnvio(deps, [{ row, ...(canonical !== undefined ? { canonical } : {}) }], cs);
    } catch (e) {
      return fail(e);
    }
  } else {
    envio = await leaseEnvio(db, row.envio_id, { now: deps.now(), leaseMs: deps.leaseMs });
    if (envio === undefined) {
      const current = await findEnvio(db, row.envio_id);
      if (current?.status === 'built') {
        await patchDte(db, row.id, { lease_until: null });
        return { kind: 'busy', row: await reload() };
      }
      // Sent or refused by whoever held it: the document row already says so.
      const r = await reload();
      if (r.status === 'sent' || r.status === 'accepted' || r.status === 'accepted_with_reparos' || r.status === 'rejected') return { kind: 'sent', row: r };
      return { kind: 'failed', row: r, error: new Error(r.error_message ?? `envelope ${row.envio_id} failed`) };
    }
  }

  // 3. upload
  const out = await sendEnvio(deps, envio);
  await reload();
  if (out.kind === 'sent') return { kind: 'sent', row };
  if (out.kind === 'failed') return { kind: 'failed', row, error: out.error };
  return retry(out.error, out.code, out.envio.next_attempt_at);
}

/** QueryEstDte's key, read from the stored signed XML. */
export function estDteQuery(row: Pick<DteRow, 'xml_signed' | 'rut_emisor' | 'tipo_dte' | 'folio'>): { rutEmisor: string; rutReceptor: string; tipoDte: number; folio: number; fechaEmision: string; montoTotal: number } {
  const { dte } = readDte(parseXml(row.xml_signed as string).root);
  const e = dte.encabezado;
  return {
    rutEmisor: row.rut_emisor,
    rutReceptor: e.receptor.rutRecep,
    tipoDte: row.tipo_dte,
    folio: row.folio,
    fechaEmision: e.idDoc.fchEmis,
    montoTotal: Math.round(e.totales.mntTotal),
  };
}

/** The signed DTE without its XMLDSig signature (what was stamped; for ERPs that store both). */
export function unsignedXml(xmlSigned: string): string {
  // The DTE's own Signature follows its Documento (SignedInfo, SignatureValue… are inside it).
  const docEnd = xmlSigned.lastIndexOf('</Documento>');
  const m = /<Signature[\s>]/.exec(xmlSigned.slice(docEnd));
  const end = xmlSigned.lastIndexOf('</Signature>');
  if (docEnd < 0 || m === null || end < 0) return xmlSigned;
  let start = docEnd + m.index;
  while (start > 0 && /\s/.test(xmlSigned[start - 1] as string)) start--; // with its indentation
  return xmlSigned.slice(0, start) + xmlSigned.slice(end + '</Signature>'.length);
}

export type { DteStatus, EstadoDte };
