/**
 * Received documents: the exchange mailbox (IMAP) and direct uploads go through one pipeline.
 *
 * For each XML file: verify it (verifyXml with the trusted SII keys: every signature, every TED and
 * its CAF, totals), validate it against its SII XSD when the schemas are configured
 * (TIMBRE_SII_SCHEMAS), assess it as the receiver (`assessReceived`: the RecepcionEnvio verdict; a
 * schema failure → EstadoRecepEnv 1), then
 * ONE write transaction stores the envelope (bytes as received, unique per company and SHA-256),
 * each DTE not seen before (unique per company, issuer, type and folio: a repeat is counted, never
 * stored twice) and one `dte.received` outbox event per new DTE. Only after that commit is the mail
 * marked processed in the mailbox, so a crash in between means the message is read again and found
 * already stored (nothing lost, nothing duplicated).
 */
import { createHash } from 'node:crypto';
import { assessReceived, Rut, verifyXml, type XmlVerification } from '@timbre/dte';
import { markProcessed, readInbox, type ImapSettings, type InboundMessage } from '@timbre/mail';
import {
  findEnvelopeBySha,
  findReceivedDteByKey,
  insertReceivedDte,
  insertReceivedEnvelope,
  listDueReceived,
  loadCompanyMail,
  markResponseDueNotified,
  recordEvent,
  saveInboxCursor,
  writeTransaction,
  type Database,
  type ReceivedDteRow,
  type ReceivedSource,
  type SecretBox,
} from '@timbre/store';
import type { SchemaSet } from '@timbre/xsd';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { ServiceError } from '../problems.js';
import { PeriodicTask } from './periodic.js';
import type { TrustedKeys } from './trust.js';

export const DAY_MS = 86_400_000;
/** Ley 19.983: 8 calendar days from reception to accept or claim. */
export const RESPONSE_WINDOW_MS = 8 * DAY_MS;
/** Largest XML accepted (upload body, mail attachment). */
export const RECEIVED_MAX_BYTES = 10 * 1024 * 1024;

export interface InboxDeps {
  db: Kysely<Database>;
  box: SecretBox;
  log: FastifyBaseLogger;
  now: () => Date;
  trustedKeys: TrustedKeys;
  faultPoint?: (point: 'inbox.stored') => void;
  /** The SII schemas (config.schemasDir, loaded once); absent: received files are not schema-validated. */
  schemas?: SchemaSet;
}

/** The XSD part of a stored verification report. */
export type SchemaCheck = { checked: true; valid: boolean; schema: string; errors: string[] } | { checked: false; reason: string };

export interface ReceivedResult {
  received_id: number | null;
  rut_emisor: string | null;
  dte_type: string | null;
  folio: number | null;
  estado_recep_dte: number;
  valid: boolean;
  duplicate: boolean;
  errors: Array<{ code: string; message: string }>;
}

export interface SkippedFile {
  message_id?: string | null;
  uid?: number | null;
  filename: string | null;
  reason: string;
}

export interface IngestSummary {
  messages: number;
  documents_stored: number;
  duplicates: number;
  skipped: SkippedFile[];
  results: ReceivedResult[];
}

export interface IngestFile {
  rutCompany: string;
  source: ReceivedSource;
  bytes: Buffer;
  filename?: string | null;
  messageId?: string | null;
  uid?: number | null;
  sender?: string | null;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A DTE's verification report as stored (the typed model is left out: it is in the XML). */
function report(v: XmlVerification['documents'][number], envelope: XmlVerification, schema: SchemaCheck) {
  const { dte: _dte, ...rest } = v;
  return {
    ...rest,
    envelope: { root: envelope.root, encoding: envelope.encoding, valid: envelope.valid, errors: envelope.errors, signatures: envelope.envelopeSignatures, caratula: envelope.caratula },
    schema,
  };
}

/** The received file against its XSD, by its root (EnvioDTE, EnvioBOLETA, DTE; a lone 39/41 DTE as a boleta). */
async function checkSchema(deps: InboxDeps, verification: XmlVerification): Promise<SchemaCheck> {
  if (!deps.schemas) return { checked: false, reason: 'TIMBRE_SII_SCHEMAS is not set' };
  if (!verification.doc) return { checked: false, reason: 'not readable XML' };
  const boleta = verification.root === 'DTE' && [39, 41].includes(verification.documents[0]?.tipoDte ?? 0);
  const r = await deps.schemas.validateDocument(verification.doc, boleta);
  if (!r) return { checked: false, reason: `no schema for root element ${verification.root}` };
  return { checked: true, valid: r.valid, schema: r.schema, errors: r.valid ? r.errors : r.errors.length > 0 ? r.errors : [`${r.schema}: not valid`] };
}

const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; message?: string };
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(err?.message ?? '');
};

/**
 * One XML file through the pipeline. `skipped` when it is not an SII document carrying DTEs
 * (nothing stored); otherwise the envelope and its new DTEs are stored in one transaction.
 */
export async function ingestXml(deps: InboxDeps, f: IngestFile): Promise<{ skipped?: string; stored: number; duplicates: number; results: ReceivedResult[] }> {
  const rutCompany = Rut.parse(f.rutCompany, { field: 'rut_receptor' }).canonical;
  const digest = sha256(f.bytes);
  const known = await findEnvelopeBySha(deps.db, rutCompany, digest);
  const verification = verifyXml(f.bytes, { ...(await withKeys(deps)), parse: { maxBytes: RECEIVED_MAX_BYTES } });
  if (verification.root === '') return { skipped: `not readable XML: ${verification.errors[0]?.message ?? 'parse error'}`, stored: 0, duplicates: 0, results: [] };
  if (verification.root !== 'EnvioDTE' && verification.root !== 'DTE' && verification.root !== 'EnvioBOLETA') {
    return { skipped: `not a DTE envelope (root element ${verification.root})`, stored: 0, duplicates: 0, results: [] };
  }
  if (verification.documents.length === 0) return { skipped: `${verification.root} without DTE`, stored: 0, duplicates: 0, results: [] };

  const schema = await checkSchema(deps, verification);
  const assessment = assessReceived(verification, {
    rutReceptor: rutCompany,
    envelopeSeenBefore: known !== undefined,
    ...(schema.checked && !schema.valid ? { schemaErrors: schema.errors } : {}),
  });
  const now = deps.now();
  const deadline = new Date(now.getTime() + RESPONSE_WINDOW_MS).toISOString();
  const text = verification.doc?.text ?? '';
  const dteElements = verification.doc ? (verification.doc.root.local === 'DTE' ? [verification.doc.root] : collect(verification.doc.root)) : [];

  const run = () =>
    writeTransaction(deps.db, async (trx) => {
      const results: ReceivedResult[] = [];
      let stored = 0;
      let duplicates = 0;
      const existing = await findEnvelopeBySha(trx, rutCompany, digest);
      const envelopeId =
        existing?.id ??
        (
          await insertReceivedEnvelope(trx, {
            rutCompany,
            source: f.source,
            messageId: f.messageId ?? null,
            uid: f.uid ?? null,
            sender: f.sender ?? null,
            filename: f.filename ?? null,
            sha256: digest,
            xml: f.bytes,
            root: verification.root,
            envioDteId: assessment.envioDteId ?? null,
            digest: assessment.digest ?? null,
            rutEmisor: assessment.rutEmisor ?? null,
            estadoRecepEnv: assessment.estadoRecepEnv,
            glosa: assessment.recepEnvGlosa ?? null,
            now,
          })
        ).id;
      for (const [i, d] of verification.documents.entries()) {
        const recep = assessment.documentos.find((r) => r.tipoDte === d.tipoDte && r.folio === d.folio && (d.rutEmisor === undefined || sameRut(r.rutEmisor, d.rutEmisor)));
        // Not in the assessment: a type a RecepcionDTE cannot name (39, 110…), or a repeated file.
        const estado = recep?.estadoRecepDte ?? (d.valid ? 0 : d.signature?.valid === false || d.ted?.valid === false ? 1 : 99);
        const errors = d.errors.map((e) => ({ code: String(e.code), message: e.message }));
        const base = { rut_emisor: d.rutEmisor ?? null, dte_type: d.tipoDte !== undefined ? String(d.tipoDte) : null, folio: d.folio ?? null, estado_recep_dte: estado, valid: d.valid, errors };
        if (d.rutEmisor === undefined || d.tipoDte === undefined || d.folio === undefined) {
          results.push({ ...base, received_id: null, duplicate: false });
          continue;
        }
        const el = dteElements[i];
        const row = await insertReceivedDte(trx, {
          rutCompany,
          envelopeId,
          rutEmisor: d.rutEmisor,
          tipoDte: d.tipoDte,
          folio: d.folio,
          fchEmis: d.dte?.encabezado.idDoc.fchEmis ?? recep?.fchEmis ?? null,
          mntTotal: d.dte?.encabezado.totales.mntTotal ?? recep?.mntTotal ?? null,
          rutRecep: d.dte?.encabezado.receptor.rutRecep ?? recep?.rutRecep ?? null,
          correoEmisor: d.dte?.encabezado.emisor.correoEmisor ?? null,
          xml: el ? text.slice(el.start, el.end) : '',
          verification: report(d, verification, schema),
          valid: d.valid,
          estadoRecepDte: estado,
          recepDteGlosa: recep?.recepDteGlosa ?? null,
          deadline,
          now,
        });
        if (row === undefined) {
          duplicates++;
          const prev = await findReceivedDteByKey(trx, { rutCompany, rutEmisor: d.rutEmisor, tipoDte: d.tipoDte, folio: d.folio });
          results.push({ ...base, ...(prev ? { estado_recep_dte: prev.estado_recep_dte } : {}), received_id: prev ? Number(prev.id) : null, duplicate: true });
          continue;
        }
        stored++;
        await recordEvent(trx, { rutCompany, eventType: 'dte.received', aggregateKey: `received:${row.id}`, payload: receivedPayload(row), now });
        results.push({ ...base, received_id: Number(row.id), duplicate: false });
      }
      return { stored, duplicates, results };
    });
  try {
    return await run();
  } catch (e) {
    // Another process stored the same bytes between our check and our insert: read it as a repeat.
    if (isUniqueViolation(e)) return await run();
    throw e;
  }
}

const sameRut = (a: string, b: string): boolean => a.replace(/\./g, '').toUpperCase() === b.replace(/\./g, '').toUpperCase();

function collect(root: NonNullable<XmlVerification['doc']>['root']) {
  const out: Array<typeof root> = [];
  const walk = (el: typeof root) => {
    for (const c of el.children) {
      if (c.type !== 'element') continue;
      if (c.local === 'DTE') out.push(c);
      else walk(c);
    }
  };
  walk(root);
  return out;
}

async function withKeys(deps: InboxDeps) {
  try {
    const keys = await deps.trustedKeys();
    return keys ? { trustedKeys: keys } : {};
  } catch (err) {
    deps.log.warn({ err }, 'trusted SII keys unavailable: received CAFs are not checked against them');
    return {};
  }
}

/** The `dte.received` payload. */
export function receivedPayload(row: Pick<ReceivedDteRow, 'id' | 'rut_emisor' | 'tipo_dte' | 'folio' | 'fch_emis' | 'mnt_total' | 'estado_recep_dte' | 'deadline' | 'valid'>) {
  return {
    received_id: Number(row.id),
    rut_emisor: row.rut_emisor,
    dte_type: String(row.tipo_dte),
    folio: Number(row.folio),
    fch_emis: row.fch_emis,
    mnt_total: row.mnt_total === null ? null : Number(row.mnt_total),
    estado_recep_dte: row.estado_recep_dte,
    valid: row.valid === 1,
    deadline: row.deadline,
  };
}

const XML_NAME = /\.xml$/i;
const XML_TYPE = /^(application|text)\/([a-z0-9.+-]*\+)?xml\b/i;

/** The company's IMAP settings as @timbre/mail takes them; 409 when none are stored. */
export async function imapSettingsFor(deps: Pick<InboxDeps, 'db' | 'box'>, rutCompany: string): Promise<ImapSettings> {
  const s = await loadCompanyMail(deps.db, deps.box, rutCompany);
  if (!s.imap) throw new ServiceError('ERR_MAIL_NOT_CONFIGURED', 409, `company ${rutCompany} has no exchange mailbox: PUT /api/v1/companies/${rutCompany}/mail`, {}, [{ field: 'imap', message: 'not configured', code: 'ERR_MAIL_NOT_CONFIGURED' }]);
  return { host: s.imap.host, port: s.imap.port, secure: s.imap.secure, user: s.imap.user, password: s.imap.password, mailbox: s.imap.mailbox, rejectUnauthorized: s.imap.tlsVerify };
}

/**
 * Read the company's exchange mailbox: every message not yet marked; each XML attachment through
 * `ingestXml`; the message marked processed only once everything in it is stored.
 */
export async function checkInbox(deps: InboxDeps, rutCompany: string): Promise<IngestSummary> {
  const rut = Rut.parse(rutCompany, { field: 'rut_receptor' }).canonical;
  const imap = await imapSettingsFor(deps, rut);
  const out: IngestSummary = { messages: 0, documents_stored: 0, duplicates: 0, skipped: [], results: [] };
  let uidValidity: string | undefined;
  let lastUid: number | undefined;
  for await (const msg of readInbox(imap) as AsyncIterable<InboundMessage>) {
    out.messages++;
    await ingestMessage(deps, rut, msg, out);
    deps.faultPoint?.('inbox.stored');
    await markProcessed(imap, msg.uidValidity, [msg.uid]);
    uidValidity = String(msg.uidValidity);
    lastUid = Math.max(lastUid ?? 0, Number(msg.uid));
  }
  if (uidValidity !== undefined) {
    await saveInboxCursor(deps.db, { rutCompany: rut, mailbox: imap.mailbox ?? 'INBOX', uidValidity, ...(lastUid !== undefined ? { lastUid } : {}), now: deps.now() });
  }
  deps.log.info({ rutCompany: rut, messages: out.messages, stored: out.documents_stored, duplicates: out.duplicates, skipped: out.skipped.length }, 'inbox checked');
  return out;
}

async function ingestMessage(deps: InboxDeps, rut: string, msg: InboundMessage, out: IngestSummary): Promise<void> {
  const where = { message_id: msg.messageId ?? null, uid: Number(msg.uid) };
  for (const s of msg.skipped ?? []) out.skipped.push({ ...where, filename: s.filename ?? null, reason: s.reason });
  const xmls = msg.attachments.filter((a) => XML_NAME.test(a.filename ?? '') || XML_TYPE.test(a.contentType ?? ''));
  for (const a of msg.attachments) {
    if (!xmls.includes(a)) out.skipped.push({ ...where, filename: a.filename ?? null, reason: `not an XML attachment (${a.contentType || 'no content type'})` });
  }
  if (xmls.length === 0 && msg.attachments.length === 0 && (msg.skipped ?? []).length === 0) out.skipped.push({ ...where, filename: null, reason: 'no attachments' });
  for (const a of xmls) {
    if (a.content.length > RECEIVED_MAX_BYTES) {
      out.skipped.push({ ...where, filename: a.filename ?? null, reason: `larger than ${RECEIVED_MAX_BYTES} bytes` });
      continue;
    }
    const r = await ingestXml(deps, { rutCompany: rut, source: 'imap', bytes: a.content, filename: a.filename ?? null, messageId: msg.messageId ?? null, uid: Number(msg.uid), sender: msg.from ?? null });
    add(out, r, { ...where, filename: a.filename ?? null });
  }
}

export function add(out: IngestSummary, r: Awaited<ReturnType<typeof ingestXml>>, where: Omit<SkippedFile, 'reason'>): void {
  if (r.skipped !== undefined) out.skipped.push({ ...where, reason: r.skipped });
  out.documents_stored += r.stored;
  out.duplicates += r.duplicates;
  out.results.push(...r.results);
}

/**
 * `dte.response_due`, once per received DTE with no commercial response (status `received` or
 * `acknowledged`) when less than `dueWithinMs` (2 days) of its 8-day window is left. The mark and
 * the event are written in one transaction, so it is recorded exactly once.
 */
export class ResponseDueCheck {
  private readonly loop: PeriodicTask;

  constructor(
    private readonly deps: Pick<InboxDeps, 'db' | 'log' | 'now'>,
    private readonly options: { intervalMs: number; dueWithinMs: number },
  ) {
    this.loop = new PeriodicTask(() => this.check(), { intervalMs: options.intervalMs, onError: (err) => deps.log.error({ err }, 'response-due check failed') });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One pass; returns the ids reported. */
  async check(): Promise<number[]> {
    const now = this.deps.now();
    const due = await listDueReceived(this.deps.db, { dueBefore: new Date(now.getTime() + this.options.dueWithinMs) });
    const reported: number[] = [];
    for (const row of due) {
      const done = await writeTransaction(this.deps.db, async (trx) => {
        if (!(await markResponseDueNotified(trx, Number(row.id), now))) return false;
        const leftMs = Date.parse(row.deadline) - now.getTime();
        await recordEvent(trx, {
          rutCompany: row.rut_company,
          eventType: 'dte.response_due',
          aggregateKey: `received:${row.id}`,
          payload: { ...receivedPayload(row), status: row.status, hours_left: Math.max(0, Math.floor(leftMs / 3_600_000)) },
          now,
        });
        return true;
      });
      if (done) reported.push(Number(row.id));
    }
    if (reported.length > 0) this.deps.log.info({ received: reported }, 'dte.response_due recorded');
    return reported;
  }
}
