/**
 * TED — Timbre Electrónico (sii-spec §5; pitfalls 3 and 8).
 *
 * FRMT = base64(RSA-SHA1 with the CAF private key over the ISO-8859-1 bytes of the flattened
 * `<DD>…</DD>`), the DD written without namespace declarations, C14N-style, with the CAF element
 * copied from the CAF file (flattened) and, following LibreDTE, `'` and `"` written `&apos;` and
 * `&quot;` in the RSR and IT1 text.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import {
  cafFromElement,
  checkCafFor,
  escapeTextLibreDte,
  flattenXml,
  frmaValid,
  isIsoDate,
  rsaSha1Verify,
  serializeNoNamespaces,
  type Caf,
} from './caf.js';
import { TimbreError, type TimbreErrorCode } from './errors.js';
import { Rut } from './rut.js';
import { escapeAttr, escapeText } from './xml/text.js';
import { attr, child, childElements, inScopeNamespaces, textOf, type XmlDocument, type XmlElement } from './xml/parse.js';

export interface TedData {
  rutEmisor: string;
  tipoDte: number;
  folio: number;
  /** `YYYY-MM-DD` */
  fchEmis: string;
  rutRecep: string;
  /** Cut to its first 40 characters after trimming; when empty the RR is used (as LibreDTE). */
  rznSocRecep: string;
  /** A string keeps export decimals verbatim (`1234.50`). */
  mntTotal: number | string;
  /** First item name (NmbItem); cut to its first 40 characters after trimming. */
  it1: string;
  /** `YYYY-MM-DDTHH:MM:SS` */
  tsted: string;
}

/** Characters the DD may hold: printable ISO-8859-1 plus TAB/LF/CR (no C0/C1 controls). */
const DD_TEXT = /^[\t\n\r\x20-\x7E\xA0-\xFF]*$/;
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/;

/** First `max` characters (code points) of the text trimmed of XML whitespace (space, TAB, CR, LF; as PHP trim, not NBSP). */
export function cutText(s: string, max = 40): string {
  const t = String(s ?? '').replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  if (t.length <= max) return t;
  return Array.from(t).slice(0, max).join('');
}

const flatCafCache = new WeakMap<Caf, { src: string; flat: string }>();

function flatCaf(caf: Caf): string {
  const hit = flatCafCache.get(caf);
  if (hit && hit.src === caf.cafXml) return hit.flat;
  const flat = flattenXml(caf.cafXml.trim());
  if (!DD_TEXT.test(flat)) {
    throw new TimbreError('ERR_TED_INVALID', 'the CAF text holds characters that cannot be written in ISO-8859-1', { field: 'CAF' });
  }
  flatCafCache.set(caf, { src: caf.cafXml, flat });
  return flat;
}

/**
 * Stamp a document: build the DD, sign it with the CAF private key, return the one-line TED and
 * the exact DD string signed. Refuses (ERR_TED_INVALID, with the CAF error as cause and its SII
 * code) a CAF without private key or not covering the document; ERR_CHAR_NOT_LATIN1 for RSR/IT1
 * characters outside ISO-8859-1.
 */
export function stampTed(data: TedData, caf: Caf): { xml: string; ddSigned: string } {
  if (!caf.privateKey) {
    throw new TimbreError('ERR_TED_INVALID', 'the CAF has no private key (RSASK): load the CAF file downloaded from the SII', { field: 'caf' });
  }
  const re = rut(data.rutEmisor, 'rutEmisor');
  const rr = rut(data.rutRecep, 'rutRecep');
  const td = data.tipoDte;
  if (!Number.isInteger(td) || td <= 0) invalid('tipoDte', `tipoDte ${String(td)} is not a document type`);
  const folio = data.folio;
  if (!Number.isInteger(folio) || folio <= 0 || folio > 9_999_999_999) invalid('folio', `folio ${String(folio)} is not a positive integer`);
  if (typeof data.fchEmis !== 'string' || !isIsoDate(data.fchEmis)) invalid('fchEmis', `fchEmis "${String(data.fchEmis)}" is not a YYYY-MM-DD date`);
  const ts = typeof data.tsted === 'string' ? TIMESTAMP.exec(data.tsted) : null;
  if (!ts || !isIsoDate(ts[1] ?? '')) invalid('tsted', `tsted "${String(data.tsted)}" is not YYYY-MM-DDTHH:MM:SS`);
  const mnt = amount(data.mntTotal, td);

  try {
    checkCafFor(caf, { rutEmisor: re, tipoDte: td, folio, fecha: data.fchEmis });
  } catch (e) {
    if (!(e instanceof TimbreError)) throw e;
    throw new TimbreError('ERR_TED_INVALID', `cannot stamp with this CAF: ${e.message} (${e.code})`, {
      field: e.field ?? 'caf',
      ...(e.siiCode ? { siiCode: e.siiCode } : {}),
      ...(e.expected !== undefined ? { expected: e.expected } : {}),
      ...(e.actual !== undefined ? { actual: e.actual } : {}),
      cause: e,
    });
  }
  if (data.tsted.slice(0, 10) < caf.fechaAutorizacion) {
    throw new TimbreError('ERR_TED_INVALID', `TSTED ${data.tsted} is before the CAF authorisation date ${caf.fechaAutorizacion}`, {
      field: 'tsted',
      expected: `>= ${caf.fechaAutorizacion}`,
      actual: data.tsted,
      siiCode: 'TED-1-646',
    });
  }

  const rsr = latin1Field(cutText(data.rznSocRecep) || rr, 'RSR');
  const it1 = latin1Field(cutText(data.it1), 'IT1');
  if (it1 === '') invalid('it1', 'IT1 (first item name) is empty; the XSD requires 1 to 40 characters');

  const dd =
    `<DD><RE>${re}</RE><TD>${td}</TD><F>${folio}</F><FE>${data.fchEmis}</FE><RR>${rr}</RR>` +
    `<RSR>${escapeTextLibreDte(rsr)}</RSR><MNT>${mnt}</MNT><IT1>${escapeTextLibreDte(it1)}</IT1>` +
    `${flatCaf(caf)}<TSTED>${data.tsted}</TSTED></DD>`;
  const frmt = cryptoSign('sha1', Buffer.from(dd, 'latin1'), caf.privateKey).toString('base64');
  return { xml: `<TED version="1.0">${dd}<FRMT algoritmo="SHA1withRSA">${frmt}</FRMT></TED>`, ddSigned: dd };
}

function invalid(field: string, message: string): never {
  throw new TimbreError('ERR_TED_INVALID', message, { field });
}

function rut(s: string, field: string): string {
  try {
    return Rut.parse(s, { field }).canonical;
  } catch (e) {
    throw new TimbreError('ERR_TED_INVALID', `${field}: ${e instanceof Error ? e.message : String(e)}`, { field, actual: s, cause: e });
  }
}

function latin1Field(s: string, field: string): string {
  if (DD_TEXT.test(s)) return s;
  const m = /[^\t\n\r\x20-\x7E\xA0-\xFF]/u.exec(s);
  const cp = m?.[0].codePointAt(0) ?? 0;
  throw new TimbreError(
    'ERR_CHAR_NOT_LATIN1',
    `${field}: character U+${cp.toString(16).toUpperCase().padStart(4, '0')} cannot be written in the TED (ISO-8859-1 only); fix the document text`,
    { field, actual: m?.[0] },
  );
}

/** MNT text: integers; a sign only for 43 (Liquidación, ValorType); decimals only for export documents. */
function amount(v: number | string, tipo: number): string {
  let s: string;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) invalid('mntTotal', `mntTotal ${v} is not a number`);
    s = Number.isInteger(v) ? BigInt(v).toString() : String(v);
  } else if (typeof v === 'string') {
    s = v.trim();
  } else {
    return invalid('mntTotal', 'mntTotal is missing');
  }
  const m = /^(-?)(\d{1,18})(?:\.(\d{1,6}))?$/.exec(s);
  if (!m) invalid('mntTotal', `mntTotal "${s}" is not a plain decimal number`);
  if (m[1] && tipo !== 43) invalid('mntTotal', `mntTotal ${s} is negative (allowed only in type 43)`);
  if (m[3] !== undefined && !(tipo === 110 || tipo === 111 || tipo === 112)) invalid('mntTotal', `mntTotal ${s} has decimals (allowed only in export documents)`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface TedReport {
  /** Signature valid, embedded CAF trusted (when keys were given) and no field mismatch. */
  valid: boolean;
  /** FRMT verifies with the embedded CAF's RSAPK under one of the strategies. */
  signatureValid: boolean;
  /** Which serialization of the DD verified: raw text flattened, C14N-style, or C14N + LibreDTE entities. */
  strategy?: 'raw' | 'canonical' | 'libredte-entities';
  /** FRMA of the embedded CAF against trustedKeys (only when trustedKeys were given). */
  cafSignatureValid?: boolean;
  /** DD fields that differ from the document (or break a CAF rule: F outside the range, FE/TSTED before FA, RE/TD not the CAF's). */
  fieldMismatches: Array<{ field: string; ted: string; document: string }>;
  caf?: { rutEmisor: string; tipoDte: number; desde: number; hasta: number; fechaAutorizacion: string; idk: number };
  error?: { code: TimbreErrorCode; message: string; siiCode?: string };
}

/**
 * Verify a TED found in a parsed document (offsets of `ted` point into `doc.text`). Never throws.
 * FRMT is tried over (a) the DD exactly as written, flattened; (b) the DD re-serialized C14N-style,
 * flattened; (c) the same with LibreDTE's `&apos;`/`&quot;` in text. Fields are compared with
 * `expected` (RE, TD, F, FE, RR, MNT numerically, TSTED exactly; RSR and IT1 loosely: trimmed,
 * case- and space-insensitive, against the first 40 characters of the document value).
 */
export function verifyTed(ted: XmlElement, doc: XmlDocument, opts: { trustedKeys?: Map<number, KeyObject>; expected?: Partial<TedData> } = {}): TedReport {
  const report: TedReport = { valid: false, signatureValid: false, fieldMismatches: [] };
  try {
    verifyInto(report, ted, doc, opts);
  } catch (e) {
    if (!report.error) {
      report.error =
        e instanceof TimbreError
          ? { code: e.code, message: e.message, ...(e.siiCode ? { siiCode: e.siiCode } : {}) }
          : { code: 'ERR_TED_INVALID', message: `TED could not be verified: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  report.valid = report.signatureValid && report.fieldMismatches.length === 0 && report.cafSignatureValid !== false && !report.error;
  return report;
}

function fail(report: TedReport, code: TimbreErrorCode, message: string, siiCode?: string): void {
  if (!report.error) report.error = siiCode ? { code, message, siiCode } : { code, message };
}

function verifyInto(report: TedReport, ted: XmlElement, doc: XmlDocument, opts: { trustedKeys?: Map<number, KeyObject>; expected?: Partial<TedData> }): void {
  if (ted.local !== 'TED') return fail(report, 'ERR_TED_INVALID', `expected a <TED> element, got <${ted.name}>`);
  const dd = child(ted, 'DD');
  const frmtEl = child(ted, 'FRMT');
  if (!dd) return fail(report, 'ERR_TED_INVALID', 'the TED has no <DD>');
  if (!frmtEl) return fail(report, 'ERR_TED_INVALID', 'the TED has no <FRMT> signature');
  const frmt = textOf(frmtEl).replace(/\s+/g, '');
  const algoritmo = attr(frmtEl, 'algoritmo');
  const cafEl = child(dd, 'CAF');
  if (!cafEl) return fail(report, 'ERR_TED_INVALID', 'the DD has no embedded <CAF>');

  let caf: Caf;
  try {
    caf = cafFromElement(cafEl, doc.text);
  } catch (e) {
    return fail(report, e instanceof TimbreError ? e.code : 'ERR_CAF_MALFORMED', `embedded CAF: ${e instanceof Error ? e.message : String(e)}`);
  }
  report.caf = {
    rutEmisor: caf.rutEmisor,
    tipoDte: caf.tipoDte,
    desde: caf.desde,
    hasta: caf.hasta,
    fechaAutorizacion: caf.fechaAutorizacion,
    idk: caf.idk,
  };

  // FRMT
  if (algoritmo !== undefined && algoritmo !== 'SHA1withRSA') {
    fail(report, 'ERR_TED_INVALID', `FRMT algoritmo "${algoritmo}" is not SHA1withRSA`);
  } else if (!/^[A-Za-z0-9+/]+={0,2}$/.test(frmt)) {
    fail(report, 'ERR_TED_INVALID', 'FRMT is not base64');
  } else {
    const sig = Buffer.from(frmt, 'base64');
    const tried = new Set<string>();
    const attempt = (strategy: NonNullable<TedReport['strategy']>, text: () => string | undefined): boolean => {
      if (report.strategy) return true;
      let t: string | undefined;
      try {
        t = text();
      } catch {
        t = undefined;
      }
      if (t === undefined || tried.has(t)) return false;
      tried.add(t);
      if (rsaSha1Verify(t, sig, caf.publicKey) || (doc.encoding === 'windows-1252' && verifyCp1252(t, sig, caf.publicKey))) {
        report.strategy = strategy;
        report.signatureValid = true;
        return true;
      }
      return false;
    };
    attempt('raw', () => (dd.end > dd.start && dd.end <= doc.text.length ? flattenXml(doc.text.slice(dd.start, dd.end)) : undefined));
    attempt('canonical', () => flattenXml(serializeNoNamespaces(dd)));
    attempt('libredte-entities', () => flattenXml(serializeNoNamespaces(dd, escapeTextLibreDte)));
    // LibreDTE-style entities only in RSR/IT1 (how stampTed writes them), rest canonical
    attempt('libredte-entities', () => flattenXml(serializeNoNamespaces(dd, escapeText).replace(/<(RSR|IT1)>([^<]*)<\/\1>/g, (_m, n: string, t: string) => `<${n}>${t.replace(/'/g, '&apos;').replace(/"/g, '&quot;')}</${n}>`)));
    if (!report.signatureValid) {
      // Diagnosis only (never accepted): a DD signed with the namespace declarations in scope
      // (e.g. lxml tostring() of a DD inside a DTE), which the SII rejects.
      const ns = [...inScopeNamespaces(dd)].filter(([, uri]) => uri !== '').sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1));
      const decls = ns.map(([p, uri]) => (p === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${p}="${escapeAttr(uri)}"`)).join('');
      const raw = dd.end <= doc.text.length ? flattenXml(doc.text.slice(dd.start, dd.end)) : '';
      const withNs = decls && raw.startsWith(`<${dd.name}>`) ? `<${dd.name}${decls}>${raw.slice(dd.name.length + 2)}` : undefined;
      fail(
        report,
        'ERR_TED_INVALID',
        withNs !== undefined && rsaSha1Verify(withNs, sig, caf.publicKey)
          ? 'FRMT was computed over the DD with namespace declarations (' + decls.trim() + '); the DD must be signed without any namespace declaration: re-stamp the document'
          : 'FRMT does not verify with the public key of the embedded CAF: the DD was altered or stamped with another CAF',
      );
    }
  }

  // Embedded CAF against the SII keys
  if (opts.trustedKeys) {
    const key = opts.trustedKeys.get(caf.idk);
    if (!key) {
      report.cafSignatureValid = false;
      fail(report, 'ERR_CAF_UNTRUSTED_KEY', `the embedded CAF is signed with SII key IDK ${caf.idk}, which is not trusted`);
    } else {
      report.cafSignatureValid = frmaValid(caf.daFlattened, caf.frma, key);
      if (!report.cafSignatureValid) fail(report, 'ERR_CAF_SIGNATURE_INVALID', 'the SII signature (FRMA) of the embedded CAF does not verify');
    }
  }

  // DD fields: structure, CAF rules, expected values
  const f = (name: string): string | undefined => {
    const el = child(dd, name);
    return el ? textOf(el) : undefined;
  };
  const names = childElements(dd).map((e) => e.local);
  const order = ['RE', 'TD', 'F', 'FE', 'RR', 'RSR', 'MNT', 'IT1', 'CAF', 'TSTED'];
  if (names.join(',') !== order.join(',')) {
    fail(report, 'ERR_TED_INVALID', `DD children are ${names.join(', ')}; expected ${order.join(', ')}`);
  }
  const mism = (field: string, ted: string | undefined, document: string): void => {
    report.fieldMismatches.push({ field, ted: ted ?? '(missing)', document });
  };
  const RE = f('RE')?.trim();
  const TD = f('TD')?.trim();
  const F = f('F')?.trim();
  const FE = f('FE')?.trim();
  const TSTED = f('TSTED')?.trim();

  if (!sameRut(RE, caf.rutEmisor)) mism('RE', RE, `CAF RE ${caf.rutEmisor}`);
  if (TD === undefined || Number(TD) !== caf.tipoDte) mism('TD', TD, `CAF TD ${caf.tipoDte}`);
  const folio = F !== undefined && /^\d{1,15}$/.test(F) ? Number(F) : NaN;
  if (!(folio >= caf.desde && folio <= caf.hasta)) mism('F', F, `CAF range ${caf.desde}..${caf.hasta}`);
  if (FE === undefined || !isIsoDate(FE) || FE < caf.fechaAutorizacion) {
    mism('FE', FE, `>= CAF FA ${caf.fechaAutorizacion}`);
    if (FE !== undefined && isIsoDate(FE)) fail(report, 'ERR_CAF_NOT_YET_VALID', `FE ${FE} is before the CAF authorisation date ${caf.fechaAutorizacion}`, 'TED-1-646');
  }
  const tsOk = TSTED !== undefined && TIMESTAMP.test(TSTED);
  if (!tsOk || (TSTED as string).slice(0, 10) < caf.fechaAutorizacion) {
    mism('TSTED', TSTED, `>= CAF FA ${caf.fechaAutorizacion}`);
    if (tsOk) fail(report, 'ERR_CAF_NOT_YET_VALID', `TSTED ${TSTED} is before the CAF authorisation date ${caf.fechaAutorizacion}`, 'TED-1-646');
  }

  const x = opts.expected;
  if (x) {
    if (x.rutEmisor !== undefined && !sameRut(RE, x.rutEmisor)) mism('RE', RE, x.rutEmisor);
    if (x.tipoDte !== undefined && Number(TD) !== Number(x.tipoDte)) mism('TD', TD, String(x.tipoDte));
    if (x.folio !== undefined && folio !== Number(x.folio)) mism('F', F, String(x.folio));
    if (x.fchEmis !== undefined && FE !== x.fchEmis.trim()) mism('FE', FE, x.fchEmis);
    const RR = f('RR')?.trim();
    if (x.rutRecep !== undefined && !sameRut(RR, x.rutRecep)) mism('RR', RR, x.rutRecep);
    const MNT = f('MNT')?.trim();
    if (x.mntTotal !== undefined && !sameAmount(MNT, x.mntTotal)) mism('MNT', MNT, String(x.mntTotal));
    const RSR = f('RSR');
    if (x.rznSocRecep !== undefined) {
      const want = cutText(x.rznSocRecep);
      // an empty RznSocRecep is stamped as the RR (LibreDTE)
      const ok = looseEqual(RSR, x.rznSocRecep) || (want === '' && sameRut(RSR?.trim(), f('RR')?.trim() ?? ''));
      if (!ok) mism('RSR', RSR, want);
    }
    const IT1 = f('IT1');
    if (x.it1 !== undefined && !looseEqual(IT1, x.it1)) mism('IT1', IT1, cutText(x.it1));
    if (x.tsted !== undefined && TSTED !== x.tsted.trim()) mism('TSTED', TSTED, x.tsted);
  }
}

/** windows-1252 bytes 0x80..0x9F (WHATWG table), for documents declared windows-1252. */
const CP1252_HIGH =
  '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F' +
  '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178';

/** A DD from a windows-1252 document holding characters beyond Latin-1 (€, ’…): verify its windows-1252 bytes. */
function verifyCp1252(text: string, sig: Buffer, key: KeyObject): boolean {
  if (!/[\u0100-\uffff]/.test(text)) return false;
  const bytes = Buffer.alloc(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0xff) bytes[i] = c;
    else {
      const j = CP1252_HIGH.indexOf(text.charAt(i));
      if (j < 0) return false;
      bytes[i] = 0x80 + j;
    }
  }
  try {
    return cryptoVerify('sha1', bytes, key, sig);
  } catch {
    return false;
  }
}

function sameRut(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const norm = (s: string): string => {
    try {
      return Rut.parse(s, { validateDv: false }).canonical;
    } catch {
      return s.trim().toUpperCase();
    }
  };
  return norm(a) === norm(b);
}

/** Decimal strings compared by value (`1000`, `1000.00`, `001000` are equal), without float rounding. */
function sameAmount(a: string | undefined, b: number | string): boolean {
  if (a === undefined) return false;
  const canon = (v: string): string | undefined => {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v.trim());
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
    const int = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
    const frac = (m[3] ?? '').replace(/0+$/, '');
    const s = frac ? `${int}.${frac}` : int;
    return s === '0' ? '0' : `${m[1] === '-' ? '-' : ''}${s}`;
  };
  const bs = typeof b === 'number' ? (Number.isInteger(b) && Number.isSafeInteger(b) ? BigInt(b).toString() : String(b)) : b;
  const ca = canon(a);
  const cb = canon(bs);
  return ca !== undefined && ca === cb;
}

/**
 * RSR/IT1 against the document value: whitespace collapsed, case-insensitive; equal to the first
 * 40 characters of the trimmed document value, or (issuers cut and trim differently) a prefix of
 * it of at least 38 characters.
 */
function looseEqual(ted: string | undefined, documentValue: string): boolean {
  if (ted === undefined) return false;
  const n = (s: string): string => s.replace(/\s+/g, ' ').trim().toUpperCase();
  const t = n(ted);
  if (t === n(cutText(documentValue))) return true;
  return Array.from(t).length >= 38 && n(documentValue).startsWith(t);
}
