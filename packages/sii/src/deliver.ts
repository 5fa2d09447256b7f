/**
 * `deliverEnvelope`: upload an envelope and, when the upload's answer is lost, find out whether the
 * SII has it BEFORE uploading again.
 *
 * WHY NOT JUST UPLOAD AGAIN. A lost answer (timeout, connection dropped after the request went out,
 * gateway 502/504, unreadable answer) says nothing about the file: the SII may hold it and have given
 * it a track id that we never saw. Sending it again blindly is not free even though the SII refuses
 * the same bytes within 900 s (STATUS 99, naming the first track id):
 *
 * - the 900 s window counts from the *last* attempt and is the SII's own rule, not a contract: past it
 *   (a slow retry loop, a restart, a queue) the file is processed again as a new envío whose documents
 *   come back rejected (`DTE-3-100` document already received, or `DTE-3-101` if anything in them
 *   changed), which reads like a failure of documents that were in fact accepted;
 * - every upload is a large multipart POST to a service that has just failed to answer: a status
 *   query is a few hundred bytes and has no side effect, so it is the cheap way to ask;
 * - the SII counts every attempt ("Archivo ya fue enviado N veces").
 *
 * So: on `unknown`, ask QueryEstDte for the envelope's first document (key read from the envelope
 * itself: RUTEmisor, TipoDTE, Folio, FchEmis, RUTRecep, MntTotal). The review is asynchronous — a
 * document only becomes visible once the SII has processed the envío — so FAU ("not received") right
 * after the upload proves nothing: poll with backoff (`pollMs`, doubling, at most 30 s) for
 * `statusWaitMs`. If the SII knows the document (`recibido`: DOK, DNK, or a note code), the envelope
 * reached it: return `recorded` and do NOT upload again. Only if it still does not know it after the
 * wait, upload the SAME bytes once more; if the SII had taken the file after all (e.g. the envelope,
 * or that document, was rejected, so QueryEstDte could never see it), its 900 s duplicate rule answers
 * STATUS 99 with the first track id (`duplicate`) — which is why `statusWaitMs` is capped at 600 s:
 * the second upload must land inside that window.
 *
 * If no status check got a definite answer (the SII stayed unavailable) or a check failed for good
 * (e.g. the query was refused), nothing is uploaded again: the result stays `unknown`, with
 * `statusError`. Calling `deliverEnvelope` again with the same bytes within 900 s is safe.
 *
 * Limits: only the FIRST document is checked. `recorded` means "the SII has this document"; it could
 * in principle have come from an earlier envelope, and other documents of this envelope may have been
 * rejected: the per-document outcome is in the SII's result e-mail (or, for envelopes with a known
 * track id, QueryEstUp's counts). DNK counts as known (a document with that folio and other data is
 * at the SII: uploading again cannot help, it would be rejected DTE-3-101).
 */
import { child, childElements, childText, parseXml, readDte, TimbreError, type XmlElement } from '@timbre/dte';
import type { GetEstDteInput, SendOptions } from './client.js';
import { describeCode } from './codes.js';
import { SiiError } from './errors.js';
import type { EstadoDte } from './estado.js';
import type { SiiClock } from './transport.js';
import type { SendEnvelopeResult } from './upload.js';

/** The key of one DTE as QueryEstDte needs it. */
export interface EnvelopeDocumentKey {
  rutEmisor: string;
  rutReceptor: string;
  tipoDte: number;
  folio: number;
  /** `AAAA-MM-DD`. */
  fechaEmision: string;
  montoTotal: number;
}

export interface EnvelopeSummary {
  /** Root element: `EnvioDTE` or `EnvioBOLETA`. */
  kind: 'EnvioDTE' | 'EnvioBOLETA';
  /** `RutEmisor` of the carátula (the company the upload is for). */
  rutEmisor: string;
  /** Number of DTEs in the envelope. */
  documents: number;
  /** The first DTE's key. */
  first: EnvelopeDocumentKey;
}

const invalid = (message: string, cause?: unknown) =>
  new TimbreError('ERR_ENVELOPE_INVALID', `deliverEnvelope: ${message}`, { field: 'envelope', ...(cause !== undefined ? { cause } : {}) });

/**
 * Read what delivering an envelope needs from its bytes: the carátula's RutEmisor and the first DTE's
 * key. Throws TimbreError ERR_ENVELOPE_INVALID when the bytes are not an EnvioDTE/EnvioBOLETA with a
 * readable first DTE (nothing is sent then).
 */
export function readEnvelopeSummary(xml: Uint8Array): EnvelopeSummary {
  if (!(xml instanceof Uint8Array)) throw new TypeError('deliverEnvelope: xml must be the envelope bytes (Uint8Array), not a string');
  let root: XmlElement;
  try {
    root = parseXml(xml).root;
  } catch (e) {
    throw invalid(`the envelope is not readable XML (${e instanceof Error ? e.message : String(e)})`, e);
  }
  if (root.local !== 'EnvioDTE' && root.local !== 'EnvioBOLETA') throw invalid(`root element <${root.name}>, expected EnvioDTE or EnvioBOLETA`);
  const set = child(root, 'SetDTE');
  const caratula = set ? child(set, 'Caratula') : undefined;
  const rutEmisor = caratula ? childText(caratula, 'RutEmisor')?.trim().toUpperCase() : undefined;
  if (!set || !rutEmisor) throw invalid(`${root.local} without SetDTE/Caratula/RutEmisor`);
  const dtes = childElements(set).filter((e) => e.local === 'DTE');
  const firstEl = dtes[0];
  if (!firstEl) throw invalid(`${root.local} holds no DTE`);
  let first: EnvelopeDocumentKey;
  try {
    const { encabezado } = readDte(firstEl).dte;
    first = {
      rutEmisor: encabezado.emisor.rutEmisor.trim().toUpperCase(),
      rutReceptor: encabezado.receptor.rutRecep.trim().toUpperCase(),
      tipoDte: encabezado.idDoc.tipoDte,
      folio: encabezado.idDoc.folio,
      fechaEmision: encabezado.idDoc.fchEmis,
      montoTotal: encabezado.totales.mntTotal,
    };
  } catch (e) {
    throw invalid(`the first DTE cannot be read (${e instanceof Error ? e.message : String(e)})`, e);
  }
  return { kind: root.local, rutEmisor, documents: dtes.length, first };
}

export interface DeliverOptions {
  /**
   * After an upload whose answer was lost: how long to keep asking QueryEstDte for the first document
   * before uploading the same bytes again, ms (default 120 000; at most 600 000, so that the second
   * upload stays inside the SII's 900 s duplicate window).
   */
  statusWaitMs?: number;
  /** First pause between status checks, ms (default 5 000); doubles each time, at most 30 000. */
  pollMs?: number;
  /** Name of the uploaded file (default `envio.xml`). */
  fileName?: string;
}

type Received = Extract<SendEnvelopeResult, { kind: 'received' }>;
type Duplicate = Extract<SendEnvelopeResult, { kind: 'duplicate' }>;
type Unknown = Extract<SendEnvelopeResult, { kind: 'unknown' }>;

/** What this delivery did. */
export interface DeliveryTrail {
  /** Uploads made by this call: 1, or 2 when the SII still did not know the document after the wait. */
  uploads: number;
  /** QueryEstDte calls made after the lost answer (0 when the first upload was answered). */
  statusChecks: number;
  /** The first upload's lost answer, when there was one. */
  lost?: Unknown;
}

export type DeliverResult =
  /** Answered STATUS 0 (by the first upload, or by the second after the SII did not know the document). */
  | (Received & DeliveryTrail)
  /** STATUS 99: the SII already had these bytes; `trackId` names the earlier upload. */
  | (Duplicate & DeliveryTrail)
  /** The answer was lost and the SII has the first document (QueryEstDte `recibido`): not uploaded again. */
  | {
      kind: 'recorded';
      estadoDte: EstadoDte;
      detail: string;
      document: EnvelopeDocumentKey;
      uploads: 1;
      statusChecks: number;
      lost: Unknown;
    }
  /**
   * Still unknown: the second upload's answer was lost too, or the status could not be checked
   * (`statusError`: the SII stayed unavailable, or refused the query); then nothing was uploaded again.
   */
  | (Unknown & DeliveryTrail & { statusError?: SiiError });

export interface DeliverDeps {
  sendEnvelope(xml: Uint8Array, options: SendOptions): Promise<SendEnvelopeResult>;
  getEstDte(input: GetEstDteInput): Promise<EstadoDte>;
  clock: SiiClock;
}

export const DELIVER_DEFAULTS = Object.freeze({ statusWaitMs: 120_000, pollMs: 5_000, maxPollMs: 30_000, maxStatusWaitMs: 600_000 });

/** Failures after which asking again later may get an answer. */
const TRANSIENT: ReadonlySet<string> = new Set(['ERR_SII_UNAVAILABLE', 'ERR_SII_TIMEOUT', 'ERR_SII_CIRCUIT_OPEN']);

/** Transport failures, and QueryEstDte ESTADOs the SII documents as "try again" (-2, -3, -4). */
const worthAskingAgain = (e: SiiError): boolean =>
  TRANSIENT.has(e.code) || (e.code === 'ERR_SII_QUERY_FAILED' && e.siiCode !== undefined && describeCode(e.siiCode, 'estado.dte')?.outcome === 'retry_later');

/**
 * Upload an envelope; on a lost answer, check the first document's status before uploading again
 * (see the module comment). Throws what `sendEnvelope` throws (ERR_SII_UPLOAD_REJECTED…) and
 * ERR_ENVELOPE_INVALID for bytes that are not an envelope.
 */
export async function deliverEnvelope(deps: DeliverDeps, xml: Uint8Array, options: DeliverOptions = {}): Promise<DeliverResult> {
  const statusWaitMs = options.statusWaitMs ?? DELIVER_DEFAULTS.statusWaitMs;
  const pollMs = options.pollMs ?? DELIVER_DEFAULTS.pollMs;
  if (!Number.isFinite(statusWaitMs) || statusWaitMs < 0 || statusWaitMs > DELIVER_DEFAULTS.maxStatusWaitMs) {
    throw new RangeError(`deliverEnvelope: statusWaitMs must be in [0, ${DELIVER_DEFAULTS.maxStatusWaitMs}] (the re-upload must stay inside the SII's 900 s duplicate window), got ${statusWaitMs}`);
  }
  if (!Number.isFinite(pollMs) || pollMs <= 0) throw new RangeError(`deliverEnvelope: pollMs must be a positive number, got ${pollMs}`);

  const envelope = readEnvelopeSummary(xml);
  const send: SendOptions = { rutEmisor: envelope.rutEmisor, ...(options.fileName !== undefined ? { fileName: options.fileName } : {}) };
  const first = await deps.sendEnvelope(xml, send);
  if (first.kind !== 'unknown') return { ...first, uploads: 1, statusChecks: 0 };

  // The answer was lost. Ask for the first document until the SII knows it or the wait is over.
  const { clock } = deps;
  const doc = envelope.first;
  const started = clock.now();
  let delay = pollMs;
  let statusChecks = 0;
  let definite: EstadoDte | undefined;
  let statusError: SiiError | undefined;
  for (;;) {
    statusChecks++;
    try {
      const estado = await deps.getEstDte({ ...doc });
      definite = estado;
      if (estado.recibido) {
        return {
          kind: 'recorded',
          estadoDte: estado,
          detail:
            `the upload's answer was lost (${first.reason}); QueryEstDte answers ${estado.estado} (${estado.glosa}) for ` +
            `T${doc.tipoDte}F${doc.folio} of ${doc.rutEmisor}: the SII has the document, so the envelope was not uploaded again`,
          document: { ...doc },
          uploads: 1,
          statusChecks,
          lost: first,
        };
      }
    } catch (e) {
      if (!(e instanceof SiiError)) throw e;
      statusError = e;
      // A definite refusal of the query (bad parameters, no permission, protocol): it will not change.
      if (!worthAskingAgain(e)) return { ...first, uploads: 1, statusChecks, lost: first, statusError: e };
    }
    const elapsed = clock.now() - started;
    if (elapsed >= statusWaitMs) break;
    await clock.sleep(Math.min(delay, statusWaitMs - elapsed));
    delay = Math.min(delay * 2, Math.max(pollMs, DELIVER_DEFAULTS.maxPollMs));
  }

  // Never a definite answer: we still do not know, and must not upload blindly.
  if (!definite) return { ...first, uploads: 1, statusChecks, lost: first, ...(statusError ? { statusError } : {}) };

  // The SII does not know the document after the wait: upload the SAME bytes again. Had it taken the
  // file after all, its duplicate rule answers STATUS 99 with the first track id.
  const second = await deps.sendEnvelope(xml, send);
  return { ...second, uploads: 2, statusChecks, lost: first };
}
