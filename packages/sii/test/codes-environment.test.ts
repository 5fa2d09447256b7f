/**
 * The code catalogue (complete for the codes the client handles, consistent with the parsers, cited)
 * and the environments (hosts, paths, overrides, CAF IDK).
 */
import { describe, expect, it } from 'vitest';
import { describeCode, documentCodeSeverity, envioOutcome, findCodes, normalizeSiiCode, resolveEnvironment, SII_CODES, SII_PATHS, siiCodesToJson, type SiiCodeService } from '../src/index.js';

const codesOf = (service: SiiCodeService) => SII_CODES.filter((c) => c.service === service).map((c) => c.code);

describe('SII code catalogue', () => {
  it('has every code the brief and sii-spec name, per service', () => {
    expect(codesOf('upload').sort()).toEqual(['0', '1', '2', '3', '5', '6', '7', '8', '9', '99'].sort());
    expect(codesOf('estado.envio')).toEqual(
      expect.arrayContaining(['REC', 'EPR', 'RPR', 'RLV', 'RCH', 'RCT', 'RFR', 'RSC', 'SOK', 'FOK', 'PDR', 'CRT', 'LSO', 'LOK', 'LRC', 'LRH', 'LRF', 'LNC', 'PRD', '-11', '001', '002', '003', '106']),
    );
    for (let i = 1; i <= 14; i++) expect(codesOf('estado.envio')).toContain(`-${i}`);
    expect(codesOf('estado.dte')).toEqual(expect.arrayContaining(['DOK', 'DNK', 'FAU', 'FNA', 'FAN', 'EMP', 'TMD', 'TMC', 'MMD', 'MMC', 'AND', 'ANC', '001', '002', '003', '-1', '-2', '-3', '-4']));
    expect(codesOf('auth.token')).toEqual(expect.arrayContaining(['00', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12', '21', '-3', '-07']));
    expect(codesOf('auth.seed')).toEqual(['00', '-1', '-2']);
    const rcv = codesOf('rcv');
    for (let i = 0; i <= 25; i++) expect(rcv).toContain(String(i));
    expect(rcv).toContain('-1');
    expect(codesOf('documento')).toEqual(
      expect.arrayContaining(['DTE-3-101', 'CAF-3-517', 'TED-1-646', 'DTE-1-650', 'CRT-3-18', 'CRT-3-19', 'REF-3-750', 'REF-3-758', 'REF-3-415', 'HED-3-305', 'HED-3-861', 'DTE-3-505']),
    );
  });

  it('every entry is complete, cites its source, and (service, code) is unique', () => {
    const seen = new Set<string>();
    for (const c of SII_CODES) {
      const key = `${c.service} ${c.code}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
      expect(c.meaning.trim(), key).not.toBe('');
      expect(c.meaningEn.trim(), key).not.toBe('');
      expect(c.source, key).toMatch(/sii-spec §\d|pitfalls\.md/);
      expect(typeof c.final, key).toBe('boolean');
      expect(typeof c.verbatim, key).toBe('boolean');
      expect(Object.isFrozen(c), key).toBe(true);
    }
  });

  it('the envelope estados the parser accepts are exactly those the catalogue calls accepted, repaired, rejected or pending', () => {
    for (const c of SII_CODES.filter((x) => x.service === 'estado.envio')) {
      const o = envioOutcome(c.code, []);
      if (['pending', 'accepted', 'accepted_with_reparos', 'rejected'].includes(c.outcome)) {
        expect(o, c.code).toBeDefined();
        expect(o?.final, c.code).toBe(c.final);
      } else {
        expect(o, c.code).toBeUndefined();
      }
    }
  });

  it('describeCode: by service, without service letters first, normalizing the SII spellings', () => {
    expect(describeCode('7', 'upload')?.meaning).toBe('Esquema Invalido');
    expect(describeCode('0', 'rcv')?.meaning).toBe('Acción Completada OK');
    expect(describeCode('RFR')).toMatchObject({ service: 'estado.envio', outcome: 'rejected', final: true });
    expect(describeCode('REF L[5]-3-758')?.code).toBe('REF-3-758');
    expect(describeCode('(dte-3-101)')?.fix).toMatch(/folio/);
    expect(describeCode('NOPE')).toBeUndefined();
    expect(findCodes('001').map((c) => c.service).sort()).toEqual(['estado.dte', 'estado.envio']);
    expect(normalizeSiiCode(' ref l[2] - 3 - 750 ')).toBe('REF-3-750');
  });

  it('documentCodeSeverity reads the level digit', () => {
    expect(documentCodeSeverity('XYZ-3-999')).toBe('rechazo');
    expect(documentCodeSeverity('TED-1-646')).toBe('reparo');
    expect(documentCodeSeverity('EPR')).toBeUndefined();
  });

  it('exports as JSON that round-trips', () => {
    const parsed = JSON.parse(siiCodesToJson()) as { version: number; codes: unknown[] };
    expect(parsed.version).toBe(1);
    expect(parsed.codes).toEqual(JSON.parse(JSON.stringify(SII_CODES)));
  });
});

describe('environments', () => {
  it('certificación: maullin, apicert, pangal, ws2 (CERT path), IDK 100', () => {
    const e = resolveEnvironment('certificacion');
    expect(e.cafIdk).toBe(100);
    expect(e.endpoints).toMatchObject({
      crSeed: 'https://maullin.sii.cl/DTEWS/CrSeed.jws',
      getTokenFromSeed: 'https://maullin.sii.cl/DTEWS/GetTokenFromSeed.jws',
      queryEstUp: 'https://maullin.sii.cl/DTEWS/QueryEstUp.jws',
      queryEstDte: 'https://maullin.sii.cl/DTEWS/QueryEstDte.jws',
      dteUpload: 'https://maullin.sii.cl/cgi_dte/UPL/DTEUpload',
      boletaSemilla: 'https://apicert.sii.cl/recursos/v1/boleta.electronica.semilla',
      boletaToken: 'https://apicert.sii.cl/recursos/v1/boleta.electronica.token',
      boletaEnvio: 'https://pangal.sii.cl/recursos/v1/boleta.electronica.envio',
      rcv: 'https://ws2.sii.cl/WSREGISTRORECLAMODTECERT/registroreclamodteservice',
    });
    expect(e.endpoints.boletaEnvioEstado('76086428', '5', '0012')).toBe('https://apicert.sii.cl/recursos/v1/boleta.electronica.envio/76086428-5-0012');
  });

  it('producción: palena, api, rahue, ws1 (prod path), IDK 300', () => {
    const e = resolveEnvironment('produccion');
    expect(e.cafIdk).toBe(300);
    expect([e.endpoints.dteUpload, e.endpoints.boletaToken, e.endpoints.boletaEnvio, e.endpoints.rcv]).toEqual([
      'https://palena.sii.cl/cgi_dte/UPL/DTEUpload',
      'https://api.sii.cl/recursos/v1/boleta.electronica.token',
      'https://rahue.sii.cl/recursos/v1/boleta.electronica.envio',
      'https://ws1.sii.cl/WSREGISTRORECLAMODTE/registroreclamodteservice',
    ]);
  });

  it('sim: everything under http://127.0.0.1:8090 with the same paths; the simulator\'s default IDK', () => {
    const e = resolveEnvironment('sim');
    expect(e.cafIdk).toBe(999_999_100);
    expect(e.endpoints.crSeed).toBe(`http://127.0.0.1:8090${SII_PATHS.crSeed}`);
    expect(e.endpoints.boletaEstado('76086428', '5', 39, 17)).toBe('http://127.0.0.1:8090/recursos/v1/boleta.electronica/76086428-5-39-17/estado');
    expect(e.endpoints.rcv).toBe('http://127.0.0.1:8090/WSREGISTRORECLAMODTECERT/registroreclamodteservice');
  });

  it('siiUrl overrides every base URL, or some of them; a path prefix is kept, a trailing slash dropped', () => {
    const all = resolveEnvironment('produccion', 'http://proxy.local:8080/sii/');
    expect(all.endpoints.dteUpload).toBe('http://proxy.local:8080/sii/cgi_dte/UPL/DTEUpload');
    expect(all.endpoints.rcv).toBe('http://proxy.local:8080/sii/WSREGISTRORECLAMODTE/registroreclamodteservice');
    const some = resolveEnvironment('certificacion', { boletaEnvio: 'https://apicert.sii.cl' });
    expect(some.endpoints.boletaEnvio).toBe('https://apicert.sii.cl/recursos/v1/boleta.electronica.envio');
    expect(some.endpoints.crSeed).toBe('https://maullin.sii.cl/DTEWS/CrSeed.jws');
    expect(() => resolveEnvironment('sim', 'ftp://x')).toThrow(/http/);
    expect(() => resolveEnvironment('sim', 'not a url')).toThrow(/not a URL/);
    expect(() => resolveEnvironment('nowhere' as never)).toThrow(/unknown SII environment/);
  });
});
