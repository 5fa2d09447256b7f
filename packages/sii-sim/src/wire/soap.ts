/**
 * SOAP 1.1 as the SII speaks it: the DTEWS services are Apache Axis 1.x `.jws` (RPC/encoded) whose
 * answers carry the real answer as an escaped XML string in `ns1:<op>Return`; the RCV service is
 * JAX-WS (document/literal, `ns2:` answer, `<return>` children).
 */
import { childElements, parseXml, textOf, type XmlElement } from '@timbre/dte';

export const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';

export interface SoapCall {
  /** Local name of the operation element (`getEstUp`). */
  operation: string;
  /** Its namespace URI as the client wrote it. */
  namespace: string;
  /** Parameters in document order: local name and text. */
  params: Array<{ name: string; value: string }>;
  /** The operation element, for document/literal services with structure. */
  element: XmlElement;
}

export class SoapRequestError extends Error {}

/** Parse a SOAP 1.1 request (any prefixes, any encoding the declaration names). */
export function parseSoapCall(body: Buffer | string): SoapCall {
  let root: XmlElement;
  try {
    root = parseXml(body, { maxBytes: 2 * 1024 * 1024, maxDepth: 32 }).root;
  } catch (e) {
    throw new SoapRequestError(`the request is not XML: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (root.local !== 'Envelope') throw new SoapRequestError(`the request is not a SOAP envelope (root <${root.name}>)`);
  const bodyEl = childElements(root).find((e) => e.local === 'Body');
  if (!bodyEl) throw new SoapRequestError('the SOAP envelope has no Body');
  const op = childElements(bodyEl)[0];
  if (!op) throw new SoapRequestError('the SOAP Body is empty');
  return {
    operation: op.local,
    namespace: op.uri,
    params: childElements(op).map((p) => ({ name: p.local, value: textOf(p).trim() })),
    element: op,
  };
}

/** Escape text the way Axis writes a xsd:string (`<`, `>`, `&`; quotes left alone). */
export const escapeSoapString = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const escapeXml = (s: string): string => escapeSoapString(s).replace(/"/g, '&quot;');

/** An Axis RPC answer: `<ns1:{op}Response><ns1:{op}Return xsi:type="xsd:string">escaped</…>`. */
export function axisResponse(opts: { soapHost: string; service: string; operation: string; returnValue: string }): string {
  const ns = `https://${opts.soapHost}/DTEWS/${opts.service}`;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n` +
    ' <soapenv:Body>\n' +
    `  <ns1:${opts.operation}Response soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns1="${escapeXml(ns)}">\n` +
    `   <ns1:${opts.operation}Return xsi:type="xsd:string">${escapeSoapString(opts.returnValue)}</ns1:${opts.operation}Return>\n` +
    `  </ns1:${opts.operation}Response>\n` +
    ' </soapenv:Body>\n' +
    '</soapenv:Envelope>'
  );
}

/** An Axis fault (sent with HTTP 500), e.g. `No such operation 'getEstUp'`. */
export function axisFault(faultcode: string, faultstring: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n` +
    ' <soapenv:Body>\n' +
    '  <soapenv:Fault>\n' +
    `   <faultcode>${escapeXml(faultcode)}</faultcode>\n` +
    `   <faultstring>${escapeXml(faultstring)}</faultstring>\n` +
    '   <detail>\n' +
    '    <ns1:hostname xmlns:ns1="http://xml.apache.org/axis/">sii-sim</ns1:hostname>\n' +
    '   </detail>\n' +
    '  </soapenv:Fault>\n' +
    ' </soapenv:Body>\n' +
    '</soapenv:Envelope>'
  );
}

export const RCV_NS = 'http://ws.registroreclamodte.diii.sdi.sii.cl';

/** A JAX-WS answer: `<ns2:{op}Response><return>…</return></ns2:{op}Response>`; `returnXml` is already markup. */
export function jaxwsResponse(operation: string, returnXml: string): string {
  return (
    "<?xml version='1.0' encoding='UTF-8'?>" +
    `<S:Envelope xmlns:S="${SOAP_ENV}"><S:Body>` +
    `<ns2:${operation}Response xmlns:ns2="${RCV_NS}">${returnXml}</ns2:${operation}Response>` +
    '</S:Body></S:Envelope>'
  );
}

export function jaxwsFault(faultcode: string, faultstring: string): string {
  return (
    "<?xml version='1.0' encoding='UTF-8'?>" +
    `<S:Envelope xmlns:S="${SOAP_ENV}"><S:Body><S:Fault>` +
    `<faultcode>${escapeXml(faultcode)}</faultcode><faultstring>${escapeXml(faultstring)}</faultstring>` +
    '</S:Fault></S:Body></S:Envelope>'
  );
}

/** Element text content escaping for the inner XML documents. */
export const xmlText = escapeXml;
