/**
 * Test helpers: a small local HTTP server (node:http, 127.0.0.1, port 0) whose behaviour each test
 * programs, a fake clock, and SII answers written the way the SII documents them (independently of
 * the client's own builders).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateFixtures, loadPkcs12, type Certificado } from '@timbre/dte';

export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Handler = (req: Recorded, res: http.ServerResponse, raw: http.IncomingMessage) => void | Promise<void>;

export interface TestServer {
  url: string;
  requests: Recorded[];
  hits(pathPrefix: string): number;
  close(): Promise<void>;
}

/** Start a server; `handler` sees every request after its body was read in full. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on('data', (c: Buffer) => chunks.push(c));
    raw.on('end', () => {
      const rec: Recorded = { method: raw.method ?? '', path: raw.url ?? '', headers: raw.headers, body: Buffer.concat(chunks) };
      requests.push(rec);
      Promise.resolve(handler(rec, res, raw)).catch((e) => {
        res.statusCode = 599;
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    hits: (prefix) => requests.filter((r) => r.path.startsWith(prefix)).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nobody listens on (bound then released). */
export async function deadUrl(): Promise<string> {
  const s = await startServer(() => undefined);
  const url = s.url;
  await s.close();
  return url;
}

export function send(res: http.ServerResponse, status: number, body: string | Buffer, contentType = 'text/xml; charset=UTF-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, ...headers });
  res.end(body);
}

export interface FakeClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  advance(ms: number): void;
  sleeps: number[];
}

/** Time that only moves when told to (sleeps advance it at once and are recorded). */
export function fakeClock(start = 1_700_000_000_000): FakeClock {
  let t = start;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
    advance: (ms) => {
      t += ms;
    },
    sleeps,
  };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * An Axis RPC answer as the DTEWS services send it: `<ns1:{op}Response>` with `<{op}Return
 * xsi:type="xsd:string">` holding the escaped inner XML.
 */
export function soapAnswer(op: string, inner: string, opts: { service?: string; prefixReturn?: boolean; cdata?: boolean } = {}): string {
  const service = opts.service ?? 'https://maullin.sii.cl/DTEWS/CrSeed.jws';
  const ret = opts.prefixReturn ? `ns1:${op}Return` : `${op}Return`;
  const content = opts.cdata ? `<![CDATA[${inner}]]>` : esc(inner);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n' +
    ' <soapenv:Body>\n' +
    `  <ns1:${op}Response soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns1="${service}">\n` +
    `   <${ret} xsi:type="xsd:string">${content}</${ret}>\n` +
    `  </ns1:${op}Response>\n` +
    ' </soapenv:Body>\n' +
    '</soapenv:Envelope>'
  );
}

export function soapFault(faultstring: string, faultcode = 'soapenv:Server.userException'): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
    `<soapenv:Fault><faultcode>${faultcode}</faultcode><faultstring>${esc(faultstring)}</faultstring></soapenv:Fault>` +
    '</soapenv:Body></soapenv:Envelope>'
  );
}

export const respuesta = (parts: string) => `<?xml version="1.0" encoding="UTF-8"?><SII:RESPUESTA xmlns:SII="http://www.sii.cl/XMLSchema">${parts}</SII:RESPUESTA>`;

export const seedAnswer = (seed: string, estado = '00') =>
  soapAnswer('getSeed', respuesta(`<SII:RESP_BODY><SEMILLA>${seed}</SEMILLA></SII:RESP_BODY><SII:RESP_HDR><ESTADO>${estado}</ESTADO></SII:RESP_HDR>`));

export const tokenAnswer = (token: string, estado = '00', glosa = 'Token Creado') =>
  soapAnswer(
    'getToken',
    respuesta(`<SII:RESP_BODY><TOKEN>${token}</TOKEN></SII:RESP_BODY><SII:RESP_HDR><ESTADO>${estado}</ESTADO><GLOSA>${glosa}</GLOSA></SII:RESP_HDR>`),
    { service: 'https://maullin.sii.cl/DTEWS/GetTokenFromSeed.jws' },
  );

export const estUpAnswer = (hdr: string, body = '') =>
  soapAnswer('getEstUp', respuesta(`${body ? `<SII:RESP_BODY>${body}</SII:RESP_BODY>` : ''}<SII:RESP_HDR>${hdr}</SII:RESP_HDR>`), {
    service: 'https://maullin.sii.cl/DTEWS/QueryEstUp.jws',
    prefixReturn: true,
  });

export const recepcionDte = (status: number, extra = '') =>
  `<?xml version="1.0"?>\n<RECEPCIONDTE>\n <RUTSENDER>12345678-5</RUTSENDER>\n <RUTCOMPANY>76086428-5</RUTCOMPANY>\n <FILE>envio.xml</FILE>\n` +
  ` <TIMESTAMP>2026-11-28 10:15:02</TIMESTAMP>\n <STATUS>${status}</STATUS>\n${extra}\n</RECEPCIONDTE>`;

export const MAINTENANCE_PAGE =
  '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<html><head><title>SII - Servicio en mantención</title></head>' +
  '<body><h1>Estimado contribuyente: el servicio se encuentra en mantención.</h1></body></html>';

let cached: Certificado | undefined;
/** A test certificate (fixtures of @timbre/dte: NOT valid for the real SII). */
export function testCertificate(): Certificado {
  if (!cached) {
    const fx = generateFixtures({ tipos: [33] });
    cached = loadPkcs12(fx.p12, fx.p12Password);
  }
  return cached;
}
