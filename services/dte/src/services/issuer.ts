/**
 * Issuing one document: validate → claim the idempotency key → allocate a folio → stamp and sign →
 * persist `signed` (with the XML) → envelope → deliver to the SII → persist `sent`. And the status
 * query that moves `sent` to accepted / accepted_with_reparos / rejected.
 */
import { createHash } from 'node:crypto';
import {
  RUT_SII,
  Rut,
  TimbreError,
  buildEnvelope,
  emitDte,
  inputToDte,
  parseDteInput,
  parseXml,
  readDte,
  siiDate,
  siiTimestamp,
  toBytes,
  type DteInput,
} from '@timbre/dte';
import type { EnvioOutcome } from '@timbre/sii';
import {
  allocateFolio,
  findCompany,
  findDteByKey,
  getIdempotency,
  insertDte,
  putIdempotency,
  updateDteStatus,
  type Database,
  type DteRow,
  type DteStatus,
  type IdempotencyRow,
} from '@timbre/store';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Metrics } from '../plugins/metrics.js';
import { ServiceError } from '../problems.js';
import type { SignerCache } from './signers.js';

export interface GenerateResponse {
  id: number;
  folio: number;
  dte_type: string;
  fecha_emision: string;
  status: DteStatus;
  /** The signed standalone DTE as XML text (the exact ISO-8859-1 bytes: GET /api/v1/dte/{id}/xml). */
  xml_signed: string;
  ted: string;
  sii_track_id: string | null;
  sii_accepted: boolean;
  errors: Array<{ code: string; message: string }>;
}

export interface GenerateResult {
  statusCode: number;
  body: unknown;
  replayed: boolean;
}

export interface IssuerDeps {
  db: Kysely<Database>;
  signers: SignerCache;
  metrics: Metrics;
  now: () => Date;
  log: FastifyBaseLogger;
}

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

function replay(row: IdempotencyRow, hash: string, key: string): GenerateResult {
  if (row.request_hash !== hash) {
    throw new ServiceError('ERR_IDEMPOTENCY_CONFLICT', 409, `Idempotency-Key "${key}" was already used with a different request`);
  }
  if (row.status_code === PENDING) {
    const ext = row.response_json ? (JSON.parse(row.response_json) as Record<string, unknown>) : {};
    throw new ServiceError(
      'ERR_IDEMPOTENCY_IN_PROGRESS',
      409,
      `a request with Idempotency-Key "${key}" is in progress or did not complete; check the document before retrying`,
      ext,
    );
  }
  return { statusCode: row.status_code, body: JSON.parse(row.response_json) as unknown, replayed: true };
}

export async function generate(deps: IssuerDeps, args: { body: unknown; input: DteInput; rutEmisor: string; tipoDte: number; fchEmis: string; idempotencyKey?: string }): Promise<GenerateResult> {
  const { db, signers, metrics, log } = deps;
  const { input, rutEmisor, tipoDte, fchEmis, idempotencyKey } = args;
  const now = deps.now();

  const company = await findCompany(db, rutEmisor);
  if (company === undefined) {
    throw new ServiceError('ERR_COMPANY_NOT_REGISTERED', 409, `company ${rutEmisor} is not registered; POST /api/v1/companies first`);
  }
  const signer = await signers.forCompany(rutEmisor, now);

  const hash = requestHash(args.body);
  if (idempotencyKey !== undefined) {
    const existing = await getIdempotency(db, idempotencyKey, rutEmisor);
    if (existing) return replay(existing, hash, idempotencyKey);
    const claim = await putIdempotency(db, { key: idempotencyKey, rutCompany: rutEmisor, requestHash: hash, responseJson: '', statusCode: PENDING });
    if (!claim.inserted) return replay(claim.row, hash, idempotencyKey);
  }
  const releaseClaim = async () => {
    if (idempotencyKey !== undefined) {
      await db.deleteFrom('idempotency').where('key', '=', idempotencyKey).where('rut_company', '=', rutEmisor).execute();
    }
  };
  const finish = async (statusCode: number, body: unknown, pendingInfo?: Record<string, unknown>) => {
    if (idempotencyKey === undefined) return;
    await db
      .updateTable('idempotency')
      .set(pendingInfo ? { response_json: JSON.stringify(pendingInfo) } : { status_code: statusCode, response_json: JSON.stringify(body) })
      .where('key', '=', idempotencyKey)
      .where('rut_company', '=', rutEmisor)
      .execute();
  };

  // 1. Folio. Nothing but the claim has been written yet: release it on failure.
  let folio: number;
  let cafId: number;
  try {
    ({ folio, cafId } = await allocateFolio(db, { rutEmisor, tipoDte, fecha: fchEmis }));
  } catch (e) {
    await releaseClaim();
    throw e;
  }

  // 2. Stamp and sign. From here on the folio is consumed: a failure is recorded as an `error` row,
  //    so the folio is accounted for (it must be annulled with the SII).
  let emitted: ReturnType<typeof emitDte>;
  try {
    const caf = await signers.caf(cafId);
    const dte = inputToDte(input, { folio, fchEmis });
    emitted = emitDte(dte, { cafs: [caf], signer: { rut: signer.certificado.rut, signingKey: signer.certificado.signingKey }, now });
  } catch (e) {
    await insertDte(db, { rutEmisor, tipoDte, folio, status: 'error', idempotencyKey: idempotencyKey ?? null });
    await updateDteStatus(db, { rutEmisor, tipoDte, folio }, { status: 'error', errorMessage: e instanceof Error ? e.message : String(e) });
    await finish(PENDING, undefined, { folio, dte_type: String(tipoDte), dte_status: 'error' });
    metrics.documents.inc({ dte_type: String(tipoDte), status: 'error' });
    throw e;
  }

  // 3. Durable before any network call.
  const row = await insertDte(db, { rutEmisor, tipoDte, folio, status: 'signed', xmlSigned: emitted.xml, idempotencyKey: idempotencyKey ?? null });
  metrics.documents.inc({ dte_type: String(tipoDte), status: 'signed' });
  await finish(PENDING, undefined, { id: row.id, folio, dte_type: String(tipoDte), dte_status: 'signed' });

  const answer = (status: DteStatus, trackId: string | null, errors: GenerateResponse['errors'] = []): GenerateResponse => ({
    id: row.id,
    folio,
    dte_type: String(tipoDte),
    fecha_emision: fchEmis,
    status,
    xml_signed: emitted.xml,
    ted: emitted.ted,
    sii_track_id: trackId,
    sii_accepted: false,
    errors,
  });

  // 4. Envelope and delivery.
  const key = { rutEmisor, tipoDte, folio };
  let delivered: Awaited<ReturnType<typeof signer.sii.deliverEnvelope>>;
  try {
    const envelope = buildEnvelope({
      dtes: [{ xml: emitted.xml, canonical: emitted.canonical, tipoDte }],
      caratula: {
        rutEmisor,
        rutEnvia: signer.certificado.rut,
        rutReceptor: RUT_SII,
        fchResol: company.resolution_fecha,
        nroResol: company.resolution_nro,
        tmstFirmaEnv: siiTimestamp(deps.now()),
      },
      key: signer.certificado.signingKey,
    });
    delivered = await signer.sii.deliverEnvelope(toBytes(envelope.xml));
  } catch (e) {
    const code = e instanceof TimbreError ? e.code : 'ERR_INTERNAL';
    metrics.siiCalls.inc({ operation: 'deliver', outcome: code });
    const transient = code === 'ERR_SII_UNAVAILABLE' || code === 'ERR_SII_TIMEOUT' || code === 'ERR_SII_CIRCUIT_OPEN';
    // Transient: the document stays `signed` (to be re-sent). Definite refusal: `error`.
    await updateDteStatus(db, key, { status: transient ? 'signed' : 'error', errorMessage: e instanceof Error ? e.message : String(e) });
    if (!transient) metrics.documents.inc({ dte_type: String(tipoDte), status: 'error' });
    log.warn({ err: e, rutEmisor, tipoDte, folio }, 'SII delivery failed');
    if (e instanceof TimbreError) {
      // Re-throw with the document's identity so the caller can find it.
      throw new ServiceError(transient ? 'ERR_SII_SEND_FAILED' : 'ERR_SII_SEND_REFUSED', transient ? 503 : 502, `the document was signed and stored but ${transient ? 'could not be sent to' : 'was refused by'} the SII: ${e.message}`, {
        id: row.id,
        folio,
        dte_type: String(tipoDte),
        dte_status: transient ? 'signed' : 'error',
        sii_code: e.siiCode ?? null,
      });
    }
    throw e;
  }
  metrics.siiCalls.inc({ operation: 'deliver', outcome: delivered.kind });

  if (delivered.kind === 'unknown') {
    await updateDteStatus(db, key, { status: 'signed', errorMessage: `SII answer lost: ${delivered.detail}` });
    throw new ServiceError('ERR_SII_OUTCOME_UNKNOWN', 503, 'the document was signed and stored, but whether the SII received it is unknown', {
      id: row.id,
      folio,
      dte_type: String(tipoDte),
      dte_status: 'signed',
    });
  }
  const trackId = delivered.kind === 'recorded' ? null : (delivered.trackId ?? null);
  await updateDteStatus(db, key, { status: 'sent', siiTrackId: trackId, ...(delivered.kind === 'recorded' ? { siiStatus: delivered.estadoDte.estado } : {}) });
  metrics.documents.inc({ dte_type: String(tipoDte), status: 'sent' });
  const body = answer('sent', trackId);
  await finish(200, body);
  return { statusCode: 200, body, replayed: false };
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
    updated = (await updateDteStatus(db, q, { status, siiStatus, errorMessage })) ?? row;
    metrics.documents.inc({ dte_type: String(q.tipoDte), status });
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
