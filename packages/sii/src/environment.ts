/**
 * SII environments: which host serves which service, and the id of the SII key that signs the CAFs.
 *
 * Hosts (sii-spec §1):
 *
 * | service                        | certificacion           | produccion             |
 * |--------------------------------|-------------------------|------------------------|
 * | DTEWS (seed, token, status)    | https://maullin.sii.cl  | https://palena.sii.cl  |
 * | DTEUpload                      | https://maullin.sii.cl  | https://palena.sii.cl  |
 * | boleta REST (seed, token, status) | https://apicert.sii.cl | https://api.sii.cl    |
 * | boleta REST envío              | https://pangal.sii.cl   | https://rahue.sii.cl   |
 * | RCV registro aceptación/reclamo | https://ws2.sii.cl     | https://ws1.sii.cl     |
 * | CAF IDK                        | 100                     | 300                    |
 *
 * (`sim`: the simulator's fake key, IDK 999 999 100 unless the simulator was started with another.)
 *
 * PATH LAYOUT (identical in every environment, the simulator included; only the RCV path differs
 * between certificación and producción). A base URL is scheme + host (+ optional path prefix), no
 * trailing slash; the client appends exactly these paths:
 *
 * ```
 * POST {dtews}/DTEWS/CrSeed.jws                       SOAP 1.1 getSeed
 * POST {dtews}/DTEWS/GetTokenFromSeed.jws             SOAP 1.1 getToken(pszXml)
 * POST {dtews}/DTEWS/QueryEstUp.jws                   SOAP 1.1 getEstUp(RutCompania, DvCompania, TrackId, Token)
 * POST {dtews}/DTEWS/QueryEstDte.jws                  SOAP 1.1 getEstDte(RutConsultante, …, Token)
 * POST {upload}/cgi_dte/UPL/DTEUpload                 multipart/form-data, Cookie TOKEN=…
 * GET  {boletaApi}/recursos/v1/boleta.electronica.semilla
 * POST {boletaApi}/recursos/v1/boleta.electronica.token
 * POST {boletaEnvio}/recursos/v1/boleta.electronica.envio                 multipart, Cookie TOKEN=…
 * GET  {boletaApi}/recursos/v1/boleta.electronica.envio/{rut}-{dv}-{trackid}
 * GET  {boletaApi}/recursos/v1/boleta.electronica/{rut}-{dv}-{tipo}-{folio}/estado?rut_receptor=&dv_receptor=&monto=&fechaEmision=
 * POST {rcv}/WSREGISTRORECLAMODTECERT/registroreclamodteservice   (certificacion, sim)
 * POST {rcv}/WSREGISTRORECLAMODTE/registroreclamodteservice       (produccion)
 * ```
 *
 * `sim` (the Timbre SII simulator, packages/sii-sim) serves all of them under one base URL,
 * default `http://127.0.0.1:8090`, and uses the certificación RCV path.
 */
import { TimbreError } from '@timbre/dte';

export type SiiEnvironmentName = 'certificacion' | 'produccion' | 'sim';

/** Base URLs (scheme + host, optionally a path prefix; no trailing slash) per service group. */
export interface SiiBaseUrls {
  /** SOAP DTEWS: CrSeed, GetTokenFromSeed, QueryEstUp, QueryEstDte. */
  dtews: string;
  /** DTEUpload (legacy upload of EnvioDTE, libros, RCOF, certification boleta sets). */
  upload: string;
  /** Boleta REST API: semilla, token, estado of an envío, estado of a boleta. */
  boletaApi: string;
  /** Boleta REST envío (the exclusive upload hosts pangal/rahue). */
  boletaEnvio: string;
  /** RCV registro de aceptación/reclamo SOAP service. */
  rcv: string;
}

/** Exact paths appended to the base URLs; the simulator implements the same ones. */
export const SII_PATHS = {
  crSeed: '/DTEWS/CrSeed.jws',
  getTokenFromSeed: '/DTEWS/GetTokenFromSeed.jws',
  queryEstUp: '/DTEWS/QueryEstUp.jws',
  queryEstDte: '/DTEWS/QueryEstDte.jws',
  dteUpload: '/cgi_dte/UPL/DTEUpload',
  boletaSemilla: '/recursos/v1/boleta.electronica.semilla',
  boletaToken: '/recursos/v1/boleta.electronica.token',
  boletaEnvio: '/recursos/v1/boleta.electronica.envio',
  /** Followed by `/{rut}-{dv}-{trackid}`. */
  boletaEnvioEstado: '/recursos/v1/boleta.electronica.envio',
  /** `/recursos/v1/boleta.electronica/{rut}-{dv}-{tipo}-{folio}/estado`. */
  boletaEstadoPrefix: '/recursos/v1/boleta.electronica',
  rcvCertificacion: '/WSREGISTRORECLAMODTECERT/registroreclamodteservice',
  rcvProduccion: '/WSREGISTRORECLAMODTE/registroreclamodteservice',
} as const;

/** Default base URL of the simulator. */
export const SII_SIM_DEFAULT_URL = 'http://127.0.0.1:8090';

/** IDK of the simulator's default CAF-signing key (a fake key: never trusted for the real SII). */
export const SIM_DEFAULT_CAF_IDK = 999_999_100;

interface EnvironmentDefinition {
  urls: SiiBaseUrls;
  rcvPath: string;
  cafIdk: number;
}

const DEFINITIONS: Readonly<Record<SiiEnvironmentName, EnvironmentDefinition>> = {
  // sii-spec §1 (AUTH ch.7; LDTE SiiEnvironment.php; RDTE sii-client.ts; RCLM)
  certificacion: {
    urls: {
      dtews: 'https://maullin.sii.cl',
      upload: 'https://maullin.sii.cl',
      boletaApi: 'https://apicert.sii.cl',
      boletaEnvio: 'https://pangal.sii.cl',
      rcv: 'https://ws2.sii.cl',
    },
    rcvPath: SII_PATHS.rcvCertificacion,
    cafIdk: 100,
  },
  produccion: {
    urls: {
      dtews: 'https://palena.sii.cl',
      upload: 'https://palena.sii.cl',
      boletaApi: 'https://api.sii.cl',
      boletaEnvio: 'https://rahue.sii.cl',
      rcv: 'https://ws1.sii.cl',
    },
    rcvPath: SII_PATHS.rcvProduccion,
    cafIdk: 300,
  },
  // The simulator signs its CAFs with its own fake key, IDK 999 999 100 by default (packages/sii-sim
  // SIM_DEFAULT_IDK; `GET /sim/trust` gives the key a running simulator really uses).
  sim: {
    urls: {
      dtews: SII_SIM_DEFAULT_URL,
      upload: SII_SIM_DEFAULT_URL,
      boletaApi: SII_SIM_DEFAULT_URL,
      boletaEnvio: SII_SIM_DEFAULT_URL,
      rcv: SII_SIM_DEFAULT_URL,
    },
    rcvPath: SII_PATHS.rcvCertificacion,
    cafIdk: SIM_DEFAULT_CAF_IDK,
  },
};

/** Full URLs of every endpoint of one environment. */
export interface SiiEndpoints {
  crSeed: string;
  getTokenFromSeed: string;
  queryEstUp: string;
  queryEstDte: string;
  dteUpload: string;
  boletaSemilla: string;
  boletaToken: string;
  boletaEnvio: string;
  /** `…/boleta.electronica.envio/{rut}-{dv}-{trackid}`. */
  boletaEnvioEstado(rutDigits: string, dv: string, trackId: string): string;
  /** `…/boleta.electronica/{rut}-{dv}-{tipo}-{folio}/estado` (query string added by the caller). */
  boletaEstado(rutDigits: string, dv: string, tipo: number, folio: number): string;
  rcv: string;
}

export interface ResolvedEnvironment {
  name: SiiEnvironmentName;
  /** IDK of the SII key that signs this environment's CAFs (100 certificación, 300 producción). */
  cafIdk: number;
  baseUrls: Readonly<SiiBaseUrls>;
  endpoints: SiiEndpoints;
}

/** `siiUrl` option: one base URL for every service (a proxy, the simulator) or per-service overrides. */
export type SiiUrlOverride = string | Partial<SiiBaseUrls>;

/**
 * The endpoints of an environment, with base URLs optionally overridden.
 *
 * @example
 * ```ts
 * resolveEnvironment('certificacion').endpoints.crSeed; // https://maullin.sii.cl/DTEWS/CrSeed.jws
 * resolveEnvironment('sim', 'http://127.0.0.1:9999').endpoints.dteUpload; // http://127.0.0.1:9999/cgi_dte/UPL/DTEUpload
 * ```
 */
export function resolveEnvironment(name: SiiEnvironmentName, siiUrl?: SiiUrlOverride): ResolvedEnvironment {
  const def = DEFINITIONS[name];
  if (!def) throw new TimbreError('ERR_INPUT_INVALID', `unknown SII environment "${String(name)}"`, { field: 'environment', actual: name });
  const urls: SiiBaseUrls = { ...def.urls };
  if (typeof siiUrl === 'string') {
    const base = normalizeBase(siiUrl, 'siiUrl');
    for (const k of Object.keys(urls) as Array<keyof SiiBaseUrls>) urls[k] = base;
  } else if (siiUrl) {
    for (const k of Object.keys(siiUrl) as Array<keyof SiiBaseUrls>) {
      const v = siiUrl[k];
      if (v === undefined) continue;
      if (!(k in urls)) throw new TimbreError('ERR_INPUT_INVALID', `unknown siiUrl key "${k}"`, { field: `siiUrl.${k}` });
      urls[k] = normalizeBase(v, `siiUrl.${k}`);
    }
  }
  const seg = (s: string) => encodeURIComponent(s);
  const endpoints: SiiEndpoints = {
    crSeed: urls.dtews + SII_PATHS.crSeed,
    getTokenFromSeed: urls.dtews + SII_PATHS.getTokenFromSeed,
    queryEstUp: urls.dtews + SII_PATHS.queryEstUp,
    queryEstDte: urls.dtews + SII_PATHS.queryEstDte,
    dteUpload: urls.upload + SII_PATHS.dteUpload,
    boletaSemilla: urls.boletaApi + SII_PATHS.boletaSemilla,
    boletaToken: urls.boletaApi + SII_PATHS.boletaToken,
    boletaEnvio: urls.boletaEnvio + SII_PATHS.boletaEnvio,
    boletaEnvioEstado: (rut, dv, trackId) => `${urls.boletaApi}${SII_PATHS.boletaEnvioEstado}/${seg(rut)}-${seg(dv)}-${seg(trackId)}`,
    boletaEstado: (rut, dv, tipo, folio) => `${urls.boletaApi}${SII_PATHS.boletaEstadoPrefix}/${seg(rut)}-${seg(dv)}-${tipo}-${folio}/estado`,
    rcv: urls.rcv + def.rcvPath,
  };
  return { name, cafIdk: def.cafIdk, baseUrls: Object.freeze(urls), endpoints };
}

function normalizeBase(url: string, field: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new TimbreError('ERR_INPUT_INVALID', `${field}: "${url}" is not a URL`, { field, actual: url, cause });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TimbreError('ERR_INPUT_INVALID', `${field}: only http(s) URLs are supported`, { field, actual: url });
  }
  if (parsed.search || parsed.hash) throw new TimbreError('ERR_INPUT_INVALID', `${field}: a base URL has no query or fragment`, { field, actual: url });
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** CAF IDK of an environment (100 certificación, 300 producción; the simulator's default fake key for `sim`). */
export const cafIdkOf = (name: SiiEnvironmentName): number => resolveEnvironment(name).cafIdk;
