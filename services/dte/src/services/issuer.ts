/**
 * Issuing one document: validate → (one write transaction: claim the Idempotency-Key, allocate the
 * folio, insert the `draft` with the request) → advance it (pipeline.ts: stamp and sign, store the
 * envelope, upload) → answer, and store the answer under the key. And the status query that moves
 * `sent` to accepted / accepted_with_reparos / rejected.
 *
 * A retry with the same key never allocates again: it replays the stored answer, or — when the first
 * request died or the SII was unreachable — takes the document's lease and continues it.
 */
import { createHash } from 'node:crypto';
import { Rut, inputToDte, parseDteInput, parseXml, readDte, siiDate, siiTimestamp, type DteInput } from '@timbre/dte';
import type { EnvioOutcome } from '@timbre/sii';
import {
  UNFINISHED_STATUSES,
  allocateFolio,
  findCompany,
  findDteByIdempotencyKey,
  findDteByKey,
  getIdempotency,
  insertDte,
  leaseDte,
  putIdempotency,
  updateDteStatus,
  writeTransaction,
  type Database,
  type DteRow,
  type DteStatus,
  type IdempotencyRow,
} from '@timbre/store';
import type { Kysely } from 'kysely';
import { ServiceError, toProblem } from '../problems.js';
import { advance, unsignedXml, type AdvanceOutcome, type PipelineDeps } from './pipeline.js';
import { transition } from './status.js';

export interface GenerateResponse {
  id: number;
  folio: number;
  dte_type: string;
  fecha_emision: string;
  status: DteStatus;
  /** The signed standalone DTE as XML text (the exact ISO-8859-1 bytes: GET /api/v1/dte/{id}/xml). */
  xml_signed: string;
  /** The same document without its XMLDSig signature. */
  xml_unsigned: string;
  ted: string;
  sii_track_id: string | null;
  sii_accepted: boolean;
  errors: Array<{ code: string; message: string }>;
  /** Only when the request asked for it (`?pdf=`): the PDF of xml_signed, base64. Never stored with the idempotent answer. */
  pdf_content?: string;
}

export interface GenerateResult {
  statusCode: number;
  body: unknown;
  replayed: boolean;
}

export type IssuerDeps = PipelineDeps;

/** Idempotency rows with this status code are claims of a request still running (or one that died). */
const PENDING = 0;

export const requestHash = (body: unknown): string => createHash('sha256').update(JSON.stringify(body) ?? '').digest('hex');

/** Validate the document before anything is written. Throws TimbreValidationError (422). */
export function validateInput(body: unknown, fchEmis: string): { input: DteInput; rutEmisor: string; tipoDte: number } {
  const input = parseDteInput(body);
  if (input.folio !== undefined && input.folio > 0) {
    throw new ServiceError('ERR_FOLIO_NOT_SUPPORTED', 422, 'folio is allocated by the service: send 0 or omit it', {}, [
      { field: 'folio', message: 'client-chosen folios are not supported yet; send 0 or omit it', code: 'ERR_FOLIO_NOT_SUPPORTED' },
    ]);
  }
  // Totals, rules, lengths, Latin-1: checked now with a placeholder folio, so a bad document never consumes one.
  inputToDte(input, { folio: 1, fchEmis });
  return { input, rutEmisor: Rut.parse(input.emisor.rut, { field: 'emisor.rut' }).canonical, tipoDte: Number(input.dte_type) };
}

const identity = (row: DteRow) => ({ id: row.id, folio: row.folio, dte_type: String(row.tipo_dte), dte_status: row.status });

/** The answer of `generate` for a stored document (also what a replay or a recovered claim gets). */
export function answerFor(row: DteRow): GenerateResponse {
  return {
    id: row.id,
    folio: row.folio,
    dte_type: String(row.tipo_dte),
    fecha_emision: row.fecha_emision ?? '',
    status: row.status,
    xml_signed: row.xml_signed ?? '',
    xml_unsigned: row.xml_signed ? unsignedXml(row.xml_signed) : '',
    ted: row.ted ?? '',
    sii_track_id: row.sii_track_id,
    sii_accepted: row.status === 'accepted' || row.status === 'accepted_with_reparos',
    errors: [],
  };
}

/** The error a caller gets for an outcome that is not `sent`. */
export function outcomeError(outcome: Exclude<AdvanceOutcome, { kind: 'sent' }>): unknown {
  if (outcome.kind === 'busy') {
    return new ServiceError('ERR_IDEMPOTENCY_IN_PROGRESS', 409, 'the document is being sent by another worker right now; retry later', identity(outcome.row));
  }
  const { row, error } = outcome;
  const siiCode = (error as { siiCode?: string }).siiCode ?? null;
  if (outcome.kind === 'retry') {
    const unknown = outcome.code === 'ERR_SII_OUTCOME_UNKNOWN';
    return new ServiceError(
      unknown ? 'ERR_SII_OUTCOME_UNKNOWN' : 'ERR_SII_SEND_FAILED',
      503,
      unknown
        ? 'the document was signed and stored, but whether the SII received it is unknown; it will be checked and sent again automatically'
        : `the document was signed and stored but could not be sent to the SII (${error instanceof Error ? error.message : String(error)}); it will be sent again automatically`,
      { ...identity(row), next_attempt_at: row.next_attempt_at, sii_code: siiCode },
    );
  }
  if (row.xml_signed === null) return error; // could not be stamped: the error says why (422/409/500)
  return new ServiceError('ERR_SII_SEND_REFUSED', 502, `the document was signed and stored but was refused by the SII: ${error instanceof Error ? error.message : String(error)}`, {
    ...identity(row),
    sii_code: siiCode,
  });
}

async function finishClaim(db: Kysely<Database>, row: DteRow, statusCode: number, body: unknown): Promise<void> {
  if (row.idempotency_key === null) return;
  await db
    .updateTable('idempotency')
    .set({ status_code: statusCode, response_json: JSON.stringify(body) })
    .where('key', '=', row.idempotency_key)
    .where('rut_company', '=', row.rut_emisor)
    .where('status_code', '=', PENDING)
    .execute();
}

/**
 * Store what the caller of the document's request gets, under its Idempotency-Key: the answer when
 * sent, the problem when failed for good. A transient failure leaves the claim pending, so that a
 * retry with the same key continues the document. Returns the result (errors as problems).
 */
export async function recordOutcome(deps: IssuerDeps, outcome: AdvanceOutcome): Promise<{ statusCode: number; body: unknown; error?: unknown }> {
  if (outcome.kind === 'sent') {
    const body = answerFor(outcome.row);
    await finishClaim(deps.db, outcome.row, 200, body);
    return { statusCode: 200, body };
  }
  const error = outcomeError(outcome);
  const { problem } = toProblem(error);
  if (outcome.kind === 'failed') await finishClaim(deps.db, outcome.row, problem.status, problem);
  return { statusCode: problem.status, body: problem, error };
}

async function finishDocument(deps: IssuerDeps, leased: DteRow, replayed: boolean): Promise<GenerateResult> {
  const result = await recordOutcome(deps, await advance(deps, leased));
  if (result.error !== undefined) throw result.error;
  return { statusCode: result.statusCode, body: result.body, replayed };
}

/** A request whose key was seen before: replay, refuse, or continue the document the first one left. */
async function resume(deps: IssuerDeps, claim: IdempotencyRow, hash: string, key: string, rutEmisor: string): Promise<GenerateResult> {
  if (claim.request_hash !== hash) {
    throw new ServiceError('ERR_IDEMPOTENCY_CONFLICT', 409, `Idempotency-Key "${key}" was already used with a different request`);
  }
  if (claim.status_code !== PENDING) return { statusCode: claim.status_code, body: JSON.parse(claim.response_json) as unknown, replayed: true };
  const doc = await findDteByIdempotencyKey(deps.db, rutEmisor, key);
  const inProgress = (ext: Record<string, unknown>) =>
    new ServiceError('ERR_IDEMPOTENCY_IN_PROGRESS', 409, `a request with Idempotency-Key "${key}" is in progress; retry later`, ext);
  if (doc === undefined) throw inProgress({});
  if (UNFINISHED_STATUSES.includes(doc.status)) {
    const leased = await leaseDte(deps.db, doc.id, { now: deps.now(), leaseMs: deps.leaseMs });
    if (leased === undefined) throw inProgress(identity(doc));
    return finishDocument(deps, leased, true);
  }
  // Finished by another worker (recovery) after the claim was written but before it was settled.
  if (doc.status === 'error') {
    const result = await recordOutcome(deps, { kind: 'failed', row: doc, error: new Error(doc.error_message ?? 'failed') });
    throw result.error;
  }
  const body = answerFor(doc);
  await finishClaim(deps.db, doc, 200, body);
  return { statusCode: 200, body, replayed: true };
}

export async function generate(deps: IssuerDeps, args: { body: unknown; input: DteInput; rutEmisor: string; tipoDte: number; fchEmis: string; idempotencyKey?: string }): Promise<GenerateResult> {
  const { db } = deps;
  const { input, rutEmisor, tipoDte, fchEmis, idempotencyKey: key } = args;
  const now = deps.now();

  const company = await findCompany(db, rutEmisor);
  if (company === undefined) {
    throw new ServiceError('ERR_COMPANY_NOT_REGISTERED', 409, `company ${rutEmisor} is not registered; POST /api/v1/companies first`);
  }
  await deps.signers.forCompany(rutEmisor, now); // no valid certificate → 409 before a folio is used

  const hash = requestHash(args.body);
  if (key !== undefined) {
    const existing = await getIdempotency(db, key, rutEmisor);
    if (existing) return resume(deps, existing, hash, key, rutEmisor);
  }

  // Claim, folio and draft commit together: a crash leaves all three or none, so no folio is ever
  // allocated without the document that owns it.
  const opened = await writeTransaction(db, async (trx): Promise<{ claim: IdempotencyRow } | { row: DteRow }> => {
    if (key !== undefined) {
      const claim = await putIdempotency(trx, { key, rutCompany: rutEmisor, requestHash: hash, responseJson: '', statusCode: PENDING });
      if (!claim.inserted) return { claim: claim.row };
    }
    const { folio, cafId } = await allocateFolio(trx, { rutEmisor, tipoDte, fecha: fchEmis });
    const row = await insertDte(trx, {
      rutEmisor,
      tipoDte,
      folio,
      status: 'draft',
      idempotencyKey: key ?? null,
      fechaEmision: fchEmis,
      requestJson: JSON.stringify(input),
      cafId,
      leaseUntil: new Date(now.getTime() + deps.leaseMs).toISOString(),
    });
    return { row };
  });
  if ('claim' in opened) return resume(deps, opened.claim, hash, key as string, rutEmisor);
  deps.metrics.documents.inc({ dte_type: String(tipoDte), status: 'draft' });
  deps.faultPoint?.('draft');
  return finishDocument(deps, opened.row, false);
}

// ------------------------------------------------------------------------------------------------
// Status
// ------------------------------------------------------------------------------------------------

export interface StatusResponse {
  id: number;
  folio: number;
  dte_type: string;
  track_id: string | null;
  status: DteStatus;
  sii_status: string | null;
  status_display: string;
  error_message: string | null;
  fecha_revision: string | null;
  final: boolean;
}

const OUTCOME_STATUS: Record<EnvioOutcome, DteStatus | undefined> = {
  pending: undefined,
  accepted: 'accepted',
  accepted_with_reparos: 'accepted_with_reparos',
  rejected: 'rejected',
  // One document per envelope in this service, so "partially" cannot happen; be conservative.
  partially_rejected: 'rejected',
};

/** `532 ( 2004/06/14 16:44:20)` → `2004-06-14T16:44:20` (SII local time, as sent). */
function fechaFromNumAtencion(n: string | undefined): string | null {
  const m = n ? /(\d{4})\/(\d{2})\/(\d{2}) (\d{2}:\d{2}:\d{2})/.exec(n) : null;
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}` : null;
}

export async function querySiiStatus(deps: IssuerDeps, q: { rutEmisor: string; tipoDte: number; folio: number; trackId?: string }): Promise<StatusResponse> {
  const { db, signers, metrics } = deps;
  const row = await findDteByKey(db, q);
  if (row === undefined) throw new ServiceError('ERR_NOT_FOUND', 404, `no document ${q.tipoDte}/${q.folio} of ${q.rutEmisor}`);
  const trackId = q.trackId ?? row.sii_track_id ?? undefined;
  if (row.status === 'signed' || row.status === 'draft' || row.xml_signed === null) {
    return toStatus(row, 'the document has not been sent to the SII', null, false);
  }
  const signer = await signers.forCompany(q.rutEmisor, deps.now());
  let status: DteStatus | undefined;
  let siiStatus: string;
  let display: string;
  let errorMessage: string | null = null;
  let fecha: string | null = null;
  let final: boolean;
  if (trackId !== undefined) {
    const estado = await signer.sii.getEstUp(trackId, q.rutEmisor);
    metrics.siiCalls.inc({ operation: 'getEstUp', outcome: estado.estado });
    status = OUTCOME_STATUS[estado.outcome];
    siiStatus = estado.estado;
    display = estado.glosa;
    final = estado.final;
    fecha = fechaFromNumAtencion(estado.numAtencion);
    if (status === 'rejected') errorMessage = `${estado.estado}: ${estado.glosa}`;
  } else {
    // No track id (the upload's answer was lost but the SII had the document): ask per document.
    const { dte } = readDte(parseXml(row.xml_signed).root);
    const e = dte.encabezado;
    const estado = await signer.sii.getEstDte({
      rutEmisor: q.rutEmisor,
      rutReceptor: e.receptor.rutRecep,
      tipoDte: q.tipoDte,
      folio: q.folio,
      fechaEmision: e.idDoc.fchEmis,
      montoTotal: Math.round(e.totales.mntTotal),
    });
    metrics.siiCalls.inc({ operation: 'getEstDte', outcome: estado.estado });
    siiStatus = estado.estado;
    display = estado.glosa;
    final = estado.estado === 'DOK' || estado.recibido;
    status = estado.estado === 'DOK' ? 'accepted' : estado.recibido ? 'accepted_with_reparos' : undefined;
    if (estado.glosaErr) errorMessage = estado.glosaErr;
  }
  let updated = row;
  if (status !== undefined && status !== row.status) {
    const next = status;
    const [changed] = await writeTransaction(db, (trx) => transition(trx, [row], [row.status], { status: next, siiStatus, errorMessage, display, extra: { next_poll_at: null } }));
    if (changed) {
      updated = changed;
      metrics.documents.inc({ dte_type: String(q.tipoDte), status });
    } else {
      // The guarded transition found the row moved on: the status poller recorded the same answer
      // meanwhile. Answer with what is stored now, not with the row read before the SII call.
      updated = (await findDteByKey(db, q)) ?? row;
    }
  } else if (siiStatus !== row.sii_status) {
    updated = (await updateDteStatus(db, q, { status: row.status, siiStatus })) ?? row;
  }
  const out = toStatus(updated, display, fecha, final);
  return { ...out, track_id: trackId ?? null, error_message: errorMessage ?? updated.error_message };
}

function toStatus(row: DteRow, display: string, fecha: string | null, final: boolean): StatusResponse {
  return {
    id: row.id,
    folio: row.folio,
    dte_type: String(row.tipo_dte),
    track_id: row.sii_track_id,
    status: row.status,
    sii_status: row.sii_status,
    status_display: display,
    error_message: row.error_message,
    fecha_revision: fecha,
    final,
  };
}

export const todayInChile = (now: Date): string => siiDate(siiTimestamp(now));
