/**
 * `createSiiClient`: one object per (environment, certificate) with every SII service, tokens cached
 * and renewed, and one resilient transport.
 *
 * @example
 * ```ts
 * const cert = loadPkcs12(p12Bytes, password);
 * const sii = createSiiClient({ environment: 'certificacion', certificate: cert });
 * const sent = await sii.sendEnvelope(envioBytes, { rutEmisor: '76086428-5' });
 * if (sent.kind === 'received') console.log(await sii.getEstUp(sent.trackId, '76086428-5'));
 * if (sent.kind === 'unknown') { // answer lost: check before sending again — or use deliverEnvelope:
 * }
 * const r = await sii.deliverEnvelope(envioBytes); // received | duplicate | recorded | unknown
 * ```
 */
import type { Certificado } from '@timbre/dte';
import { requestBoletaToken, requestToken, TokenCache, tokenCacheKey, type TokenKind } from './auth.js';
import {
  BOLETA_USER_AGENT,
  queryBoletaEnvioEstado,
  queryBoletaEstado,
  sendBoletaEnvelope,
  type EstadoBoleta,
  type EstadoBoletaQuery,
  type EstadoEnvioBoleta,
} from './boleta.js';
import { deliverEnvelope, type DeliverOptions, type DeliverResult } from './deliver.js';
import { resolveEnvironment, type ResolvedEnvironment, type SiiEnvironmentName, type SiiUrlOverride } from './environment.js';
import { SiiError } from './errors.js';
import { queryEstDte, queryEstUp, type EstadoDte, type EstadoEnvio } from './estado.js';
import {
  consultarDocDteCedible,
  consultarFechaRecepcionSii,
  ingresarAceptacionReclamoDoc,
  listarEventosHistDoc,
  type AccionDoc,
  type RcvDocumento,
  type RcvRespuesta,
} from './rcv.js';
import { SiiTransport, type TransportOptions } from './transport.js';
import { DTEUPLOAD_USER_AGENT, uploadEnvelope, type SendEnvelopeResult } from './upload.js';

export interface SiiClientOptions extends TransportOptions {
  environment: SiiEnvironmentName;
  /** One base URL for every service, or per-service base URLs (see environment.ts for the paths). */
  siiUrl?: SiiUrlOverride;
  /** The certificate of the person authorized in the SII to send for the company. */
  certificate: Certificado;
  /** Token time to live, ms (default 60 000). Ignored when `tokenCache` is given. */
  tokenTtlMs?: number;
  /** Share tokens between clients (e.g. one per company with the same certificate); with a `store`, between processes too. */
  tokenCache?: TokenCache;
  /** Share breakers and settings between clients; when given, the transport options here are ignored. */
  transport?: SiiTransport;
  /** DTEUpload User-Agent (default `Mozilla/4.0 (compatible; PROG 1.0; Windows NT 5.0; YComp 5.0.2.4)`). */
  userAgent?: string;
  /** Boleta REST User-Agent (default the same "PROG 1.0" browser-like agent). */
  boletaUserAgent?: string;
}

export interface SendOptions {
  /** The issuing company (`RutEmisor` of the carátula). */
  rutEmisor: string;
  /** Name of the uploaded file (default `envio.xml`). */
  fileName?: string;
}

export interface GetEstDteInput {
  rutEmisor: string;
  rutReceptor: string;
  tipoDte: number;
  folio: number;
  /** `AAAA-MM-DD`. */
  fechaEmision: string;
  montoTotal: number;
}

export interface SiiClient {
  readonly environment: ResolvedEnvironment;
  readonly transport: SiiTransport;
  /** The DTEWS token (cached; `forceRefresh` asks for a new one). */
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
  /**
   * Upload a signed EnvioDTE (bytes, ISO-8859-1) through DTEUpload. `received` is not acceptance: poll
   * getEstUp. `unknown` means the answer was lost — check the status before uploading again.
   */
  sendEnvelope(xml: Uint8Array, options: SendOptions): Promise<SendEnvelopeResult>;
  /**
   * Upload an envelope (company read from its carátula) and, when the answer is lost, ask QueryEstDte
   * for its first document before uploading again: `recorded` when the SII has it (not re-sent); the
   * same bytes uploaded once more only when it still does not know it after `statusWaitMs` (see
   * deliver.ts).
   */
  deliverEnvelope(xml: Uint8Array, options?: DeliverOptions): Promise<DeliverResult>;
  /** QueryEstUp: status of an uploaded envelope. */
  getEstUp(trackId: string, rutEmisor: string): Promise<EstadoEnvio>;
  /** QueryEstDte: is this DTE at the SII and do its data match? (RutConsultante = the certificate holder.) */
  getEstDte(input: GetEstDteInput): Promise<EstadoDte>;
  boleta: {
    /** The boleta REST token (different from the DTEWS one). */
    getToken(options?: { forceRefresh?: boolean }): Promise<string>;
    /** Upload an EnvioBOLETA to the REST envío (pangal/rahue). Same outcomes as sendEnvelope. */
    sendEnvelope(xml: Uint8Array, options: SendOptions): Promise<SendEnvelopeResult>;
    getEstadoEnvio(trackId: string, rutEmisor: string): Promise<EstadoEnvioBoleta>;
    getEstadoBoleta(query: Omit<EstadoBoletaQuery, 'userAgent'>): Promise<EstadoBoleta>;
  };
  rcv: {
    ingresarAceptacionReclamoDoc(input: RcvDocumento & { accionDoc: AccionDoc }): Promise<RcvRespuesta>;
    listarEventosHistDoc(input: RcvDocumento): Promise<RcvRespuesta>;
    consultarDocDteCedible(input: RcvDocumento): Promise<RcvRespuesta>;
    consultarFechaRecepcionSii(input: RcvDocumento): Promise<{ fechaRecepcion?: string } & Partial<RcvRespuesta>>;
  };
}

/**
 * Build a client. Every call that needs a token gets it from the cache; when a service refuses the
 * token (ERR_SII_TOKEN_EXPIRED: DTEUpload STATUS 5, ESTADO 001–003, HTTP 401) the token is dropped
 * and the call is made once more with a new one.
 */
export function createSiiClient(options: SiiClientOptions): SiiClient {
  const { certificate } = options;
  if (!certificate?.signingKey) throw new TypeError('createSiiClient: certificate (from loadPkcs12) is required');
  const env = resolveEnvironment(options.environment, options.siiUrl);
  const transport = options.transport ?? new SiiTransport(options);
  const cache = options.tokenCache ?? new TokenCache({ ...(options.tokenTtlMs !== undefined ? { ttlMs: options.tokenTtlMs } : {}), clock: transport.options.clock });
  const uploadUserAgent = options.userAgent ?? DTEUPLOAD_USER_AGENT;
  const boletaUserAgent = options.boletaUserAgent ?? BOLETA_USER_AGENT;
  const key = certificate.signingKey;

  const fetchers: Record<TokenKind, () => Promise<string>> = {
    dtews: () => requestToken(transport, env, key),
    boleta: () => requestBoletaToken(transport, env, key, boletaUserAgent),
  };
  const keys: Record<TokenKind, string> = { dtews: tokenCacheKey(env, certificate, 'dtews'), boleta: tokenCacheKey(env, certificate, 'boleta') };

  const token = async (kind: TokenKind, forceRefresh = false): Promise<string> => {
    if (forceRefresh) cache.invalidate(keys[kind]);
    return cache.get(keys[kind], fetchers[kind]);
  };

  /** Run with a token; on ERR_SII_TOKEN_EXPIRED drop it and run once more with a fresh one. */
  const withToken = async <T>(kind: TokenKind, fn: (token: string) => Promise<T>): Promise<T> => {
    const first = await token(kind);
    try {
      return await fn(first);
    } catch (e) {
      if (!(e instanceof SiiError) || e.code !== 'ERR_SII_TOKEN_EXPIRED') throw e;
      cache.invalidate(keys[kind], first);
      return fn(await token(kind));
    }
  };

  const sendEnvelope = (xml: Uint8Array, o: SendOptions): Promise<SendEnvelopeResult> =>
    withToken('dtews', (t) =>
      uploadEnvelope(transport, env, t, {
        xml,
        rutSender: certificate.rut,
        rutCompany: o.rutEmisor,
        userAgent: uploadUserAgent,
        ...(o.fileName !== undefined ? { fileName: o.fileName } : {}),
      }),
    );
  const getEstDte = (q: GetEstDteInput): Promise<EstadoDte> =>
    withToken('dtews', (t) =>
      queryEstDte(transport, env, t, {
        rutConsultante: certificate.rut,
        rutCompania: q.rutEmisor,
        rutReceptor: q.rutReceptor,
        tipoDte: q.tipoDte,
        folio: q.folio,
        fechaEmision: q.fechaEmision,
        montoTotal: q.montoTotal,
      }),
    );

  return {
    environment: env,
    transport,
    getToken: (o) => token('dtews', o?.forceRefresh),
    sendEnvelope,
    deliverEnvelope: (xml, o) => deliverEnvelope({ sendEnvelope, getEstDte, clock: transport.options.clock }, xml, o),
    getEstUp: (trackId, rutEmisor) => withToken('dtews', (t) => queryEstUp(transport, env, { rutCompania: rutEmisor, trackId, token: t })),
    getEstDte,
    boleta: {
      getToken: (o) => token('boleta', o?.forceRefresh),
      sendEnvelope: (xml, o) =>
        withToken('boleta', (t) =>
          sendBoletaEnvelope(transport, env, t, {
            xml,
            rutSender: certificate.rut,
            rutCompany: o.rutEmisor,
            userAgent: boletaUserAgent,
            ...(o.fileName !== undefined ? { fileName: o.fileName } : {}),
          }),
        ),
      getEstadoEnvio: (trackId, rutEmisor) => withToken('boleta', (t) => queryBoletaEnvioEstado(transport, env, t, { rutEmisor, trackId, userAgent: boletaUserAgent })),
      getEstadoBoleta: (q) => withToken('boleta', (t) => queryBoletaEstado(transport, env, t, { ...q, userAgent: boletaUserAgent })),
    },
    rcv: {
      ingresarAceptacionReclamoDoc: (d) => withToken('dtews', (t) => ingresarAceptacionReclamoDoc(transport, env, t, d)),
      listarEventosHistDoc: (d) => withToken('dtews', (t) => listarEventosHistDoc(transport, env, t, d)),
      consultarDocDteCedible: (d) => withToken('dtews', (t) => consultarDocDteCedible(transport, env, t, d)),
      consultarFechaRecepcionSii: (d) => withToken('dtews', (t) => consultarFechaRecepcionSii(transport, env, t, d)),
    },
  };
}
