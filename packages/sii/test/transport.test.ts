/**
 * The transport against a local HTTP server that misbehaves on purpose: timeouts, 5xx then success,
 * HTML maintenance pages, connections destroyed after the request was read (an upload's answer lost:
 * never re-sent), connection refused, rate limiting, the circuit breaker opening and recovering.
 * Sleeps go through a fake clock (recorded, instant); per-attempt timeouts are real and short.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  queryEstUp,
  resolveEnvironment,
  SiiError,
  SiiTransport,
  uploadEnvelope,
  type ResolvedEnvironment,
  type TransportEvent,
  type TransportOptions,
} from '../src/index.js';
import { deadUrl, estUpAnswer, fakeClock, MAINTENANCE_PAGE, recepcionDte, send, soapFault, startServer, type FakeClock, type Handler, type TestServer } from './helpers.js';

const EPR = estUpAnswer('<TRACKID>0251552460</TRACKID><ESTADO>EPR</ESTADO><GLOSA>Envio Procesado</GLOSA>', '<TIPO_DOCTO>33</TIPO_DOCTO><INFORMADOS>1</INFORMADOS><ACEPTADOS>1</ACEPTADOS><RECHAZADOS>0</RECHAZADOS><REPAROS>0</REPAROS>');
const RECEIVED = recepcionDte(0, ' <TRACKID>0251552460</TRACKID>');
const ENVELOPE = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<EnvioDTE version="1.0">DISEÑO</EnvioDTE>', 'latin1');

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Setup {
  server: TestServer;
  env: ResolvedEnvironment;
  transport: SiiTransport;
  clock: FakeClock;
  events: TransportEvent[];
}

async function setup(handler: Handler, options: TransportOptions = {}): Promise<Setup> {
  server = await startServer(handler);
  const clock = fakeClock();
  const events: TransportEvent[] = [];
  const transport = new SiiTransport({ clock, random: () => 0, timeoutMs: 300, uploadTimeoutMs: 300, baseDelayMs: 1_000, onEvent: (e) => events.push(e), ...options });
  return { server, env: resolveEnvironment('sim', server.url), transport, clock, events };
}

const estUp = (s: Setup) => queryEstUp(s.transport, s.env, { rutCompania: '76086428-5', trackId: '0251552460', token: 'TKN' });
const upload = (s: Setup) => uploadEnvelope(s.transport, s.env, 'TKN', { xml: ENVELOPE, rutSender: '12345678-5', rutCompany: '76086428-5' });

async function rejection(p: Promise<unknown>): Promise<SiiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SiiError);
    return e as SiiError;
  }
  throw new Error('expected a SiiError');
}

describe('retries only transient failures of queries', () => {
  it('5xx twice, then the answer: 3 attempts, exponential backoff (jitter from the injected random)', async () => {
    let n = 0;
    const s = await setup((_req, res) => (++n <= 2 ? send(res, 503, 'Service Unavailable', 'text/plain') : send(res, 200, EPR)));
    const r = await estUp(s);
    expect(r).toMatchObject({ estado: 'EPR', outcome: 'accepted', trackId: '0251552460' });
    expect(s.server.hits('/DTEWS/QueryEstUp.jws')).toBe(3);
    // random() = 0 → half of base·2^(n−1)
    expect(s.clock.sleeps).toEqual([500, 1_000]);
    expect(s.events.filter((e) => e.type === 'retry').map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2]);
  });

  it('jitter stays within [0.5, 1) of the exponential delay and is capped by maxDelayMs', async () => {
    const s = await setup((_req, res) => send(res, 502, 'Bad Gateway', 'text/plain'), { random: () => 0.999, maxAttempts: 5, maxDelayMs: 3_000 });
    const e = await rejection(estUp(s));
    expect(e.code).toBe('ERR_SII_UNAVAILABLE');
    expect(e.attempts).toBe(5);
    expect(e.httpStatus).toBe(502);
    expect(s.clock.sleeps).toEqual([999, 1_999, 2_998, 2_998]);
  });

  it('a timeout every time: ERR_SII_TIMEOUT after maxAttempts, each attempt sent', async () => {
    const s = await setup(() => undefined /* never answers */, { maxAttempts: 3, timeoutMs: 150 });
    const e = await rejection(estUp(s));
    expect(e.code).toBe('ERR_SII_TIMEOUT');
    expect(e.attempts).toBe(3);
    expect(e.outcomeUnknown).toBe(false);
    expect(s.server.hits('/DTEWS/QueryEstUp.jws')).toBe(3);
  });

  it('an HTML maintenance page with HTTP 200 is retried; the next XML answer is used', async () => {
    let n = 0;
    const s = await setup((_req, res) => (++n === 1 ? send(res, 200, MAINTENANCE_PAGE, 'text/html') : send(res, 200, EPR)));
    await expect(estUp(s)).resolves.toMatchObject({ estado: 'EPR' });
    expect(s.server.hits('/DTEWS')).toBe(2);
  });

  it('plain "Error 500" text with HTTP 200 is transient too; when it persists: ERR_SII_UNAVAILABLE with the attempts', async () => {
    const s = await setup((_req, res) => send(res, 200, 'Error 500', 'text/plain'), { maxAttempts: 2 });
    const e = await rejection(estUp(s));
    expect([e.code, e.attempts]).toEqual(['ERR_SII_UNAVAILABLE', 2]);
  });

  it('the connection destroyed after the request was read: a query IS retried', async () => {
    let n = 0;
    const s = await setup((_req, res, raw) => (++n === 1 ? raw.socket.destroy() : send(res, 200, EPR)));
    await expect(estUp(s)).resolves.toMatchObject({ estado: 'EPR' });
    expect(s.server.hits('/DTEWS')).toBe(2);
  });

  it('a definite answer is never retried: an SII ESTADO, a SOAP fault in HTTP 500, a 404', async () => {
    const s1 = await setup((_req, res) => send(res, 200, estUpAnswer('<ESTADO>RSC</ESTADO><GLOSA>Rechazado por Error en Schema</GLOSA>')));
    await expect(estUp(s1)).resolves.toMatchObject({ estado: 'RSC', outcome: 'rejected', final: true });
    expect(s1.server.hits('/DTEWS')).toBe(1);
    await s1.server.close();

    const s2 = await setup((_req, res) => send(res, 500, soapFault('No such operation getEstUp')));
    const fault = await rejection(estUp(s2));
    expect([fault.code, fault.glosa, fault.attempts]).toEqual(['ERR_SII_PROTOCOL', 'No such operation getEstUp', 1]);
    expect(s2.server.hits('/DTEWS')).toBe(1);
    await s2.server.close();

    const s3 = await setup((_req, res) => send(res, 404, '<html><body>Not Found</body></html>', 'text/html'));
    const nf = await rejection(estUp(s3));
    expect([nf.code, nf.httpStatus]).toEqual(['ERR_SII_PROTOCOL', 404]);
    expect(s3.server.hits('/DTEWS')).toBe(1);
  });

  it('429 honours Retry-After (capped by maxDelayMs)', async () => {
    let n = 0;
    const s = await setup((_req, res) => (++n === 1 ? send(res, 429, 'slow down', 'text/plain', { 'Retry-After': '7' }) : send(res, 200, EPR)));
    await estUp(s);
    expect(s.clock.sleeps).toEqual([7_000]);
  });

  it('the retry budget stops retrying early', async () => {
    const s = await setup((_req, res) => send(res, 503, 'down', 'text/plain'), { maxAttempts: 10, retryBudgetMs: 2_000 });
    const e = await rejection(estUp(s));
    // delays 500, 1000 fit in 2 000 ms; the next (2 000) would not
    expect(e.attempts).toBe(3);
    expect(s.clock.sleeps).toEqual([500, 1_000]);
  });

  it('an answer larger than maxResponseBytes is refused, not retried', async () => {
    const s = await setup((_req, res) => send(res, 200, `<x>${'a'.repeat(5_000)}</x>`), { maxResponseBytes: 1_000 });
    const e = await rejection(estUp(s));
    expect([e.code, e.attempts]).toEqual(['ERR_SII_PROTOCOL', 1]);
    expect(s.server.hits('/DTEWS')).toBe(1);
  });
});

describe('uploads: a lost answer is never re-sent', () => {
  it('sends one non-chunked multipart body with Content-Length, Cookie TOKEN and the PROG 1.0 User-Agent', async () => {
    const s = await setup((_req, res) => send(res, 200, RECEIVED));
    await expect(upload(s)).resolves.toEqual({ kind: 'received', trackId: '0251552460', timestamp: '2026-11-28 10:15:02', attempts: 1 });
    const req = s.server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/cgi_dte/UPL/DTEUpload');
    expect(req.headers['transfer-encoding']).toBeUndefined();
    expect(req.headers['content-length']).toBe(String(req.body.length));
    expect(req.headers.cookie).toBe('TOKEN=TKN');
    expect(req.headers['user-agent']).toBe('Mozilla/4.0 (compatible; PROG 1.0; Windows NT 5.0; YComp 5.0.2.4)');
    const boundary = /boundary=(.+)$/.exec(String(req.headers['content-type']))?.[1];
    expect(boundary).toBeTruthy();
    const names = [...req.body.toString('latin1').matchAll(/; name="([^"]+)"/g)].map((m) => m[1]);
    expect(names).toEqual(['rutSender', 'dvSender', 'rutCompany', 'dvCompany', 'archivo']);
    expect(req.body.includes(ENVELOPE)).toBe(true); // Latin-1 bytes untouched
  });

  it('connection destroyed after the server read the upload: kind "unknown", exactly one request', async () => {
    const s = await setup((_req, _res, raw) => raw.socket.destroy());
    const r = await upload(s);
    expect(r.kind).toBe('unknown');
    if (r.kind !== 'unknown') return;
    expect(r.reason).toBe('connection_lost');
    expect(r.attempts).toBe(1);
    expect(r.error.outcomeUnknown).toBe(true);
    expect(s.server.hits('/cgi_dte')).toBe(1);
    expect(s.clock.sleeps).toEqual([]);
  });

  it('an upload that times out: kind "unknown" (timeout), one request', async () => {
    const s = await setup(() => undefined, { uploadTimeoutMs: 150 });
    const r = await upload(s);
    expect(r).toMatchObject({ kind: 'unknown', reason: 'timeout', attempts: 1 });
    expect(s.server.hits('/cgi_dte')).toBe(1);
  });

  it('a gateway 504 after the upload went out: kind "unknown" (gateway), one request', async () => {
    const s = await setup((_req, res) => send(res, 504, 'Gateway Timeout', 'text/plain'));
    expect(await upload(s)).toMatchObject({ kind: 'unknown', reason: 'gateway', attempts: 1 });
    expect(s.server.hits('/cgi_dte')).toBe(1);
  });

  it('503 or a maintenance page (the SII answered and did not take it): retried, then received', async () => {
    let n = 0;
    const s = await setup((_req, res) => {
      n++;
      if (n === 1) return send(res, 503, 'down', 'text/plain');
      if (n === 2) return send(res, 200, MAINTENANCE_PAGE, 'text/html');
      return send(res, 200, RECEIVED);
    });
    expect(await upload(s)).toMatchObject({ kind: 'received', trackId: '0251552460', attempts: 3 });
    expect(s.server.hits('/cgi_dte')).toBe(3);
  });

  it('a retried upload the SII already had comes back as STATUS 99 with the earlier track id', async () => {
    let n = 0;
    const s = await setup((_req, res) =>
      ++n === 1
        ? send(res, 500, 'Error 500', 'text/plain')
        : send(res, 200, recepcionDte(99, '<DETAIL><ERROR>Archivo ya fue enviado 1 vez con Trackid 0251552460. Debe esperar 900 segundos antes de reintentar</ERROR></DETAIL>')),
    );
    expect(await upload(s)).toMatchObject({ kind: 'duplicate', trackId: '0251552460', timesSent: 1, waitSeconds: 900, attempts: 2 });
  });

  it('connection refused (nothing sent) is retried, then reported as unavailable — not unknown', async () => {
    const url = await deadUrl();
    const clock = fakeClock();
    const transport = new SiiTransport({ clock, random: () => 0, maxAttempts: 3 });
    const env = resolveEnvironment('sim', url);
    const e = await rejection(uploadEnvelope(transport, env, 'TKN', { xml: ENVELOPE, rutSender: '12345678-5', rutCompany: '76086428-5' }));
    expect([e.code, e.attempts, e.outcomeUnknown]).toEqual(['ERR_SII_UNAVAILABLE', 3, false]);
    expect(clock.sleeps).toHaveLength(2);
  });

  it('a definite refusal (STATUS 7) is not retried', async () => {
    const s = await setup((_req, res) => send(res, 200, recepcionDte(7, '<DETAIL><ERROR>SCH-00001: Invalid Schema Name</ERROR></DETAIL>')));
    const e = await rejection(upload(s));
    expect([e.code, e.siiCode, e.attempts]).toEqual(['ERR_SII_UPLOAD_REJECTED', '7', 1]);
    expect(s.server.hits('/cgi_dte')).toBe(1);
  });

  it('an unreadable XML answer to an upload is "unknown" (the SII may hold the file)', async () => {
    const s = await setup((_req, res) => send(res, 200, '<RECEPCIONDTE><STATUS>0</STAT'));
    expect(await upload(s)).toMatchObject({ kind: 'unknown', reason: 'unreadable_answer', attempts: 1 });
    expect(s.server.hits('/cgi_dte')).toBe(1);
  });

  it('refuses a string instead of bytes', async () => {
    const s = await setup((_req, res) => send(res, 200, RECEIVED));
    await expect(uploadEnvelope(s.transport, s.env, 'TKN', { xml: '<EnvioDTE/>' as never, rutSender: '12345678-5', rutCompany: '76086428-5' })).rejects.toThrow(TypeError);
    expect(s.server.requests).toHaveLength(0);
  });
});

describe('circuit breaker per host', () => {
  it('opens after N consecutive transient failures, fails fast without sending, recovers after the open period', async () => {
    let healthy = false;
    const s = await setup((_req, res) => (healthy ? send(res, 200, EPR) : send(res, 503, 'down', 'text/plain')), {
      maxAttempts: 2,
      breakerThreshold: 3,
      breakerHalfOpenAfterMs: 10_000,
    });
    const host = new URL(s.server.url).host;

    const first = await rejection(estUp(s));
    expect([first.code, first.attempts]).toEqual(['ERR_SII_UNAVAILABLE', 2]);
    expect(s.transport.breakerState(host)).toBe('closed');

    // third consecutive failure opens the circuit; the retry is refused without a request
    const second = await rejection(estUp(s));
    expect([second.code, second.attempts]).toEqual(['ERR_SII_CIRCUIT_OPEN', 1]);
    expect(s.transport.breakerState(host)).toBe('open');
    expect(s.server.requests).toHaveLength(3);

    const third = await rejection(estUp(s));
    expect([third.code, third.attempts]).toEqual(['ERR_SII_CIRCUIT_OPEN', 0]);
    expect(s.server.requests).toHaveLength(3);

    // an upload while open: refused, nothing sent, so NOT "unknown"
    await expect(upload(s)).rejects.toMatchObject({ code: 'ERR_SII_CIRCUIT_OPEN', outcomeUnknown: false });
    expect(s.server.requests).toHaveLength(3);

    s.clock.advance(9_999);
    await expect(estUp(s)).rejects.toMatchObject({ code: 'ERR_SII_CIRCUIT_OPEN' });
    s.clock.advance(1);
    healthy = true;
    await expect(estUp(s)).resolves.toMatchObject({ estado: 'EPR' });
    expect(s.transport.breakerState(host)).toBe('closed');
    expect(s.server.requests).toHaveLength(4);
    expect(s.events.filter((e) => e.type === 'breaker').map((e) => (e as { state: string }).state)).toEqual(['open', 'half-open', 'closed']);
  });

  it('a failed trial request opens the circuit again for another period', async () => {
    const s = await setup((_req, res) => send(res, 503, 'down', 'text/plain'), { maxAttempts: 1, breakerThreshold: 2, breakerHalfOpenAfterMs: 5_000 });
    await rejection(estUp(s));
    await rejection(estUp(s));
    expect(s.transport.breakerState(s.server.url)).toBe('open');
    s.clock.advance(5_000);
    await expect(estUp(s)).rejects.toMatchObject({ code: 'ERR_SII_UNAVAILABLE' }); // the trial, sent and failed
    expect(s.server.requests).toHaveLength(3);
    await expect(estUp(s)).rejects.toMatchObject({ code: 'ERR_SII_CIRCUIT_OPEN', attempts: 0 });
    expect(s.server.requests).toHaveLength(3);
  });

  it('definite answers (even SII errors) reset the consecutive count: the host is up', async () => {
    let n = 0;
    const s = await setup((_req, res) => (++n % 2 === 1 ? send(res, 503, 'down', 'text/plain') : send(res, 200, estUpAnswer('<ESTADO>-3</ESTADO>'))), {
      maxAttempts: 2,
      breakerThreshold: 2,
    });
    for (let i = 0; i < 4; i++) await expect(estUp(s)).rejects.toMatchObject({ code: 'ERR_SII_QUERY_FAILED', siiCode: '-3', attempts: 2 });
    expect(s.transport.breakerState(s.server.url)).toBe('closed');
  });

  it('keeps one breaker per host', async () => {
    const s = await setup((_req, res) => send(res, 503, 'down', 'text/plain'), { maxAttempts: 1, breakerThreshold: 1 });
    await rejection(estUp(s));
    expect(s.transport.breakerState(s.server.url)).toBe('open');
    expect(s.transport.breakerState('https://palena.sii.cl')).toBe('closed');
  });
});

describe('options', () => {
  it('refuses nonsensical settings', () => {
    expect(() => new SiiTransport({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => new SiiTransport({ timeoutMs: -1 })).toThrow(RangeError);
  });
});
