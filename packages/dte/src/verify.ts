/**
 * Verify any signed SII document (DTE, EnvioDTE, EnvioBOLETA, or other signed SII XML): every
 * XMLDSig with the tolerant namespace strategy, every TED against its embedded CAF and the
 * document's own fields, every CAF against the trusted SII keys (when given), the carátula, and
 * the totals against the lines. Never throws on hostile content: problems land in the report.
 */
import type { KeyObject } from 'node:crypto';
import { TimbreError, type TimbreErrorCode } from './errors.js';
import { parseXml, child, childrenNamed, childText, findAll, type XmlDocument, type XmlElement, type ParseOptions } from './xml/parse.js';
import { verifySignature, type SignatureReport } from './dsig.js';
import { verifyTed, type TedReport } from './ted.js';
import { readDte } from './dte-xml/read.js';
import { checkTotals, type TotalsCheck } from './totals-check.js';
import { dteSlug, type Dte } from './model.js';
import { cafExpires, isBoleta, type TipoDte } from './tipos.js';
import { addCalendarMonths, parseCaf, verifyCaf, type Caf } from './caf.js';

export interface ProblemJson {
  code: TimbreErrorCode | string;
  message: string;
  field?: string;
}

export interface DocumentVerification {
  slug?: string;
  tipoDte?: number;
  folio?: number;
  rutEmisor?: string;
  id?: string;
  signature?: SignatureReport;
  ted?: TedReport;
  totals?: TotalsCheck;
  warnings: string[];
  errors: ProblemJson[];
  valid: boolean;
  /** The typed model, when the document could be read. */
  dte?: Dte;
}

export interface CaratulaCheck {
  rutEmisor?: string;
  rutEnvia?: string;
  rutReceptor?: string;
  problems: string[];
}

/** A CAF file (AUTORIZACION): its data and, with trusted keys, whether the SII signed it. */
export interface CafVerification extends Pick<Caf, 'rutEmisor' | 'razonSocial' | 'tipoDte' | 'desde' | 'hasta' | 'fechaAutorizacion' | 'idk' | 'expiresAt'> {
  hasPrivateKey: boolean;
  /** undefined when no trusted keys were given. */
  signatureValid?: boolean;
}

export interface XmlVerification {
  root: string;
  caf?: CafVerification;
  encoding: string;
  /** Signatures that are not a DTE's own (SetDTE, Resultado, SetRecibos, getToken …). */
  envelopeSignatures: SignatureReport[];
  caratula?: CaratulaCheck;
  documents: DocumentVerification[];
  errors: ProblemJson[];
  valid: boolean;
  /** The parsed document, for callers that go on (schema validation, storage). */
  doc?: XmlDocument;
}

export interface VerifyOptions {
  /** Trusted SII keys by IDK; when absent, CAF signatures are not checked (reported as such). */
  trustedKeys?: Map<number, KeyObject>;
  parse?: ParseOptions;
  /** Skip the totals check (on by default). */
  totals?: boolean;
}

const problem = (e: unknown): ProblemJson =>
  e instanceof TimbreError
    ? { code: e.code, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) }
    : { code: 'ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) };

export function verifyXml(input: Uint8Array | string, opts: VerifyOptions = {}): XmlVerification {
  let doc: XmlDocument;
  try {
    doc = parseXml(input, opts.parse);
  } catch (e) {
    return { root: '', encoding: '', envelopeSignatures: [], documents: [], errors: [problem(e)], valid: false };
  }
  const root = doc.root;
  const errors: ProblemJson[] = [];
  const dteElements = root.local === 'DTE' ? [root] : findAll(root, 'DTE');
  const documents = dteElements.map((el) => verifyDteElement(el, doc, opts));

  // Signatures that are not a DTE's own.
  const dteSignatures = new Set(dteElements.map((d) => child(d, 'Signature')).filter(Boolean));
  const envelopeSignatures = findAll(root, 'Signature')
    .filter((s) => !dteSignatures.has(s) && !insideTed(s))
    .map((s) => verifySignature(s));

  let caratula: CaratulaCheck | undefined;
  let cafReport: CafVerification | undefined;
  if (root.local === 'AUTORIZACION') {
    try {
      const caf = parseCaf(input);
      cafReport = {
        rutEmisor: caf.rutEmisor,
        razonSocial: caf.razonSocial,
        tipoDte: caf.tipoDte,
        desde: caf.desde,
        hasta: caf.hasta,
        fechaAutorizacion: caf.fechaAutorizacion,
        idk: caf.idk,
        ...(caf.expiresAt ? { expiresAt: caf.expiresAt } : {}),
        hasPrivateKey: caf.privateKey !== undefined,
      };
      if (opts.trustedKeys) {
        try {
          verifyCaf(caf, { trustedKeys: opts.trustedKeys });
          cafReport.signatureValid = true;
        } catch (e) {
          cafReport.signatureValid = false;
          errors.push(problem(e));
        }
      }
    } catch (e) {
      errors.push(problem(e));
    }
  }

  if (root.local === 'EnvioDTE' || root.local === 'EnvioBOLETA') {
    caratula = checkCaratula(root, documents);
    if (envelopeSignatures.length === 0) errors.push({ code: 'ERR_SIGNATURE_MISSING', message: `${root.local} has no SetDTE signature` });
  } else if (root.local !== 'DTE' && root.local !== 'AUTORIZACION' && dteElements.length === 0 && envelopeSignatures.length === 0) {
    errors.push({ code: 'ERR_XML_UNEXPECTED', message: `root element ${root.local} is not a signed SII document` });
  }
  const valid =
    errors.length === 0 &&
    documents.every((d) => d.valid) &&
    envelopeSignatures.every((s) => s.valid) &&
    (caratula?.problems.length ?? 0) === 0;
  return { root: root.local, encoding: doc.encoding, ...(cafReport ? { caf: cafReport } : {}), envelopeSignatures, ...(caratula ? { caratula } : {}), documents, errors, valid, doc };
}

function insideTed(el: XmlElement): boolean {
  for (let p = el.parent; p; p = p.parent) if (p.local === 'TED') return true;
  return false;
}

function verifyDteElement(el: XmlElement, doc: XmlDocument, opts: VerifyOptions): DocumentVerification {
  const out: DocumentVerification = { warnings: [], errors: [], valid: false };
  let read: ReturnType<typeof readDte> | undefined;
  try {
    read = readDte(el);
    const d = read.dte;
    const { idDoc, emisor } = d.encabezado;
    out.dte = d;
    out.tipoDte = idDoc.tipoDte;
    out.folio = idDoc.folio;
    out.rutEmisor = emisor.rutEmisor;
    out.slug = dteSlug({ rutEmisor: emisor.rutEmisor, tipoDte: idDoc.tipoDte, folio: idDoc.folio });
    if (read.id !== undefined) out.id = read.id;
    out.warnings.push(...read.warnings);
  } catch (e) {
    out.errors.push(problem(e));
  }

  const sig = child(el, 'Signature');
  if (sig) {
    out.signature = verifySignature(sig);
    if (out.signature.valid && !out.signature.certificate) {
      out.warnings.push('the signer certificate is unreadable: the signature was checked with KeyInfo/KeyValue only, the signer is not identified');
    }
    if (out.signature.valid && out.signature.keyMatchesCertificate === false) {
      out.warnings.push('KeyValue does not match the certificate (the SII requires them to match)');
    }
    if (!out.signature.valid) out.errors.push({ code: out.signature.error?.code ?? 'ERR_SIGNATURE_INVALID', message: `DTE signature: ${out.signature.error?.message ?? 'invalid'}` });
  } else {
    out.errors.push({ code: 'ERR_SIGNATURE_MISSING', message: 'the DTE has no Signature' });
  }

  const tedEl = read?.ted ?? findAll(el, 'TED')[0];
  if (tedEl) {
    const d = read?.dte;
    const expected = d
      ? {
          rutEmisor: d.encabezado.emisor.rutEmisor,
          tipoDte: d.encabezado.idDoc.tipoDte,
          folio: d.encabezado.idDoc.folio,
          fchEmis: d.encabezado.idDoc.fchEmis,
          rutRecep: d.encabezado.receptor.rutRecep,
          rznSocRecep: d.encabezado.receptor.rznSocRecep,
          mntTotal: d.encabezado.totales.mntTotal,
          it1: d.detalle[0]?.nmbItem ?? '',
        }
      : undefined;
    out.ted = verifyTed(tedEl, doc, { ...(opts.trustedKeys ? { trustedKeys: opts.trustedKeys } : {}), ...(expected ? { expected } : {}) });
    if (!out.ted.valid) {
      const mism = out.ted.fieldMismatches.map((m) => `${m.field}: TED ${m.ted} ≠ document ${m.document}`).join('; ');
      out.errors.push({ code: out.ted.error?.code ?? 'ERR_TED_INVALID', message: `TED: ${out.ted.error?.message ?? ''}${mism ? ` ${mism}` : ''}`.trim() });
    }
    const caf = out.ted.caf;
    const fchEmis = read?.dte.encabezado.idDoc.fchEmis;
    if (caf && fchEmis && cafExpires(caf.tipoDte) && /^\d{4}-\d{2}-\d{2}$/.test(caf.fechaAutorizacion)) {
      const expiry = addCalendarMonths(caf.fechaAutorizacion, 6);
      if (fchEmis >= expiry) out.warnings.push(`issued ${fchEmis} with a CAF authorized ${caf.fechaAutorizacion}: CAFs of type ${caf.tipoDte} last 6 months (SII CAF-3-517)`);
    }
  } else {
    out.errors.push({ code: 'ERR_TED_INVALID', message: 'the DTE has no TED' });
  }

  if (read && opts.totals !== false) {
    try {
      out.totals = checkTotals(read.dte);
      if (!out.totals.ok) {
        for (const m of out.totals.mismatches) out.errors.push({ code: 'ERR_TOTALS_MISMATCH', message: `${m.field}: stated ${m.actual}, lines give ${m.expected}`, field: m.field });
      }
    } catch (e) {
      out.warnings.push(`totals not checked: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  out.valid = out.errors.length === 0;
  return out;
}

function checkCaratula(root: XmlElement, documents: DocumentVerification[]): CaratulaCheck {
  const problems: string[] = [];
  const set = child(root, 'SetDTE');
  const car = set ? child(set, 'Caratula') : undefined;
  if (!car) return { problems: ['SetDTE/Caratula is missing'] };
  const out: CaratulaCheck = { problems };
  const rutEmisor = childText(car, 'RutEmisor');
  const rutEnvia = childText(car, 'RutEnvia');
  const rutReceptor = childText(car, 'RutReceptor');
  if (rutEmisor) out.rutEmisor = rutEmisor;
  if (rutEnvia) out.rutEnvia = rutEnvia;
  if (rutReceptor) out.rutReceptor = rutReceptor;
  for (const d of documents) {
    if (d.rutEmisor && rutEmisor && d.rutEmisor !== rutEmisor) problems.push(`DTE ${d.slug} has emisor ${d.rutEmisor}, carátula says ${rutEmisor}`);
  }
  const counts = new Map<number, number>();
  for (const d of documents) if (d.tipoDte !== undefined) counts.set(d.tipoDte, (counts.get(d.tipoDte) ?? 0) + 1);
  const declared = new Map<number, number>();
  for (const s of childrenNamed(car, 'SubTotDTE')) declared.set(Number(childText(s, 'TpoDTE')), Number(childText(s, 'NroDTE')));
  for (const [tipo, n] of counts) {
    if (declared.get(tipo) !== n) problems.push(`SubTotDTE for type ${tipo} says ${declared.get(tipo) ?? 0}, the envelope holds ${n}`);
  }
  for (const [tipo, n] of declared) if (!counts.has(tipo)) problems.push(`SubTotDTE declares ${n} of type ${tipo}, the envelope holds none`);
  if (root.local === 'EnvioBOLETA' && documents.some((d) => d.tipoDte !== undefined && !isBoleta(d.tipoDte as TipoDte))) {
    problems.push('EnvioBOLETA holds a document that is not a boleta');
  }
  if (root.local === 'EnvioDTE' && documents.some((d) => d.tipoDte !== undefined && isBoleta(d.tipoDte as TipoDte))) {
    problems.push('EnvioDTE holds a boleta (39/41 travel in EnvioBOLETA)');
  }
  return out;
}
