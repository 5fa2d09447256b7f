/**
 * The client end to end against a small fake SII on 127.0.0.1: the seed/token flow (the fake checks
 * the getToken signature and the seed it issued), the token cache and its TTL, renewal when a service
 * refuses the token (STATUS 5, ESTADO 001, HTTP 401), boleta REST, RCV.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { child, parseXml, textOf, verifySignature, type XmlElement } from '@timbre/dte';
import { createSiiClient, TokenCache, tokenCacheKey, type SiiClient, type SiiClientOptions } from '../src/index.js';
import { estUpAnswer, fakeClock, recepcionDte, seedAnswer, send, startServer, testCertificate, tokenAnswer, type FakeClock, type Recorded, type TestServer } from './helpers.js';

const ENVELOPE = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<EnvioDTE version="1.0"/>', 'latin1');
const EPR = estUpAnswer('<TRACKID>0251552460</TRACKID><ESTADO>EPR</ESTADO><GLOSA>Envio Procesado</GLOSA>');

interface FakeSii {
  server: TestServer;
  tokensIssued: string[];
  seedsIssued: string[];
  /** Programmable answers per path; default answers otherwise. */
  /** `null`: read the request, then destroy the connection (answer lost). */
  upload: (req: Recorded, n: number) => string | null;
  estUp: (req: Recorded, n: number) => string;
  tokenEstado: (n: number) => string;
}

let fake: FakeSii | undefined;
afterEach(async () => {
  await fake?.server.close();
  fake = undefined;
});

/** The signed seed inside a GetTokenFromSeed request, verified; returns its Semilla. */
function verifiedSeed(soapBody: Buffer): string {
  const env = parseXml(soapBody).root;
  const pszXml = findLocal(env, 'pszXml');
  if (!pszXml) throw new Error('no pszXml');
  return verifiedSeedFromDocument(textOf(pszXml));
}

function verifiedSeedFromDocument(xml: string): string {
  const doc = parseXml(xml).root;
  if (doc.local !== 'getToken') throw new Error(`not a getToken document: ${doc.local}`);
  const sig = child(doc, 'Signature');
  if (!sig || !verifySignature(sig).valid) throw new Error('getToken signature does not verify');
  const semilla = findLocal(doc, 'Semilla');
  if (!semilla) throw new Error('no Semilla');
  return textOf(semilla);
}

function findLocal(el: XmlElement, local: string): XmlElement | undefined {
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    if (c.local === local) return c;
    const d = findLocal(c, local);
    if (d) return d;
  }
  return undefined;
}

async function startFakeSii(): Promise<FakeSii> {
  const counters = new Map<string, number>();
  const f: FakeSii = {
    server: undefined as unknown as TestServer,
    tokensIssued: [],
    seedsIssued: [],
    upload: () => recepcionDte(0, '<TRACKID>0251552460</TRACKID>'),
    estUp: () => EPR,
    tokenEstado: () => '00',
  };
  f.server = await startServer((req, res, raw) => {
    const path = req.path.split('?')[0] ?? '';
    const n = (counters.get(path) ?? 0) + 1;
    counters.set(path, n);
    const issueSeed = () => {
      const seed = String(f.seedsIssued.length + 1).padStart(12, '0');
      f.seedsIssued.push(seed);
      return seed;
    };
    const issueToken = (prefix: string) => {
      const token = `${prefix}${f.tokensIssued.length + 1}`;
      f.tokensIssued.push(token);
      return token;
    };
    switch (path) {
      case '/DTEWS/CrSeed.jws':
        return send(res, 200, seedAnswer(issueSeed()));
      case '/DTEWS/GetTokenFromSeed.jws': {
        const seed = verifiedSeed(req.body);
        if (!f.seedsIssued.includes(seed)) return send(res, 200, tokenAnswer('', '08', 'NO Existe SEED'));
        const estado = f.tokenEstado(n);
        return send(res, 200, estado === '00' ? tokenAnswer(issueToken('TKN')) : tokenAnswer('', estado, 'TIME-OUT DEL SEED'));
      }
      case '/cgi_dte/UPL/DTEUpload': {
        const answer = f.upload(req, n);
        return answer === null ? raw.socket.destroy() : send(res, 200, answer);
      }
      case '/DTEWS/QueryEstUp.jws':
        return send(res, 200, f.estUp(req, n));
      case '/recursos/v1/boleta.electronica.semilla':
        return send(res, 200, `<?xml version="1.0" encoding="UTF-8"?><SII:RESPUESTA xmlns:SII="http://www.sii.cl/XMLSchema"><SII:RESP_BODY><SEMILLA>${issueSeed()}</SEMILLA></SII:RESP_BODY><SII:RESP_HDR><ESTADO>00</ESTADO></SII:RESP_HDR></SII:RESPUESTA>`, 'application/xml');
      case '/recursos/v1/boleta.electronica.token': {
        const seed = verifiedSeedFromDocument(req.body.toString('utf8'));
        if (!f.seedsIssued.includes(seed)) return send(res, 200, '<RESPUESTA><RESP_HDR><ESTADO>08</ESTADO></RESP_HDR></RESPUESTA>', 'application/xml');
        return send(res, 200, `<?xml version="1.0" encoding="UTF-8"?><SII:RESPUESTA xmlns:SII="http://www.sii.cl/XMLSchema"><SII:RESP_BODY><TOKEN>${issueToken('BOL')}</TOKEN></SII:RESP_BODY><SII:RESP_HDR><ESTADO>00</ESTADO><GLOSA>Token Creado</GLOSA></SII:RESP_HDR></SII:RESPUESTA>`, 'application/xml');
      }
      case '/recursos/v1/boleta.electronica.envio':
        if (!/PROG 1\.0/.test(String(req.headers['user-agent']))) return send(res, 401, 'NO ESTA AUTENTICADO', 'text/plain');
        if (req.headers.cookie === `TOKEN=${f.tokensIssued[0]}` && f.tokensIssued.length === 1) return send(res, 401, 'NO ESTA AUTENTICADO', 'text/plain');
        return send(res, 200, '{"rut_emisor":"76086428-5","rut_envia":"12345678-5","trackid":"0012345","fecha_recepcion":"2026-11-28 10:00:00","estado":"REC","file":"envio.xml"}', 'application/json');
      case '/recursos/v1/boleta.electronica.envio/76086428-5-0012345':
        return send(res, 200, '{"trackid":12345,"estado":"EPR","estadistica":[{"tipo":39,"informados":2,"aceptados":2,"rechazados":0,"reparos":0}],"detalle_rep_rech":[]}', 'application/json');
      case '/recursos/v1/boleta.electronica/76086428-5-39-17/estado':
        return send(res, 200, '{"codigo":"DOK","descripcion":"Documento Recibido por el SII. Datos Coinciden con los Registrados"}', 'application/json');
      case '/WSREGISTRORECLAMODTECERT/registroreclamodteservice':
        return send(
          res,
          200,
          '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:ingresarAceptacionReclamoDocResponse xmlns:ns2="http://ws.registroreclamodte.diii.sdi.sii.cl"><return><codResp>0</codResp><descResp>Acción Completada OK</descResp></return></ns2:ingresarAceptacionReclamoDocResponse></S:Body></S:Envelope>',
        );
      default:
        return send(res, 404, 'not found', 'text/plain');
    }
  });
  fake = f;
  return f;
}

function client(f: FakeSii, clock: FakeClock, extra: Partial<SiiClientOptions> = {}): SiiClient {
  return createSiiClient({ environment: 'sim', siiUrl: f.server.url, certificate: testCertificate(), clock, random: () => 0, timeoutMs: 2_000, ...extra });
}

describe('tokens', () => {
  it('seed → signed getToken (verified by the fake SII) → token, cached for the TTL', async () => {
    const f = await startFakeSii();
    const clock = fakeClock();
    const sii = client(f, clock, { tokenTtlMs: 60_000 });
    expect(await sii.getToken()).toBe('TKN1');
    expect(await sii.getToken()).toBe('TKN1');
    expect(f.server.hits('/DTEWS/CrSeed.jws')).toBe(1);
    clock.advance(59_999);
    expect(await sii.getToken()).toBe('TKN1');
    clock.advance(1);
    expect(await sii.getToken()).toBe('TKN2');
    expect(await sii.getToken({ forceRefresh: true })).toBe('TKN3');
    expect(f.server.hits('/DTEWS/CrSeed.jws')).toBe(3);
  });

  it('concurrent callers share one token request', async () => {
    const f = await startFakeSii();
    const sii = client(f, fakeClock());
    const tokens = await Promise.all([sii.getToken(), sii.getToken(), sii.getToken()]);
    expect(tokens).toEqual(['TKN1', 'TKN1', 'TKN1']);
    expect(f.server.hits('/DTEWS/GetTokenFromSeed.jws')).toBe(1);
  });

  it('ESTADO 08 (seed timed out) starts over once with a new seed; a second 08 is ERR_SII_AUTH_FAILED', async () => {
    const f = await startFakeSii();
    f.tokenEstado = (n) => (n === 1 ? '08' : '00');
    expect(await client(f, fakeClock()).getToken()).toBe('TKN1');
    expect(f.server.hits('/DTEWS/CrSeed.jws')).toBe(2);

    f.tokenEstado = () => '08';
    await expect(client(f, fakeClock()).getToken({ forceRefresh: true })).rejects.toMatchObject({ code: 'ERR_SII_AUTH_FAILED', siiCode: '08' });
  });

  it('the cache key separates environments, base URLs, certificates and token kinds', async () => {
    const f = await startFakeSii();
    const cert = testCertificate();
    const a = createSiiClient({ environment: 'sim', siiUrl: f.server.url, certificate: cert }).environment;
    const b = createSiiClient({ environment: 'sim', siiUrl: 'http://127.0.0.1:1', certificate: cert }).environment;
    expect(tokenCacheKey(a, cert, 'dtews')).not.toBe(tokenCacheKey(b, cert, 'dtews'));
    expect(tokenCacheKey(a, cert, 'dtews')).not.toBe(tokenCacheKey(a, cert, 'boleta'));
    expect(tokenCacheKey(a, cert, 'dtews')).toContain(f.server.url);
  });

  it('a shared TokenCache serves several clients', async () => {
    const f = await startFakeSii();
    const clock = fakeClock();
    const cache = new TokenCache({ clock });
    await client(f, clock, { tokenCache: cache }).getToken();
    await client(f, clock, { tokenCache: cache }).getToken();
    expect(f.server.hits('/DTEWS/CrSeed.jws')).toBe(1);
  });
});

describe('DTEUpload and QueryEstUp through the client', () => {
  it('uploads with the certificate holder as rutSender and the issuer as rutCompany', async () => {
    const f = await startFakeSii();
    const sii = client(f, fakeClock());
    const r = await sii.sendEnvelope(ENVELOPE, { rutEmisor: '76086428-5', fileName: 'EnvioDTE_76086428-5.xml' });
    expect(r).toMatchObject({ kind: 'received', trackId: '0251552460' });
    const upload = f.server.requests.find((q) => q.path === '/cgi_dte/UPL/DTEUpload')!;
    const text = upload.body.toString('latin1');
    const cert = testCertificate();
    const [digits, dv] = cert.rut.split('-');
    expect(text).toContain(`name="rutSender"\r\n\r\n${digits}\r\n`);
    expect(text).toContain(`name="dvSender"\r\n\r\n${dv}\r\n`);
    expect(text).toContain('name="rutCompany"\r\n\r\n76086428\r\n');
    expect(text).toContain('filename="EnvioDTE_76086428-5.xml"');
    expect(upload.headers.cookie).toBe('TOKEN=TKN1');
  });

  it('STATUS 5 (not authenticated): drops the token, gets a new one and uploads once more', async () => {
    const f = await startFakeSii();
    f.upload = (_req, n) => (n === 1 ? recepcionDte(5) : recepcionDte(0, '<TRACKID>0251552461</TRACKID>'));
    const sii = client(f, fakeClock());
    expect(await sii.sendEnvelope(ENVELOPE, { rutEmisor: '76086428-5' })).toMatchObject({ kind: 'received', trackId: '0251552461' });
    const cookies = f.server.requests.filter((q) => q.path === '/cgi_dte/UPL/DTEUpload').map((q) => q.headers.cookie);
    expect(cookies).toEqual(['TOKEN=TKN1', 'TOKEN=TKN2']);
  });

  it('STATUS 5 twice: ERR_SII_TOKEN_EXPIRED after exactly one renewal', async () => {
    const f = await startFakeSii();
    f.upload = () => recepcionDte(5);
    await expect(client(f, fakeClock()).sendEnvelope(ENVELOPE, { rutEmisor: '76086428-5' })).rejects.toMatchObject({ code: 'ERR_SII_TOKEN_EXPIRED', siiCode: '5' });
    expect(f.server.hits('/cgi_dte')).toBe(2);
    expect(f.tokensIssued).toHaveLength(2);
  });

  it('QueryEstUp ESTADO 001 (token inactive): renews and asks again; sends exactly the four parameters', async () => {
    const f = await startFakeSii();
    f.estUp = (_req, n) => (n === 1 ? estUpAnswer('<ESTADO>001</ESTADO><GLOSA>Cookie Inactivo</GLOSA>') : EPR);
    const sii = client(f, fakeClock());
    expect(await sii.getEstUp('0251552460', '76086428-5')).toMatchObject({ estado: 'EPR', outcome: 'accepted', trackId: '0251552460' });
    const queries = f.server.requests.filter((q) => q.path === '/DTEWS/QueryEstUp.jws');
    expect(queries).toHaveLength(2);
    const params = queries.map((q) => {
      const op = findLocal(parseXml(q.body).root, 'getEstUp')!;
      return op.children.filter((c): c is XmlElement => c.type === 'element').map((c) => [c.local, textOf(c)]);
    });
    expect(params[0]).toEqual([
      ['RutCompania', '76086428'],
      ['DvCompania', '5'],
      ['TrackId', '0251552460'],
      ['Token', 'TKN1'],
    ]);
    expect(params[1]?.[3]).toEqual(['Token', 'TKN2']);
    expect(queries[0]?.headers.soapaction).toBe('""');
  });

  it('the answer of an upload lost: "unknown", no second upload, no token renewal', async () => {
    const f = await startFakeSii();
    f.upload = () => null; // the fake reads the upload, then drops the connection
    const r = await client(f, fakeClock()).sendEnvelope(ENVELOPE, { rutEmisor: '76086428-5' });
    expect(r).toMatchObject({ kind: 'unknown', reason: 'connection_lost', attempts: 1 });
    expect(f.server.hits('/cgi_dte')).toBe(1);
    expect(f.tokensIssued).toHaveLength(1);
  });
});

describe('boleta REST and RCV through the client', () => {
  it('boleta token (its own), envío with the PROG 1.0 agent, 401 renews the token once, estados', async () => {
    const f = await startFakeSii();
    const sii = client(f, fakeClock());
    const r = await sii.boleta.sendEnvelope(ENVELOPE, { rutEmisor: '76086428-5' });
    expect(r).toEqual({ kind: 'received', trackId: '0012345', timestamp: '2026-11-28 10:00:00', estado: 'REC', attempts: 1 });
    const envios = f.server.requests.filter((q) => q.path === '/recursos/v1/boleta.electronica.envio');
    expect(envios.map((q) => q.headers.cookie)).toEqual(['TOKEN=BOL1', 'TOKEN=BOL2']);
    expect(envios[0]?.headers.accept).toBe('application/json');
    expect(envios[0]?.headers['content-length']).toBe(String(envios[0]?.body.length));
    expect(f.server.hits('/DTEWS')).toBe(0); // the boleta token is not the DTEWS one

    expect(await sii.boleta.getEstadoEnvio('0012345', '76086428-5')).toMatchObject({ estado: 'EPR', outcome: 'accepted', final: true });
    expect(await sii.boleta.getEstadoBoleta({ rutEmisor: '76086428-5', tipoDte: 39, folio: 17, rutReceptor: '66666666-6', montoTotal: 1190, fechaEmision: '2026-11-28' })).toMatchObject({
      estado: 'DOK',
      recibido: true,
    });
    const estado = f.server.requests.find((q) => q.path.startsWith('/recursos/v1/boleta.electronica/'))!;
    expect(estado.path).toBe('/recursos/v1/boleta.electronica/76086428-5-39-17/estado?rut_receptor=66666666&dv_receptor=6&monto=1190&fechaEmision=28-11-2026');
  });

  it('a User-Agent the SII refuses: 401 twice → ERR_SII_TOKEN_EXPIRED naming the agent as a cause', async () => {
    const f = await startFakeSii();
    const sii = client(f, fakeClock(), { boletaUserAgent: 'Mozilla/5.0 Chrome/120' });
    await expect(sii.boleta.sendEnvelope(ENVELOPE, { rutEmisor: '76086428-5' })).rejects.toMatchObject({ code: 'ERR_SII_TOKEN_EXPIRED', httpStatus: 401, message: expect.stringMatching(/User-Agent/) });
  });

  it('RCV ingresarAceptacionReclamoDoc with the DTEWS token as cookie, on the certificación path', async () => {
    const f = await startFakeSii();
    const sii = client(f, fakeClock());
    expect(await sii.rcv.ingresarAceptacionReclamoDoc({ rutEmisor: '96874030-K', tipoDoc: 33, folio: 52298, accionDoc: 'ACD' })).toEqual({ codResp: 0, descResp: 'Acción Completada OK' });
    const q = f.server.requests.find((r) => r.path.startsWith('/WSREGISTRORECLAMODTE'))!;
    expect(q.headers.cookie).toBe('TOKEN=TKN1');
    expect(q.body.toString('utf8')).toContain('<accionDoc>ACD</accionDoc>');
  });
});
