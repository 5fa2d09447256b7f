/**
 * Wire-format helpers shared by the service modules: SOAP 1.1 envelopes as the SII's Axis services
 * expect them, extraction of the escaped XML the DTEWS services return inside SOAP strings, the
 * `SII:RESPUESTA` (RESP_HDR / RESP_BODY in either order) reader, HTML detection, RUT splitting.
 *
 * Every answer is untrusted input: it is parsed with `parseXml` from @timbre/dte (no DTD, bounded
 * size and depth) and read by local name (the SII mixes `SII:`-prefixed and unprefixed elements).
 */
import { childElements, findAll, parseXml, Rut, textOf, TimbreError, type XmlElement } from '@timbre/dte';
import { SiiError, type SiiOperation } from './errors.js';

export const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP_ENC_NS = 'http://schemas.xmlsoap.org/soap/encoding/';

/** Escape text for an XML element (SOAP parameters, the escaped pszXml). */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A SOAP 1.1 RPC/encoded request like the SII's manuals show (AUTH §4.1.2): the operation element in
 * the service's namespace (`m:`), unqualified parameters typed `xsd:string`.
 */
export function soapRpcEnvelope(namespace: string, operation: string, params: ReadonlyArray<readonly [string, string]>): string {
  const body = params.map(([name, value]) => `<${name} xsi:type="xsd:string">${escapeXml(value)}</${name}>`).join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
    '<soapenv:Body>' +
    `<m:${operation} xmlns:m="${escapeXml(namespace)}" soapenv:encodingStyle="${SOAP_ENC_NS}">${body}</m:${operation}>` +
    '</soapenv:Body></soapenv:Envelope>'
  );
}

/** A SOAP 1.1 document/literal-style request (the RCV service: `ws:` operation, unqualified parameters). */
export function soapLiteralEnvelope(namespace: string, operation: string, params: ReadonlyArray<readonly [string, string]>): string {
  const body = params.map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`).join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV_NS}" xmlns:ws="${escapeXml(namespace)}">` +
    '<soapenv:Header/><soapenv:Body>' +
    `<ws:${operation}>${body}</ws:${operation}>` +
    '</soapenv:Body></soapenv:Envelope>'
  );
}

/** True when the bytes look like an HTML page (maintenance page, login page, error page). */
export function looksLikeHtml(body: Uint8Array | string, contentType = ''): boolean {
  if (/text\/html/i.test(contentType)) return true;
  const head = (typeof body === 'string' ? body.slice(0, 512) : Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, 512)).toString('latin1'))
    .replace(/^\uFEFF/, '')
    .trimStart();
  return /^<!doctype\s+html/i.test(head) || /^<html[\s>]/i.test(head) || /^<head[\s>]/i.test(head) || /^<body[\s>]/i.test(head);
}

/** True when the bytes do not start like XML at all (e.g. a plain `Error 500` body). */
export function looksLikeNonXml(body: Uint8Array | string): boolean {
  const head = (typeof body === 'string' ? body.slice(0, 64) : Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, 64)).toString('latin1'))
    .replace(/^\uFEFF/, '')
    .trimStart();
  return head.length === 0 || !head.startsWith('<');
}

/** Short printable excerpt of an answer for error messages (never the whole body). */
export function excerpt(body: Uint8Array | string, max = 200): string {
  const s = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, max * 4)).toString('latin1');
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Parse an SII answer as XML; HTML or non-XML bodies and malformed XML become typed SII errors. */
export function parseAnswerXml(body: Uint8Array | string, operation: SiiOperation, contentType = ''): XmlElement {
  if (looksLikeHtml(body, contentType)) {
    throw new SiiError('ERR_SII_UNAVAILABLE', operation, `${operation}: the SII answered an HTML page instead of XML (maintenance or transient error): ${excerpt(body)}`);
  }
  if (looksLikeNonXml(body)) {
    throw new SiiError('ERR_SII_UNAVAILABLE', operation, `${operation}: the SII answered non-XML text: "${excerpt(body)}"`);
  }
  try {
    return parseXml(body, { maxBytes: 5 * 1024 * 1024, maxDepth: 32 }).root;
  } catch (cause) {
    const reason = cause instanceof TimbreError ? cause.message : String(cause);
    throw new SiiError('ERR_SII_PROTOCOL', operation, `${operation}: unreadable XML answer (${reason})`, { cause });
  }
}

/** First descendant-or-self element with this local name. */
export function findFirst(el: XmlElement, local: string): XmlElement | undefined {
  if (el.local === local) return el;
  return findAll(el, local)[0];
}

/** Trimmed text of the first descendant with this local name. */
export function textAt(el: XmlElement, local: string): string | undefined {
  const found = findFirst(el, local);
  return found ? textOf(found).trim() : undefined;
}

/** If the SOAP Body holds a Fault, throw it as ERR_SII_PROTOCOL with faultcode/faultstring. */
function throwIfFault(root: XmlElement, operation: SiiOperation): void {
  const fault = findFirst(root, 'Fault');
  if (!fault) return;
  const faultcode = textAt(fault, 'faultcode') ?? '';
  const faultstring = textAt(fault, 'faultstring') ?? '';
  throw new SiiError('ERR_SII_PROTOCOL', operation, `${operation}: SOAP fault ${faultcode} ${faultstring}`.trim(), {
    ...(faultcode ? { siiCode: faultcode } : {}),
    ...(faultstring ? { glosa: faultstring } : {}),
  });
}

/**
 * The SOAP Body of an answer: checks it is a SOAP envelope and not a Fault.
 */
export function soapBody(body: Uint8Array | string, operation: SiiOperation, contentType = ''): XmlElement {
  const root = parseAnswerXml(body, operation, contentType);
  if (root.local !== 'Envelope') {
    throw new SiiError('ERR_SII_PROTOCOL', operation, `${operation}: expected a SOAP envelope, got <${root.name}>`);
  }
  throwIfFault(root, operation);
  const b = childElements(root).find((c) => c.local === 'Body');
  if (!b) throw new SiiError('ERR_SII_PROTOCOL', operation, `${operation}: SOAP envelope without Body`);
  return b;
}

/**
 * The text of `<{returnName}>` in an RPC answer (`getSeedReturn`, `ns1:getEstUpReturn`…): the parser
 * has already unescaped it, so for the DTEWS services it is itself an XML document. Axis multiRef
 * answers (`<getSeedReturn href="#id0"/>`) are followed.
 */
export function soapReturnText(body: Uint8Array | string, operation: SiiOperation, returnName: string, contentType = ''): string {
  const b = soapBody(body, operation, contentType);
  let ret = findFirst(b, returnName);
  if (!ret) throw new SiiError('ERR_SII_PROTOCOL', operation, `${operation}: no <${returnName}> in the SOAP answer`);
  const href = ret.attributes.find((a) => a.local === 'href')?.value;
  if (href?.startsWith('#')) {
    const id = href.slice(1);
    const target = findAll(b, 'multiRef').find((m) => m.attributes.some((a) => a.local === 'id' && a.value === id));
    if (!target) throw new SiiError('ERR_SII_PROTOCOL', operation, `${operation}: <${returnName}> points to a missing multiRef ${href}`);
    ret = target;
  }
  return textOf(ret);
}

/** An `SII:RESPUESTA` read by local names; RESP_HDR and RESP_BODY may come in either order. */
export interface SiiRespuesta {
  root: XmlElement;
  /** Children of RESP_HDR as [localName, text] in document order (repeated names kept). */
  hdr: Array<[string, string]>;
  /** Children of RESP_BODY as [localName, text] in document order (repeated names kept). */
  body: Array<[string, string]>;
}

const pairs = (el: XmlElement | undefined): Array<[string, string]> =>
  el ? childElements(el).map((c) => [c.local, textOf(c).trim()] as [string, string]) : [];

/** Parse the escaped XML returned by a DTEWS service (`<SII:RESPUESTA>`). */
export function parseRespuesta(inner: string, operation: SiiOperation): SiiRespuesta {
  const trimmed = inner.trim();
  if (trimmed === '') throw new SiiError('ERR_SII_PROTOCOL', operation, `${operation}: empty answer inside the SOAP string`);
  const root = parseAnswerXml(trimmed, operation);
  const respuesta = findFirst(root, 'RESPUESTA') ?? root;
  const hdrEl = findFirst(respuesta, 'RESP_HDR');
  const bodyEl = findFirst(respuesta, 'RESP_BODY');
  if (!hdrEl && !bodyEl) {
    throw new SiiError('ERR_SII_PROTOCOL', operation, `${operation}: answer without RESP_HDR/RESP_BODY: ${excerpt(trimmed)}`);
  }
  return { root: respuesta, hdr: pairs(hdrEl), body: pairs(bodyEl) };
}

/** First value of a field in a list of pairs. */
export const field = (list: ReadonlyArray<[string, string]>, name: string): string | undefined => list.find(([k]) => k === name)?.[1];

/** `76086428-5` → `{ digits: '76086428', dv: '5' }` (DV upper-case, dots removed, check digit verified). */
export function splitRut(rut: string, fieldName: string): { digits: string; dv: string; canonical: string } {
  const r = Rut.parse(rut, { field: fieldName });
  return { digits: String(r.digits), dv: r.dv, canonical: r.canonical };
}

/** Track ids are digit strings (leading zeros kept). */
export function assertTrackId(trackId: string, op: SiiOperation): void {
  if (typeof trackId !== 'string' || !/^\d{1,20}$/.test(trackId)) {
    throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: track id "${String(trackId)}" is not a string of digits`);
  }
}

/**
 * Refuse a non-2xx answer as ERR_SII_PROTOCOL (a definite answer the SII does not document for this
 * call: a 404 page, a redirect to a login…). With `soap`, an HTTP 500 passes through: it carries a
 * SOAP fault, which the SOAP reader reports.
 */
export function assertHttpOk(res: { status: number; body: Uint8Array }, op: SiiOperation, soap = false): void {
  if (res.status >= 200 && res.status < 300) return;
  if (soap && res.status === 500) return;
  throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: HTTP ${res.status}: ${excerpt(res.body)}`, { httpStatus: res.status });
}
