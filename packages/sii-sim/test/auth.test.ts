/**
 * Seed → signed seed → token, verified for real: the SOAP shapes the SII answers with, and each
 * way a getToken can be wrong answered with its ESTADO (sii-spec §9).
 */
import { generateFixtures, loadPkcs12 } from '@timbre/dte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, ManualClock, type Simulator } from '../src/index.js';
import { axis, EMISOR, estUp, getSeed, getToken, request, signers, signSeed, soapEnvelope, T0, tag } from './helpers.js';

let sim: Simulator;
let base: string;
let clock: ManualClock;

beforeAll(async () => {
  clock = new ManualClock(T0);
  sim = createSimulator({ clock, seed: 'auth-tests', tokenTtlMs: 30 * 60_000 });
  base = await sim.start(0);
});
afterAll(() => sim.close());

const token = async (pszXml: string) => (await axis(base, 'GetTokenFromSeed.jws', 'getToken', [['pszXml', pszXml]])).inner;

describe('getSeed', () => {
  it('answers an Axis RPC envelope whose ns1:getSeedReturn holds the escaped SII:RESPUESTA', async () => {
    const { res, inner } = await axis(base, 'CrSeed.jws', 'getSeed', []);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.text).toContain('<ns1:getSeedResponse soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns1="https://maullin.sii.cl/DTEWS/CrSeed.jws">');
    expect(res.text).toMatch(/<ns1:getSeedReturn xsi:type="xsd:string">&lt;\?xml version="1.0" encoding="UTF-8"\?&gt;&lt;SII:RESPUESTA xmlns:SII="http:\/\/www.sii.cl\/XMLSchema"&gt;/);
    expect(inner).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><SII:RESPUESTA xmlns:SII="http:\/\/www.sii.cl\/XMLSchema"><SII:RESP_BODY><SEMILLA>\d{12}<\/SEMILLA><\/SII:RESP_BODY><SII:RESP_HDR><ESTADO>00<\/ESTADO><\/SII:RESP_HDR><\/SII:RESPUESTA>$/);
  });

  it('hands out 12-digit strings that keep their leading zeros, the same ones for the same seed option', async () => {
    const a = createSimulator({ seed: 42 });
    const b = createSimulator({ seed: 42 });
    const [ua, ub] = [await a.start(0), await b.start(0)];
    try {
      const sa: string[] = [];
      const sb: string[] = [];
      for (let i = 0; i < 60; i++) {
        sa.push(await getSeed(ua));
        sb.push(await getSeed(ub));
      }
      expect(sa).toEqual(sb);
      expect(sa.every((s) => /^\d{12}$/.test(s))).toBe(true);
      expect(sa.some((s) => s.startsWith('0'))).toBe(true);
      expect(new Set(sa).size).toBe(sa.length);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('answers an Axis fault (HTTP 500) for an operation it does not have', async () => {
    const res = await request(`${base}/DTEWS/CrSeed.jws`, { body: soapEnvelope('getSemilla', 'x', []), headers: { 'content-type': 'text/xml' } });
    expect(res.status).toBe(500);
    expect(res.text).toContain("<faultstring>No such operation 'getSemilla'</faultstring>");
  });
});

describe('getToken', () => {
  it('gives a token for a seed signed by a certificate with a RUT', async () => {
    const inner = await token(signSeed(await getSeed(base), signers().cert));
    expect(tag(inner, 'ESTADO')).toBe('00');
    expect(tag(inner, 'GLOSA')).toBe('Token Creado');
    expect(tag(inner, 'TOKEN')).toMatch(/^[A-Z0-9]{13}$/);
    const t = sim.state.tokens.get(tag(inner, 'TOKEN') as string);
    expect(t?.rut).toBe(signers().cert.rut);
  });

  it('05 when the signed content was altered (a different seed pasted into a signed document)', async () => {
    const seedA = await getSeed(base);
    const seedB = await getSeed(base);
    const forged = signSeed(seedA, signers().cert).replace(seedA, seedB);
    const inner = await token(forged);
    expect(tag(inner, 'ESTADO')).toBe('05');
    expect(tag(inner, 'TOKEN')).toBeUndefined();
  });

  it('04 when there is no signature, 06 without Semilla, 01 when it is not XML', async () => {
    expect(tag(await token(`<getToken><item><Semilla>${await getSeed(base)}</Semilla></item></getToken>`), 'ESTADO')).toBe('04');
    expect(tag(await token(signSeed('', signers().cert).replace('<Semilla></Semilla>', '')), 'ESTADO')).toBe('06');
    expect(tag(await token('esto no es xml'), 'ESTADO')).toBe('01');
  });

  it('08 "NO Existe SEED" for a seed it never issued', async () => {
    const inner = await token(signSeed('000000000001', signers().cert));
    expect(tag(inner, 'ESTADO')).toBe('08');
    expect(tag(inner, 'GLOSA')).toMatch(/NO Existe SEED/);
  });

  it('08 "TIME-OUT DEL SEED" for a seed older than 2 minutes; fine just before', async () => {
    const fresh = await getSeed(base);
    clock.advance(119_000);
    expect(tag(await token(signSeed(fresh, signers().cert)), 'ESTADO')).toBe('00');
    const stale = await getSeed(base);
    clock.advance(121_000);
    const inner = await token(signSeed(stale, signers().cert));
    expect(tag(inner, 'ESTADO')).toBe('08');
    expect(tag(inner, 'GLOSA')).toMatch(/TIME-OUT DEL SEED/);
  });

  it('11 without X509Certificate, 21 when KeyValue is not the certificate key', async () => {
    const signed = signSeed(await getSeed(base), signers().cert);
    const noCert = signed.replace(/<X509Data>[\s\S]*<\/X509Data>\n?/, '');
    expect(noCert).not.toContain('X509Certificate');
    expect(tag(await token(noCert), 'ESTADO')).toBe('11');
    const otherModulus = signers().other.signingKey.modulusB64;
    const mismatched = signed.replace(/<Modulus>[\s\S]*?<\/Modulus>/, `<Modulus>${otherModulus}</Modulus>`);
    expect(tag(await token(mismatched), 'ESTADO')).toBe('21');
  });

  it('-3 when the certificate is not valid now', async () => {
    const old = generateFixtures({ now: new Date('2020-01-01T12:00:00Z'), tipos: [33] });
    const cert = loadPkcs12(old.p12, old.p12Password, { now: new Date('2020-01-01T12:00:00Z') });
    expect(tag(await token(signSeed(await getSeed(base), cert)), 'ESTADO')).toBe('-3');
  });
});

describe('token errors on the status queries', () => {
  it('001 without token, 003 for an unknown one, 002 once it expired', async () => {
    expect(tag(await estUp(base, '', EMISOR, '1234567890'), 'ESTADO')).toBe('001');
    expect(tag(await estUp(base, 'ZZZZZZZZZZZZZ', EMISOR, '1234567890'), 'ESTADO')).toBe('003');
    const t = await getToken(base, signers().cert);
    expect(tag(await estUp(base, t, EMISOR, '1234567890'), 'ESTADO')).toBe('-11');
    clock.advance(30 * 60_000 + 1);
    const expired = await estUp(base, t, EMISOR, '1234567890');
    expect(tag(expired, 'ESTADO')).toBe('002');
    expect(tag(expired, 'GLOSA')).toBe('Token Inactivo');
  });

  it('QueryEstUp with extra parameters is "No such operation" (HTTP 500), as the real one', async () => {
    const t = await getToken(base, signers().cert);
    const { res } = await axis(base, 'QueryEstUp.jws', 'getEstUp', [
      ['RutConsultante', '12345678'],
      ['RutCompania', '76086428'],
      ['DvCompania', '5'],
      ['TrackId', '1'],
      ['Token', t],
    ]);
    expect(res.status).toBe(500);
    expect(res.text).toContain("No such operation 'getEstUp'");
  });
});
