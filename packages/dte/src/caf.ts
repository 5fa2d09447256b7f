/**
 * CAF — Código de Autorización de Folios (sii-spec §4; pitfalls 8).
 *
 * The SII signs the `<DA>` element (FRMA, RSA-SHA1 with its key number IDK) and hands over the
 * CAF key pair (RSASK/RSAPK) that stamps TEDs. The `<CAF>` element is copied verbatim into every
 * TED, so it is kept here exactly as the file has it.
 *
 * "Flattened" (LibreDTE getFlattened, sii-spec §5): every run of XML whitespace (space, tab, CR,
 * LF) between a `>` and the next `<` removed; text content untouched; ISO-8859-1 bytes.
 *
 * CAF expiry (types 33, 43, 46, 56, 61; SII CAF-3-517): a CAF authorised on FA may be used for
 * documents dated from FA up to, but not including, FA + 6 calendar months (same day of the month;
 * when that month is shorter, the day after its last day). Examples: FA 2025-04-11 → last usable
 * issue date 2025-10-10, `expiresAt` 2025-10-11; FA 2025-08-31 → `expiresAt` 2026-03-01 (last usable
 * date 2026-02-28). `expiresAt` is the first date on which the CAF can no longer be used.
 * LibreDTE uses FA + 180 days instead, which is 1 to 4 days earlier.
 */
import { createPrivateKey, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { TimbreError } from './errors.js';
import { Rut } from './rut.js';
import { cafExpires } from './tipos.js';
import { escapeAttr, escapeText, isLatin1 } from './xml/text.js';
import { attr, child, parseXml, textOf, type XmlElement } from './xml/parse.js';

export interface Caf {
  /** RE, canonical RUT of the issuer the folios belong to. */
  rutEmisor: string;
  /** RS, the issuer's name as the SII wrote it (≤ 40 characters). */
  razonSocial: string;
  /** TD */
  tipoDte: number;
  /** RNG/D, first folio (inclusive). */
  desde: number;
  /** RNG/H, last folio (inclusive). */
  hasta: number;
  /** FA, `YYYY-MM-DD`. */
  fechaAutorizacion: string;
  /** IDK: which SII key signed FRMA (100 certificación, 300 producción). */
  idk: number;
  /** RSAPK M/E: verifies FRMT of the TEDs stamped with this CAF. */
  publicKey: KeyObject;
  /** RSASK: stamps TEDs (absent for a CAF read from a TED). */
  privateKey?: KeyObject;
  /** FRMA, base64 (whitespace removed). */
  frma: string;
  /** The `<CAF version="1.0">…</CAF>` element exactly as in the file (decoded text). */
  cafXml: string;
  /** `<DA>…</DA>` flattened, as the SII signed it. */
  daFlattened: string;
  /**
   * For types whose CAFs expire (33, 43, 46, 56, 61): the first date (`YYYY-MM-DD`) on which the
   * CAF may no longer be used, FA + 6 calendar months (see the module comment).
   */
  expiresAt?: string;
}

const WS_BETWEEN_TAGS = />[ \t\r\n]+</g;

/** Remove every run of XML whitespace between tags (`>` … `<`); text content stays as is. */
export const flattenXml = (xml: string): string => xml.replace(WS_BETWEEN_TAGS, '><');

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date written `YYYY-MM-DD`. */
export function isIsoDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  return d <= daysInMonth(y, mo);
}

const daysInMonth = (y: number, m: number): number => new Date(Date.UTC(y, m, 0)).getUTCDate();

/**
 * FA + n calendar months as `YYYY-MM-DD`; when the target month has no such day, the day after
 * its last day (so that the period is never shorter than n months).
 */
export function addCalendarMonths(date: string, months: number): string {
  const m = DATE.exec(date);
  if (!m) throw new TimbreError('ERR_INPUT_INVALID', `"${date}" is not a YYYY-MM-DD date`, { actual: date });
  const total = Number(m[1]) * 12 + (Number(m[2]) - 1) + months;
  let y = Math.floor(total / 12);
  let mo = (total % 12) + 1;
  let d = Number(m[3]);
  const dim = daysInMonth(y, mo);
  if (d > dim) {
    d = 1;
    mo += 1;
    if (mo > 12) {
      mo = 1;
      y += 1;
    }
  }
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Parse a CAF file (AUTORIZACION root, Latin-1 without declaration) or a bare `<CAF>` element. */
export function parseCaf(input: Uint8Array | string): Caf {
  let doc;
  try {
    doc = parseXml(input, { maxBytes: 1024 * 1024, maxDepth: 16 });
  } catch (cause) {
    throw new TimbreError('ERR_CAF_MALFORMED', `the CAF is not readable XML: ${cause instanceof Error ? cause.message : String(cause)}`, {
      field: 'CAF',
      cause,
    });
  }
  const root = doc.root;
  let cafEl: XmlElement | undefined;
  if (root.local === 'AUTORIZACION') cafEl = child(root, 'CAF');
  else if (root.local === 'CAF') cafEl = root;
  else throw malformed('AUTORIZACION', `the root element is <${root.name}>, expected <AUTORIZACION> or <CAF>`);
  if (!cafEl) throw malformed('CAF', 'AUTORIZACION has no <CAF> element');

  const caf = cafFromElement(cafEl, doc.text);

  if (root.local === 'AUTORIZACION') {
    const sk = child(root, 'RSASK');
    if (sk) {
      try {
        caf.privateKey = createPrivateKey(textOf(sk).trim());
      } catch (cause) {
        throw malformed('RSASK', 'RSASK is not a readable RSA private key', cause);
      }
      if (caf.privateKey.asymmetricKeyType !== 'rsa') throw malformed('RSASK', 'RSASK is not an RSA key');
    }
    const pk = child(root, 'RSAPUBK');
    if (pk) {
      let pub: KeyObject;
      try {
        pub = createPublicKey(textOf(pk).trim());
      } catch (cause) {
        throw malformed('RSAPUBK', 'RSAPUBK is not a readable public key', cause);
      }
      if (!pub.equals(caf.publicKey)) {
        throw new TimbreError('ERR_CAF_KEY_MISMATCH', 'RSAPUBK is not the public key of RSAPK (M/E)', { field: 'RSAPUBK' });
      }
    }
  }
  return caf;
}

/**
 * Read a `<CAF>` element (from a CAF file or embedded in a TED) whose offsets point into `text`.
 * Throws ERR_CAF_MALFORMED naming the missing or bad field.
 * @internal shared with ted.ts
 */
export function cafFromElement(cafEl: XmlElement, text: string): Caf {
  const da = child(cafEl, 'DA');
  if (!da) throw malformed('DA', 'the CAF has no <DA> element');
  const fields = readDa(da);
  const frmaEl = child(cafEl, 'FRMA');
  if (!frmaEl) throw malformed('FRMA', 'the CAF has no <FRMA> signature');
  const frma = textOf(frmaEl).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(frma)) throw malformed('FRMA', 'FRMA is not base64');
  const algoritmo = attr(frmaEl, 'algoritmo');
  if (algoritmo !== undefined && algoritmo !== 'SHA1withRSA') throw malformed('FRMA', `FRMA algoritmo "${algoritmo}" is not SHA1withRSA`);

  const caf: Caf = {
    ...fields,
    frma,
    cafXml: text.slice(cafEl.start, cafEl.end),
    daFlattened: flattenXml(text.slice(da.start, da.end)),
  };
  if (cafExpires(caf.tipoDte)) caf.expiresAt = addCalendarMonths(caf.fechaAutorizacion, 6);
  return caf;
}

type DaFields = Pick<Caf, 'rutEmisor' | 'razonSocial' | 'tipoDte' | 'desde' | 'hasta' | 'fechaAutorizacion' | 'idk' | 'publicKey'>;

function readDa(da: XmlElement): DaFields {
  const need = (name: string, parent: XmlElement = da, path = `DA/${name}`): string => {
    const el = child(parent, name);
    if (!el) throw malformed(path, `the CAF has no <${name}> in ${path.slice(0, path.lastIndexOf('/'))}`);
    return textOf(el).trim();
  };
  const re = need('RE');
  let rutEmisor: string;
  try {
    rutEmisor = Rut.parse(re, { validateDv: false }).canonical;
  } catch (cause) {
    throw malformed('DA/RE', `RE "${re}" is not a RUT`, cause);
  }
  const razonSocial = need('RS');
  const tipoDte = int(need('TD'), 'DA/TD');
  const rng = child(da, 'RNG');
  if (!rng) throw malformed('DA/RNG', 'the CAF has no <RNG> folio range');
  const desde = int(need('D', rng, 'DA/RNG/D'), 'DA/RNG/D');
  const hasta = int(need('H', rng, 'DA/RNG/H'), 'DA/RNG/H');
  if (desde < 1 || hasta < desde) throw malformed('DA/RNG', `folio range ${desde}..${hasta} is empty or invalid`);
  const fechaAutorizacion = need('FA');
  if (!isIsoDate(fechaAutorizacion)) throw malformed('DA/FA', `FA "${fechaAutorizacion}" is not a YYYY-MM-DD date`);
  const rsapk = child(da, 'RSAPK');
  if (!rsapk) {
    if (child(da, 'DSAPK')) throw malformed('DA/RSAPK', 'DSA CAF keys (DSAPK) are not supported; the SII issues RSA CAFs');
    throw malformed('DA/RSAPK', 'the CAF has no <RSAPK> public key');
  }
  const m = need('M', rsapk, 'DA/RSAPK/M').replace(/\s+/g, '');
  const e = need('E', rsapk, 'DA/RSAPK/E').replace(/\s+/g, '');
  const publicKey = rsaPublicKey(m, e);
  const idk = int(need('IDK'), 'DA/IDK');
  return { rutEmisor, razonSocial, tipoDte, desde, hasta, fechaAutorizacion, idk, publicKey };
}

/** RSA public key from base64 modulus and exponent (bounded: at most 4096-bit, e ≤ 64 bits). */
export function rsaPublicKey(mB64: string, eB64: string): KeyObject {
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (!b64.test(mB64)) throw malformed('DA/RSAPK/M', 'RSAPK/M is not base64');
  if (!b64.test(eB64)) throw malformed('DA/RSAPK/E', 'RSAPK/E is not base64');
  const n = stripZeros(Buffer.from(mB64, 'base64'));
  const e = stripZeros(Buffer.from(eB64, 'base64'));
  if (n.length < 32 || n.length > 512) throw malformed('DA/RSAPK/M', `RSAPK/M has ${n.length * 8} bits`);
  if (e.length < 1 || e.length > 8) throw malformed('DA/RSAPK/E', 'RSAPK/E is not a usable exponent');
  try {
    return createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' });
  } catch (cause) {
    throw malformed('DA/RSAPK', 'RSAPK is not a usable RSA public key', cause);
  }
}

const stripZeros = (b: Buffer): Buffer => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
};

function int(s: string, field: string): number {
  if (!/^[0-9]{1,15}$/.test(s)) throw malformed(field, `${field} "${s}" is not a whole number`);
  return Number(s);
}

function malformed(field: string, message: string, cause?: unknown): TimbreError {
  return new TimbreError('ERR_CAF_MALFORMED', message, cause === undefined ? { field } : { field, cause });
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * Check the SII's signature FRMA over the flattened DA with the trusted key selected by IDK, that
 * the Caf fields are those of the signed DA, and that RSASK (when present) is the private half of
 * RSAPK. Errors: ERR_CAF_UNTRUSTED_KEY, ERR_CAF_SIGNATURE_INVALID, ERR_CAF_KEY_MISMATCH.
 */
export function verifyCaf(caf: Caf, opts: { trustedKeys: Map<number, KeyObject> }): void {
  const key = opts.trustedKeys.get(caf.idk);
  if (!key) {
    throw new TimbreError(
      'ERR_CAF_UNTRUSTED_KEY',
      `the CAF is signed with SII key IDK ${caf.idk}, which is not among the trusted keys (${[...opts.trustedKeys.keys()].join(', ') || 'none'})`,
      { field: 'DA/IDK', actual: caf.idk, expected: [...opts.trustedKeys.keys()] },
    );
  }
  if (!frmaValid(caf.daFlattened, caf.frma, key)) {
    throw new TimbreError('ERR_CAF_SIGNATURE_INVALID', 'the SII signature of the CAF (FRMA) does not match its data (DA): the CAF was altered or is not from the SII', {
      field: 'FRMA',
    });
  }
  // The fields in the object must be those that were signed.
  const signed = signedFields(caf.daFlattened);
  const diff = signed ? fieldDifference(signed, caf) : 'DA';
  if (diff) {
    throw new TimbreError('ERR_CAF_SIGNATURE_INVALID', `the CAF field ${diff} differs from the DA signed by the SII`, { field: diff });
  }
  if (caf.privateKey && !keyPairMatches(caf.privateKey, caf.publicKey)) {
    throw new TimbreError('ERR_CAF_KEY_MISMATCH', 'the CAF private key (RSASK) does not belong to its public key (RSAPK)', { field: 'RSASK' });
  }
}

/**
 * FRMA over the flattened DA: first the DA text as written, then its C14N-style re-serialization
 * (for CAFs that went through a serializer writing character references or `'`-quoted attributes).
 * @internal
 */
export function frmaValid(daFlattened: string, frma: string, key: KeyObject): boolean {
  const sig = Buffer.from(frma, 'base64');
  if (rsaSha1Verify(daFlattened, sig, key)) return true;
  const canon = canonicalFlattenedOf(daFlattened);
  return canon !== undefined && canon !== daFlattened && rsaSha1Verify(canon, sig, key);
}

/** RSA-SHA1 (PKCS#1 v1.5) verification over the ISO-8859-1 bytes of `text`; false on any error. */
export function rsaSha1Verify(text: string, signature: Buffer, key: KeyObject): boolean {
  if (!isLatin1(text)) return false;
  try {
    return cryptoVerify('sha1', Buffer.from(text, 'latin1'), key, signature);
  } catch {
    return false;
  }
}

function canonicalFlattenedOf(xml: string): string | undefined {
  try {
    return flattenXml(serializeNoNamespaces(parseXml(xml, { maxBytes: 64 * 1024, maxDepth: 16 }).root));
  } catch {
    return undefined;
  }
}

function signedFields(daFlattened: string): DaFields | undefined {
  try {
    return readDa(parseXml(daFlattened, { maxBytes: 64 * 1024, maxDepth: 16 }).root);
  } catch {
    return undefined;
  }
}

function fieldDifference(s: DaFields, caf: Caf): string | undefined {
  if (s.rutEmisor !== caf.rutEmisor) return 'DA/RE';
  if (s.razonSocial !== caf.razonSocial) return 'DA/RS';
  if (s.tipoDte !== caf.tipoDte) return 'DA/TD';
  if (s.desde !== caf.desde) return 'DA/RNG/D';
  if (s.hasta !== caf.hasta) return 'DA/RNG/H';
  if (s.fechaAutorizacion !== caf.fechaAutorizacion) return 'DA/FA';
  if (s.idk !== caf.idk) return 'DA/IDK';
  if (!s.publicKey.equals(caf.publicKey)) return 'DA/RSAPK';
  if (caf.expiresAt !== undefined && caf.expiresAt !== addCalendarMonths(caf.fechaAutorizacion, 6)) return 'expiresAt';
  return undefined;
}

function keyPairMatches(privateKey: KeyObject, publicKey: KeyObject): boolean {
  try {
    return createPublicKey(privateKey).equals(publicKey);
  } catch {
    return false;
  }
}

/**
 * Does this CAF cover the document? RE vs issuer (ERR_CAF_WRONG_EMISOR), TD (ERR_CAF_WRONG_TIPO),
 * D ≤ folio ≤ H (ERR_CAF_FOLIO_OUT_OF_RANGE), issue date ≥ FA (ERR_CAF_NOT_YET_VALID, SII
 * TED-1-646), and for 33/43/46/56/61 issue date < FA + 6 calendar months (ERR_CAF_EXPIRED, SII
 * CAF-3-517; see the module comment for the exact rule).
 */
export function checkCafFor(caf: Caf, want: { rutEmisor: string; tipoDte: number; folio: number; fecha: string }): void {
  if (!sameRut(caf.rutEmisor, want.rutEmisor)) {
    throw new TimbreError('ERR_CAF_WRONG_EMISOR', `the CAF belongs to RUT ${caf.rutEmisor}, not to the issuer ${want.rutEmisor}`, {
      field: 'rutEmisor',
      expected: caf.rutEmisor,
      actual: want.rutEmisor,
    });
  }
  if (caf.tipoDte !== Number(want.tipoDte)) {
    throw new TimbreError('ERR_CAF_WRONG_TIPO', `the CAF is for document type ${caf.tipoDte}, not ${want.tipoDte}`, {
      field: 'tipoDte',
      expected: caf.tipoDte,
      actual: want.tipoDte,
    });
  }
  if (!Number.isInteger(want.folio) || want.folio < caf.desde || want.folio > caf.hasta) {
    throw new TimbreError('ERR_CAF_FOLIO_OUT_OF_RANGE', `folio ${want.folio} is outside the CAF range ${caf.desde}..${caf.hasta}`, {
      field: 'folio',
      expected: `${caf.desde}..${caf.hasta}`,
      actual: want.folio,
    });
  }
  const fecha = typeof want.fecha === 'string' ? want.fecha.slice(0, 10) : '';
  if (!isIsoDate(fecha)) {
    throw new TimbreError('ERR_INPUT_INVALID', `issue date "${want.fecha}" is not a YYYY-MM-DD date`, { field: 'fecha', actual: want.fecha });
  }
  if (fecha < caf.fechaAutorizacion) {
    throw new TimbreError('ERR_CAF_NOT_YET_VALID', `issue date ${fecha} is before the CAF authorisation date ${caf.fechaAutorizacion}`, {
      field: 'fecha',
      expected: `>= ${caf.fechaAutorizacion}`,
      actual: fecha,
      siiCode: 'TED-1-646',
    });
  }
  if (cafExpires(caf.tipoDte)) {
    const expiresAt = addCalendarMonths(caf.fechaAutorizacion, 6);
    if (fecha >= expiresAt) {
      throw new TimbreError(
        'ERR_CAF_EXPIRED',
        `the CAF authorised on ${caf.fechaAutorizacion} expired on ${expiresAt} (6 months for type ${caf.tipoDte}); issue date ${fecha}`,
        { field: 'fecha', expected: `< ${expiresAt}`, actual: fecha, siiCode: 'CAF-3-517' },
      );
    }
  }
}

function sameRut(a: string, b: string): boolean {
  const norm = (s: string): string => {
    try {
      return Rut.parse(s, { validateDv: false }).canonical;
    } catch {
      return String(s).trim().toUpperCase();
    }
  };
  return norm(a) === norm(b);
}

// ---------------------------------------------------------------------------------------------
// Trusted SII keys

/** Build the IDK → public key map from PEM texts (SPKI or an X.509 certificate; text before `-----BEGIN` ignored). */
export function loadTrustedKeys(pems: Array<{ idk: number; pem: string }>): Map<number, KeyObject> {
  const out = new Map<number, KeyObject>();
  for (const { idk, pem } of pems) {
    if (!Number.isSafeInteger(idk)) throw new TimbreError('ERR_INPUT_INVALID', `IDK ${idk} is not an integer`, { field: 'idk', actual: idk });
    const begin = pem.indexOf('-----BEGIN');
    if (begin < 0) throw new TimbreError('ERR_INPUT_INVALID', `the key for IDK ${idk} is not PEM`, { field: `trustedKeys[${idk}]` });
    let key: KeyObject;
    try {
      key = createPublicKey(pem.slice(begin));
    } catch (cause) {
      throw new TimbreError('ERR_INPUT_INVALID', `the key for IDK ${idk} is not a readable public key`, { field: `trustedKeys[${idk}]`, cause });
    }
    if (key.asymmetricKeyType !== 'rsa') {
      throw new TimbreError('ERR_INPUT_INVALID', `the key for IDK ${idk} is not RSA`, { field: `trustedKeys[${idk}]` });
    }
    out.set(idk, key);
  }
  return out;
}

/** IDK from a key file name: `100.pem`, `sii_100.pub.pem`, `300.pub.pem`, `idk-300.pem` (case-insensitive). */
export function idkFromFileName(name: string): number | undefined {
  const base = name.replace(/^.*[\\/]/, '');
  const m = /^(?:[a-z]+[_-]?)?(\d{1,18})(?:\.pub)?\.pem$/i.exec(base);
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// C14N-style serialization of a parsed element (no namespace declarations, no comments), enough
// for DA/DD re-serialization. @internal shared with ted.ts

export function serializeNoNamespaces(el: XmlElement, textEscape: (s: string) => string = escapeText): string {
  let out = `<${el.name}`;
  const attrs = [...el.attributes].sort((a, b) => (a.uri === b.uri ? (a.local < b.local ? -1 : a.local > b.local ? 1 : 0) : a.uri < b.uri ? -1 : 1));
  for (const a of attrs) out += ` ${a.name}="${escapeAttr(a.value)}"`;
  out += '>';
  for (const c of el.children) {
    if (c.type === 'element') out += serializeNoNamespaces(c, textEscape);
    else if (c.type === 'text') out += textEscape(c.value);
    else if (c.type === 'pi') out += `<?${c.target}${c.data ? ` ${c.data}` : ''}?>`;
  }
  return `${out}</${el.name}>`;
}

/** C14N text escaping plus LibreDTE's `'` → `&apos;` and `"` → `&quot;` (sii-spec §5 "Entity quirk"). */
export const escapeTextLibreDte = (s: string): string => escapeText(s).replace(/'/g, '&apos;').replace(/"/g, '&quot;');
