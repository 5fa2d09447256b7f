/**
 * RCV "registro de aceptación o reclamo de un DTE" SOAP service (sii-spec §14.2; RCLM v1.2):
 * `{rcv}/WSREGISTRORECLAMODTECERT/registroreclamodteservice` (certificación) or
 * `/WSREGISTRORECLAMODTE/registroreclamodteservice` (producción), namespace
 * `http://ws.registroreclamodte.diii.sdi.sii.cl`, SOAPAction "", unqualified parameters, the DTEWS
 * token as `Cookie: TOKEN=…`.
 *
 * Answers `<ns2:{op}Response><return><codResp/><descResp/>[<listaEventosDoc/>…]</return>`;
 * `consultarFechaRecepcionSii` returns the reception timestamp as the text of `<return>`.
 * The client returns every codResp as data (no business logic): see `describeCode(codResp, 'rcv')`.
 */
import { childElements, findAll, textOf } from '@timbre/dte';
import type { ResolvedEnvironment } from './environment.js';
import { SiiError, withAttempts } from './errors.js';
import type { SiiTransport } from './transport.js';
import { excerpt, findFirst, soapBody, soapLiteralEnvelope, splitRut, textAt } from './wire.js';

export const RCV_NAMESPACE = 'http://ws.registroreclamodte.diii.sdi.sii.cl';

/** ACD acepta contenido, RCD reclamo al contenido, ERM recibo de mercaderías, RFP/RFT reclamo por falta parcial/total. */
export type AccionDoc = 'ACD' | 'RCD' | 'ERM' | 'RFP' | 'RFT';
export const ACCIONES_DOC: readonly AccionDoc[] = ['ACD', 'RCD', 'ERM', 'RFP', 'RFT'];

export type RcvOperation = 'ingresarAceptacionReclamoDoc' | 'listarEventosHistDoc' | 'consultarDocDteCedible' | 'consultarFechaRecepcionSii';

export interface RcvDocumento {
  /** The DTE's issuer. */
  rutEmisor: string;
  tipoDoc: number;
  folio: number;
}

export interface RcvEvento {
  codEvento: string;
  descEvento: string;
  rutResponsable: string;
  dvResponsable: string;
  /** `29-09-2026 12:05:36` as sent. */
  fechaEvento: string;
}

export interface RcvRespuesta {
  /** The SII's codResp (0 OK, 7 already registered, 15 event list, 23/25 cedible…; -1 internal error). */
  codResp: number;
  descResp: string;
  listaEventosDoc?: RcvEvento[];
}

/** The SOAP request of an RCV operation, parameters in the WSDL's order. */
export function buildRcvRequest(operation: RcvOperation, doc: RcvDocumento, accionDoc?: AccionDoc): string {
  const { digits, dv } = splitRut(doc.rutEmisor, 'rutEmisor');
  for (const [name, v] of [['tipoDoc', doc.tipoDoc], ['folio', doc.folio]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new SiiError('ERR_SII_PROTOCOL', 'rcv', `${name} ${v} is not a positive integer`);
  }
  const params: Array<[string, string]> = [
    ['rutEmisor', digits],
    ['dvEmisor', dv],
    ['tipoDoc', String(doc.tipoDoc)],
    ['folio', String(doc.folio)],
  ];
  if (operation === 'ingresarAceptacionReclamoDoc') {
    if (!accionDoc || !ACCIONES_DOC.includes(accionDoc)) throw new SiiError('ERR_SII_PROTOCOL', 'rcv', `accionDoc "${String(accionDoc)}" is not one of ${ACCIONES_DOC.join(', ')}`);
    params.push(['accionDoc', accionDoc]);
  }
  return soapLiteralEnvelope(RCV_NAMESPACE, operation, params);
}

/** Read `<return><codResp/><descResp/><listaEventosDoc/>*</return>`. */
export function parseRcvResponse(body: Uint8Array | string, contentType = ''): RcvRespuesta {
  const ret = rcvReturn(body, contentType);
  const cod = textAt(ret, 'codResp');
  if (cod === undefined || !/^-?\d+$/.test(cod)) throw new SiiError('ERR_SII_PROTOCOL', 'rcv', `RCV: answer without a numeric codResp: ${excerpt(textOf(ret))}`);
  const out: RcvRespuesta = { codResp: Number(cod), descResp: textAt(ret, 'descResp') ?? '' };
  const eventos = findAll(ret, 'listaEventosDoc');
  if (eventos.length > 0) {
    out.listaEventosDoc = eventos.map((ev) => ({
      codEvento: textAt(ev, 'codEvento') ?? '',
      descEvento: textAt(ev, 'descEvento') ?? '',
      rutResponsable: textAt(ev, 'rutResponsable') ?? '',
      dvResponsable: textAt(ev, 'dvResponsable') ?? '',
      fechaEvento: textAt(ev, 'fechaEvento') ?? '',
    }));
  }
  return out;
}

/**
 * Read consultarFechaRecepcionSii: `{ fechaRecepcion }` when `<return>` is text, or the codResp
 * answer when the SII answered with codes (document not received…).
 */
export function parseFechaRecepcionResponse(body: Uint8Array | string, contentType = ''): { fechaRecepcion?: string } & Partial<RcvRespuesta> {
  const ret = rcvReturn(body, contentType);
  if (childElements(ret).length > 0) return parseRcvResponse(body, contentType);
  const text = textOf(ret).trim();
  return text ? { fechaRecepcion: text } : {};
}

function rcvReturn(body: Uint8Array | string, contentType: string) {
  const b = soapBody(body, 'rcv', contentType);
  const ret = findFirst(b, 'return');
  if (!ret) throw new SiiError('ERR_SII_PROTOCOL', 'rcv', 'RCV: no <return> in the SOAP answer');
  return ret;
}

async function call(transport: SiiTransport, env: ResolvedEnvironment, token: string, operation: RcvOperation, doc: RcvDocumento, accionDoc?: AccionDoc) {
  const res = await transport.request({
    operation: 'rcv',
    method: 'POST',
    url: env.endpoints.rcv,
    headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""', Cookie: `TOKEN=${token}`, Accept: 'text/xml, */*' },
    body: Buffer.from(buildRcvRequest(operation, doc, accionDoc), 'utf8'),
    // Registering an acceptance or claim is idempotent at the SII (codResp 7 "Evento registrado
    // previamente"), so a lost answer may be retried.
    expect: 'xml',
    idempotent: true,
  });
  if (res.status === 401 || res.status === 403) {
    throw new SiiError('ERR_SII_TOKEN_EXPIRED', 'rcv', `RCV ${operation}: HTTP ${res.status} (token refused)`, { httpStatus: res.status, attempts: res.attempts });
  }
  if ((res.status < 200 || res.status >= 300) && res.status !== 500) {
    throw new SiiError('ERR_SII_PROTOCOL', 'rcv', `RCV ${operation}: HTTP ${res.status}: ${excerpt(res.body)}`, { httpStatus: res.status, attempts: res.attempts });
  }
  return res;
}

/** Register an acceptance (ACD, ERM) or a claim (RCD, RFP, RFT) of a received DTE. */
export async function ingresarAceptacionReclamoDoc(transport: SiiTransport, env: ResolvedEnvironment, token: string, doc: RcvDocumento & { accionDoc: AccionDoc }): Promise<RcvRespuesta> {
  const res = await call(transport, env, token, 'ingresarAceptacionReclamoDoc', doc, doc.accionDoc);
  return withAttempts(res.attempts, () => parseRcvResponse(res.body, res.contentType));
}

/** The document's event history (codResp 15 with listaEventosDoc, 16 none). */
export async function listarEventosHistDoc(transport: SiiTransport, env: ResolvedEnvironment, token: string, doc: RcvDocumento): Promise<RcvRespuesta> {
  const res = await call(transport, env, token, 'listarEventosHistDoc', doc);
  return withAttempts(res.attempts, () => parseRcvResponse(res.body, res.contentType));
}

/** Whether the DTE can be assigned (cedido): codResp 23/25 cedible, 20/21/24 not, 22 no events. */
export async function consultarDocDteCedible(transport: SiiTransport, env: ResolvedEnvironment, token: string, doc: RcvDocumento): Promise<RcvRespuesta> {
  const res = await call(transport, env, token, 'consultarDocDteCedible', doc);
  return withAttempts(res.attempts, () => parseRcvResponse(res.body, res.contentType));
}

/** When the SII received the DTE (`21-02-2017 19:02:03` as sent). */
export async function consultarFechaRecepcionSii(
  transport: SiiTransport,
  env: ResolvedEnvironment,
  token: string,
  doc: RcvDocumento,
): Promise<{ fechaRecepcion?: string } & Partial<RcvRespuesta>> {
  const res = await call(transport, env, token, 'consultarFechaRecepcionSii', doc);
  return withAttempts(res.attempts, () => parseFechaRecepcionResponse(res.body, res.contentType));
}
