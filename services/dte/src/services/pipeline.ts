/**
 * Moving one stored document forward: `draft → signed → (envelope stored) → sent`, each step
 * persisted before the next begins, so that whichever process holds the document's lease next (the
 * request that created it, a retry with the same Idempotency-Key, `recovery/resend`, or the recovery
 * sweep after a restart) continues from the last persisted step:
 *
 * - `draft`: folio allocated (with the request and the issue date, in one transaction) → stamp and
 *   sign → `signed` with the XML and the TED. Never sent, so signing again after a crash is harmless.
 * - `signed` without envelope → build the EnvioDTE/EnvioBOLETA and store its text: every later upload
 *   sends these SAME bytes (the SII refuses the same bytes within 900 s as a duplicate, STATUS 99,
 *   naming the first track id; different bytes would be a second envío).
 * - `signed` with envelope → count the attempt (before the upload) → upload → `sent` with the track id.
 *   When an earlier attempt was counted, the SII may already have the document (the process died
 *   after uploading, or the answer was lost): ask QueryEstDte first and upload only if it does not
 *   know the document.
 *
 * A transient failure (SII unavailable, answer lost) leaves the document `signed`, schedules the next
 * attempt with exponential backoff and jitter, and releases the lease. A definite failure (the
 * document cannot be stamped, the SII refuses the upload) makes it `error`: its folio is used and must
 * be annulled with the SII.
 */
import { RUT_SII, TimbreError, buildEnvelope, emitDte, inputToDte, parseXml, readDte, siiTimestamp, toBytes, type DteInput } from '@timbre/dte';
import type { DeliverOptions, EstadoDte } from '@timbre/sii';
import { findCompany, patchDte, type Company, type Database, type DtePatch, type DteRow, type DteStatus } from '@timbre/store';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Metrics } from '../plugins/metrics.js';
import type { CompanySigner, SignerCache } from './signers.js';

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
  | { kind: 'retry'; row: DteRow; error: unknown; code: string };

const TRANSIENT = new Set(['ERR_SII_UNAVAILABLE', 'ERR_SII_TIMEOUT', 'ERR_SII_CIRCUIT_OPEN']);
const MAX_RETRY_MS = 15 * 60_000;

export const isTransient = (e: unknown): boolean => e instanceof TimbreError && TRANSIENT.has(e.code);
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Exponential backoff with ±20 % jitter, so that documents failed together do not retry together. */
export function retryDelayMs(baseMs: number, attempts: number, random: () => number = Math.random): number {
  const raw = Math.min(MAX_RETRY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/**
 * Advance a document whose lease the caller holds, as far as it goes. Never throws for the
 * document's own failures (they are recorded and returned); throws only when the database fails.
 */
export async function advance(deps: PipelineDeps, leased: DteRow): Promise<AdvanceOutcome> {
  const { db, metrics } = deps;
  const tipo = String(leased.tipo_dte);
  let row = leased;
  const patch = async (p: DtePatch): Promise<DteRow> => {
    const updated = await patchDte(db, row.id, p);
    if (updated === undefined) throw new Error(`document ${row.id} vanished`);
    row = updated;
    return row;
  };
  const fail = async (error: unknown): Promise<AdvanceOutcome> => {
    await patch({ status: 'error', error_message: messageOf(error), lease_until: null, next_attempt_at: null });
    metrics.documents.inc({ dte_type: tipo, status: 'error' });
    deps.log.warn({ err: error, id: row.id, tipoDte: row.tipo_dte, folio: row.folio }, 'document failed');
    return { kind: 'failed', row, error };
  };
  const retry = async (error: unknown, code: string): Promise<AdvanceOutcome> => {
    const attempts = row.attempts + 1;
    const next = new Date(deps.now().getTime() + retryDelayMs(deps.retryBaseMs, attempts)).toISOString();
    await patch({ attempts, next_attempt_at: next, lease_until: null, error_message: messageOf(error) });
    deps.log.warn({ err: error, id: row.id, tipoDte: row.tipo_dte, folio: row.folio, next }, 'document will be retried');
    return { kind: 'retry', row, error, code };
  };

  let company: Company | undefined;
  let signer: CompanySigner;
  try {
    company = await findCompany(db, row.rut_emisor);
    if (company === undefined) throw new TimbreError('ERR_INPUT_INVALID', `company ${row.rut_emisor} is gone`);
    signer = await deps.signers.forCompany(row.rut_emisor, deps.now());
  } catch (e) {
    // No certificate right now (expired, replaced): the document waits, it does not fail.
    return retry(e, typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'ERR_INTERNAL');
  }

  // 1. draft → signed
  let canonical: string | undefined; // C14N of the DTE just signed: spares parsing it for the envelope
  if (row.status === 'draft') {
    let emitted: ReturnType<typeof emitDte>;
    try {
      if (row.request_json === null || row.fecha_emision === null || row.caf_id === null) {
        throw new TimbreError('ERR_INPUT_INVALID', `draft ${row.id} has no stored request to stamp`);
      }
      const input = JSON.parse(row.request_json) as DteInput;
      const caf = await deps.signers.caf(row.caf_id);
      const dte = inputToDte(input, { folio: row.folio, fchEmis: row.fecha_emision });
      emitted = emitDte(dte, { cafs: [caf], signer: { rut: signer.certificado.rut, signingKey: signer.certificado.signingKey }, now: deps.now() });
    } catch (e) {
      return fail(e);
    }
    canonical = emitted.canonical;
    await patch({ status: 'signed', xml_signed: emitted.xml, ted: emitted.ted, error_message: null });
    metrics.documents.inc({ dte_type: tipo, status: 'signed' });
    deps.faultPoint?.('signed');
  }
  if (row.status !== 'signed' || row.xml_signed === null) return { kind: 'failed', row, error: new Error(`document ${row.id} is ${row.status}`) };

  // 2. the envelope, stored before its first upload
  if (row.xml_envelope === null) {
    let envelopeXml: string;
    try {
      envelopeXml = buildEnvelope({
        dtes: [{ xml: row.xml_signed, tipoDte: row.tipo_dte, ...(canonical !== undefined ? { canonical } : {}) }],
        caratula: {
          rutEmisor: row.rut_emisor,
          rutEnvia: signer.certificado.rut,
          rutReceptor: RUT_SII,
          fchResol: company.resolution_fecha,
          nroResol: company.resolution_nro,
          tmstFirmaEnv: siiTimestamp(deps.now()),
        },
        key: signer.certificado.signingKey,
      }).xml;
    } catch (e) {
      return fail(e);
    }
    await patch({ xml_envelope: envelopeXml });
    deps.faultPoint?.('enveloped');
  }
  const envelope = row.xml_envelope as string;

  // 3. an earlier attempt may have reached the SII: ask before uploading again
  if (row.upload_attempts > 0) {
    try {
      const estado = await signer.sii.getEstDte(estDteQuery(row));
      metrics.siiCalls.inc({ operation: 'getEstDte', outcome: estado.estado });
      if (estado.recibido) return sent(deps, row, patch, { trackId: row.sii_track_id, siiStatus: estado.estado });
    } catch (e) {
      metrics.siiCalls.inc({ operation: 'getEstDte', outcome: e instanceof TimbreError ? e.code : 'ERR_INTERNAL' });
      if (isTransient(e)) return retry(e, (e as TimbreError).code);
      // A definite refusal of the query: upload the same bytes; the SII's duplicate rule covers us.
    }
  }

  // 4. upload
  await patch({ upload_attempts: row.upload_attempts + 1 });
  deps.faultPoint?.('uploading');
  let delivered: Awaited<ReturnType<CompanySigner['sii']['deliverEnvelope']>>;
  try {
    delivered = await signer.sii.deliverEnvelope(toBytes(envelope), { fileName: `T${row.tipo_dte}F${row.folio}.xml`, ...deps.deliver });
  } catch (e) {
    const code = e instanceof TimbreError ? e.code : 'ERR_INTERNAL';
    metrics.siiCalls.inc({ operation: 'deliver', outcome: code });
    return isTransient(e) ? retry(e, code) : fail(e);
  }
  metrics.siiCalls.inc({ operation: 'deliver', outcome: delivered.kind });
  deps.faultPoint?.('uploaded');
  switch (delivered.kind) {
    case 'unknown':
      return retry(new Error(`SII answer lost: ${delivered.detail}`), 'ERR_SII_OUTCOME_UNKNOWN');
    case 'recorded':
      return sent(deps, row, patch, { trackId: null, siiStatus: delivered.estadoDte.estado });
    default:
      return sent(deps, row, patch, { trackId: delivered.trackId ?? null, siiStatus: null });
  }
}

async function sent(deps: PipelineDeps, row: DteRow, patch: (p: DtePatch) => Promise<DteRow>, r: { trackId: string | null; siiStatus: string | null }): Promise<AdvanceOutcome> {
  const updated = await patch({
    status: 'sent',
    sii_track_id: r.trackId ?? row.sii_track_id,
    sii_status: r.siiStatus,
    error_message: null,
    lease_until: null,
    next_attempt_at: null,
  });
  deps.metrics.documents.inc({ dte_type: String(row.tipo_dte), status: 'sent' });
  deps.faultPoint?.('sent');
  return { kind: 'sent', row: updated };
}

/** QueryEstDte's key, read from the stored signed XML. */
export function estDteQuery(row: DteRow): { rutEmisor: string; rutReceptor: string; tipoDte: number; folio: number; fechaEmision: string; montoTotal: number } {
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
