/**
 * Test client for the simulator, hand-written on purpose (no dependency on packages/sii): raw HTTP
 * with node:http (so Content-Length vs chunked is under control), SOAP envelopes as strings, a
 * minimal RFC 1867 multipart body, and documents built with @timbre/dte.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  buildEnvelope,
  emitDte,
  generateFixtures,
  inputToDte,
  loadPkcs12,
  parseCaf,
  parseDteInput,
  signXml,
  toBytes,
  type Caf,
  type Caratula,
  type Certificado,
  type EmittedDte,
} from '@timbre/dte';

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const schemasDir = process.env.TIMBRE_SII_SCHEMAS ?? path.resolve(repoRoot, '../shared/sii/schemas');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON read back in tests
export type Loose = any;

export const example = (tipo: number): Loose =>
  JSON.parse(readFileSync(path.join(repoRoot, 'examples/dte', `${tipo}.json`), 'utf8'));

/** Test day: 10:00 in Santiago; documents are dated that day and stamped at 10:15. */
export const T0 = '2026-11-27T13:00:00Z';
export const FCH = '2026-11-27';
export const STAMP = '2026-11-27T10:15:00';
export const EMISOR = '76086428-5';
export const RECEPTOR = '77894717-K';
export const PROG_UA = 'Mozilla/4.0 (compatible; PROG 1.0; Windows NT 5.0; YComp 5.0.2.4)';

let signerCache: { cert: Certificado; other: Certificado; fixtureCafs: Caf[]; fixtureSii: { idk: number; pem: string } } | undefined;
/** The signer certificate (RUT 12345678-5), another signer (11111111-1) and fixture CAFs signed by a key the simulator does not trust. */
export function signers(): { cert: Certificado; other: Certificado; fixtureCafs: Caf[]; fixtureSii: { idk: number; pem: string } } {
  if (!signerCache) {
    const now = new Date(T0);
    const fx = generateFixtures({ now, tipos: [33], hasta: 5000 });
    const fx2 = generateFixtures({ now, tipos: [33], signerRut: '11111111-1' });
    signerCache = {
      cert: loadPkcs12(fx.p12, fx.p12Password, { now }),
      other: loadPkcs12(fx2.p12, fx2.p12Password, { now }),
      fixtureCafs: fx.cafs.map((c) => parseCaf(c.xml)),
      fixtureSii: { idk: fx.sii.idk, pem: fx.sii.publicKeyPem },
    };
  }
  return signerCache;
}

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export function request(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: Buffer | string; chunked?: boolean; timeoutMs?: number } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body, 'utf8');
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (body && !o.chunked) headers['content-length'] = String(body.length);
    const req = http.request(url, { method: o.method ?? (body ? 'POST' : 'GET'), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString(/iso-8859-1/i.test(String(res.headers['content-type'])) ? 'latin1' : 'utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.timeoutMs) req.setTimeout(o.timeoutMs, () => req.destroy(new Error('client timeout')));
    if (body) {
      if (o.chunked) {
        // Two writes without a Content-Length: Node sends Transfer-Encoding: chunked.
        req.write(body.subarray(0, 100));
        req.end(body.subarray(100));
      } else req.end(body);
    } else req.end();
  });
}

// ---- SOAP

export function soapEnvelope(op: string, ns: string, params: Array<[string, string]>): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body><m:${op} xmlns:m="${ns}">` +
    params.map(([k, v]) => `<${k} xsi:type="xsd:string">${esc(v)}</${k}>`).join('') +
    `</m:${op}></soapenv:Body></soapenv:Envelope>`
  );
}

const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** POST an Axis call; returns the HTTP answer and the unescaped `…Return` string. */
export async function axis(base: string, service: string, op: string, params: Array<[string, string]>): Promise<{ res: Res; inner: string }> {
  const res = await request(`${base}/DTEWS/${service}`, {
    body: soapEnvelope(op, `https://maullin.sii.cl/DTEWS/${service}`, params),
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
  });
  const m = new RegExp(`<ns1:${op}Return[^>]*>([\\s\\S]*?)</ns1:${op}Return>`).exec(res.text);
  return { res, inner: m ? unescape(m[1] as string) : '' };
}

/** Text of the first `<tag>` (or all, with `all`). */
export const tag = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
export const tags = (xml: string, name: string): string[] => [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1] as string);

export const signSeed = (seed: string, cert: Certificado): string =>
  signXml(`<getToken><item><Semilla>${seed}</Semilla></item></getToken>`, { referenceId: '', key: cert.signingKey });

export async function getSeed(base: string): Promise<string> {
  const { inner } = await axis(base, 'CrSeed.jws', 'getSeed', []);
  const seed = tag(inner, 'SEMILLA');
  if (!seed) throw new Error(`no seed in ${inner}`);
  return seed;
}

export async function getToken(base: string, cert: Certificado): Promise<string> {
  const seed = await getSeed(base);
  const { inner } = await axis(base, 'GetTokenFromSeed.jws', 'getToken', [['pszXml', signSeed(seed, cert)]]);
  const token = tag(inner, 'TOKEN');
  if (!token) throw new Error(`no token: ${inner}`);
  return token;
}

export async function estUp(base: string, token: string, rutCompany: string, trackId: string): Promise<string> {
  const [rut, dv] = rutCompany.split('-') as [string, string];
  return (await axis(base, 'QueryEstUp.jws', 'getEstUp', [['RutCompania', rut], ['DvCompania', dv], ['TrackId', trackId], ['Token', token]])).inner;
}

export async function estDte(
  base: string,
  token: string,
  q: { rutEmisor: string; rutReceptor: string; tipo: number; folio: number; fecha: string; monto: number; consultante?: string },
): Promise<string> {
  const [re, de] = q.rutEmisor.split('-') as [string, string];
  const [rr, dr] = q.rutReceptor.split('-') as [string, string];
  const [rc, dc] = (q.consultante ?? '12345678-5').split('-') as [string, string];
  return (
    await axis(base, 'QueryEstDte.jws', 'getEstDte', [
      ['RutConsultante', rc],
      ['DvConsultante', dc],
      ['RutCompania', re],
      ['DvCompania', de],
      ['RutReceptor', rr],
      ['DvReceptor', dr],
      ['TipoDte', String(q.tipo)],
      ['FolioDte', String(q.folio)],
      ['FechaEmisionDte', q.fecha],
      ['MontoDte', String(q.monto)],
      ['Token', token],
    ])
  ).inner;
}

// ---- CAFs and documents

export async function simCaf(base: string, body: Record<string, unknown>): Promise<Caf> {
  const res = await request(`${base}/sim/caf`, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (res.status !== 201) throw new Error(`/sim/caf ${res.status}: ${res.text}`);
  return parseCaf(res.body);
}

export function emit(json: Record<string, unknown>, folio: number, cafs: Caf[], o: { fchEmis?: string; now?: string; cert?: Certificado } = {}): EmittedDte {
  return emitDte(inputToDte(parseDteInput(json), { folio, fchEmis: o.fchEmis ?? FCH }), { cafs, signer: o.cert ?? signers().cert, now: o.now ?? STAMP });
}

export function envelope(dtes: Array<EmittedDte | { xml: string; tipoDte: number }>, o: { caratula?: Partial<Caratula>; cert?: Certificado } = {}): Buffer {
  const cert = o.cert ?? signers().cert;
  const caratula: Caratula = { rutEmisor: EMISOR, rutEnvia: cert.rut, rutReceptor: '60803000-K', fchResol: '2026-11-01', nroResol: 0, tmstFirmaEnv: STAMP, ...o.caratula };
  const env = buildEnvelope({
    dtes: dtes.map((d) => ('key' in d ? { xml: d.xml, tipoDte: d.key.tipoDte, canonical: d.canonical } : d)),
    caratula,
    key: cert.signingKey,
  });
  return toBytes(env.xml);
}

// ---- multipart upload

export function multipart(fields: Array<[string, string]>, file?: { name: string; data: Buffer; type?: string }): { body: Buffer; contentType: string } {
  const boundary = `----TimbreSimTest${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [k, v] of fields) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`, 'latin1'));
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="archivo"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'text/xml'}\r\n\r\n`, 'latin1'));
    parts.push(file.data, Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface UploadResult {
  res: Res;
  status?: number;
  trackId?: string;
  errors: string[];
}

export async function upload(
  base: string,
  token: string | undefined,
  file: Buffer,
  o: { rutSender?: string; rutCompany?: string; ua?: string; chunked?: boolean; name?: string; path?: string } = {},
): Promise<UploadResult> {
  const [rs, ds] = (o.rutSender ?? signers().cert.rut).split('-') as [string, string];
  const [rc, dc] = (o.rutCompany ?? EMISOR).split('-') as [string, string];
  const mp = multipart(
    [
      ['rutSender', rs],
      ['dvSender', ds],
      ['rutCompany', rc],
      ['dvCompany', dc],
    ],
    { name: o.name ?? 'envio.xml', data: file },
  );
  const headers: Record<string, string> = { 'content-type': mp.contentType, 'user-agent': o.ua ?? PROG_UA };
  if (token) headers.cookie = `TOKEN=${token}`;
  const res = await request(`${base}${o.path ?? '/cgi_dte/UPL/DTEUpload'}`, { body: mp.body, headers, ...(o.chunked ? { chunked: true } : {}) });
  const status = tag(res.text, 'STATUS');
  const trackId = tag(res.text, 'TRACKID');
  return { res, ...(status !== undefined ? { status: Number(status) } : {}), ...(trackId ? { trackId } : {}), errors: tags(res.text, 'ERROR') };
}

export async function envioDetail(base: string, trackId: string): Promise<Loose> {
  const res = await request(`${base}/sim/envios/${trackId}`);
  return JSON.parse(res.text);
}

export const json = async (base: string, p: string, body?: unknown, method?: string): Promise<{ status: number; data: Loose }> => {
  const res = await request(`${base}${p}`, {
    ...(method ? { method } : {}),
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  return { status: res.status, data: res.text ? JSON.parse(res.text) : undefined };
};
