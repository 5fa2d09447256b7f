/**
 * Every answer format as the SII documents it (sii-spec §9–§12, §14.2): SOAP with `ns1:` prefixes and
 * escaped XML inside SOAP strings, RESP_HDR/RESP_BODY in both orders, STATUS 99 texts, HTML pages,
 * DETAIL/ERROR and loose text, leading-zero seeds and track ids, boleta JSON, RCV answers.
 */
import { describe, expect, it } from 'vitest';
import { child, parseXml, textOf, verifySignature, type XmlElement } from '@timbre/dte';
import {
  buildGetEstDteRequest,
  buildGetEstUpRequest,
  buildGetTokenRequest,
  buildRcvRequest,
  buildUploadMultipart,
  boletaEstadoUrl,
  interpretRecepcionDte,
  parseBoletaEnvioEstadoResponse,
  parseBoletaEnvioResponse,
  parseBoletaEstadoResponse,
  parseBoletaSemillaResponse,
  parseBoletaTokenResponse,
  parseDuplicateText,
  parseFechaRecepcionResponse,
  parseGetEstDteResponse,
  parseGetEstUpResponse,
  parseGetSeedResponse,
  parseGetTokenResponse,
  parseRcvResponse,
  parseRecepcionDte,
  resolveEnvironment,
  signGetToken,
  SiiError,
  toDdmmaaaa,
} from '../src/index.js';
import { estUpAnswer, MAINTENANCE_PAGE, recepcionDte, respuesta, seedAnswer, soapAnswer, soapFault, testCertificate, tokenAnswer } from './helpers.js';

/** Run `fn`, expect a SiiError, return it. */
function siiError(fn: () => unknown): SiiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SiiError);
    return e as SiiError;
  }
  throw new Error('expected a SiiError, nothing was thrown');
}

const elements = (el: XmlElement) => el.children.filter((c): c is XmlElement => c.type === 'element');

describe('CrSeed getSeed answers', () => {
  it('reads the seed from the escaped RESPUESTA, RESP_BODY before RESP_HDR, keeping leading zeros', () => {
    expect(parseGetSeedResponse(seedAnswer('000002360958'))).toBe('000002360958');
  });

  it('reads RESP_HDR before RESP_BODY, an ns1:-prefixed return, and an inner XML declaration', () => {
    const inner = respuesta('<SII:RESP_HDR><ESTADO>00</ESTADO></SII:RESP_HDR><SII:RESP_BODY><SEMILLA>043871953686</SEMILLA></SII:RESP_BODY>');
    expect(parseGetSeedResponse(soapAnswer('getSeed', inner, { prefixReturn: true }))).toBe('043871953686');
  });

  it('accepts the inner XML as CDATA and an answer with RESP_BODY only (as maullin sends it)', () => {
    const inner = respuesta('<SII:RESP_BODY><SEMILLA>012</SEMILLA></SII:RESP_BODY>');
    expect(parseGetSeedResponse(soapAnswer('getSeed', inner, { cdata: true }))).toBe('012');
  });

  it('follows an Axis multiRef return', () => {
    const inner = respuesta('<SII:RESP_BODY><SEMILLA>0099</SEMILLA></SII:RESP_BODY><SII:RESP_HDR><ESTADO>00</ESTADO></SII:RESP_HDR>')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;');
    const soap =
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
      '<ns1:getSeedResponse xmlns:ns1="x"><getSeedReturn href="#id0"/></ns1:getSeedResponse>' +
      `<multiRef id="id0">${inner}</multiRef></soapenv:Body></soapenv:Envelope>`;
    expect(parseGetSeedResponse(soap)).toBe('0099');
  });

  it('maps ESTADO ≠ 00 to ERR_SII_AUTH_FAILED with the ESTADO in siiCode', () => {
    const e = siiError(() => parseGetSeedResponse(seedAnswer('', '-1')));
    expect(e.code).toBe('ERR_SII_AUTH_FAILED');
    expect(e.siiCode).toBe('-1');
  });

  it('reports an HTML page as transient (ERR_SII_UNAVAILABLE) and a SOAP fault as ERR_SII_PROTOCOL', () => {
    expect(siiError(() => parseGetSeedResponse(MAINTENANCE_PAGE)).code).toBe('ERR_SII_UNAVAILABLE');
    const fault = siiError(() => parseGetSeedResponse(soapFault('No such operation')));
    expect(fault.code).toBe('ERR_SII_PROTOCOL');
    expect(fault.glosa).toBe('No such operation');
  });

  it('refuses a DOCTYPE smuggled inside the SOAP string (the answer is untrusted)', () => {
    const inner = '<!DOCTYPE x [<!ENTITY a "b">]><SII:RESPUESTA xmlns:SII="s"><SII:RESP_BODY><SEMILLA>&a;</SEMILLA></SII:RESP_BODY></SII:RESPUESTA>';
    expect(siiError(() => parseGetSeedResponse(soapAnswer('getSeed', inner))).code).toBe('ERR_SII_PROTOCOL');
  });

  it('refuses a non-numeric seed and a missing SEMILLA', () => {
    expect(siiError(() => parseGetSeedResponse(seedAnswer('12a4'))).code).toBe('ERR_SII_PROTOCOL');
    expect(siiError(() => parseGetSeedResponse(soapAnswer('getSeed', respuesta('<SII:RESP_HDR><ESTADO>00</ESTADO></SII:RESP_HDR>')))).code).toBe('ERR_SII_PROTOCOL');
  });
});

describe('GetTokenFromSeed', () => {
  it('reads TOKEN with ESTADO 00', () => {
    expect(parseGetTokenResponse(tokenAnswer('UPXJFDA6SDTW2'))).toBe('UPXJFDA6SDTW2');
  });

  it.each([
    ['05', 'Firma no valida'],
    ['08', 'TIME-OUT DEL SEED'],
    ['-07', 'RUT NO HABILITADO'],
  ])('maps ESTADO %s to ERR_SII_AUTH_FAILED', (estado, glosa) => {
    const e = siiError(() => parseGetTokenResponse(tokenAnswer('', estado, glosa)));
    expect(e.code).toBe('ERR_SII_AUTH_FAILED');
    expect(e.siiCode).toBe(estado);
    expect(e.glosa).toBe(glosa);
  });

  it('refuses a token that could inject into the Cookie header', () => {
    expect(siiError(() => parseGetTokenResponse(tokenAnswer('ABC;admin=1'))).code).toBe('ERR_SII_PROTOCOL');
  });

  it('sends the signed getToken (URI="", enveloped) escaped in pszXml, and the signature verifies', () => {
    const cert = testCertificate();
    const signed = signGetToken('000002360958', cert.signingKey);
    const envelope = buildGetTokenRequest('https://maullin.sii.cl/DTEWS/GetTokenFromSeed.jws', signed);
    expect(envelope).toContain('&lt;getToken&gt;&lt;item&gt;&lt;Semilla&gt;000002360958&lt;/Semilla&gt;');
    const op = parseXml(envelope).root;
    const pszXml = elements(elements(elements(op)[0] as XmlElement)[0] as XmlElement)[0] as XmlElement;
    expect(pszXml.local).toBe('pszXml');
    expect(textOf(pszXml)).toBe(signed);
    const doc = parseXml(signed).root;
    expect(doc.local).toBe('getToken');
    const sig = child(doc, 'Signature') as XmlElement;
    const report = verifySignature(sig);
    expect(report).toMatchObject({ referenceUri: '', valid: true });
    expect(signed).toContain('http://www.w3.org/2000/09/xmldsig#enveloped-signature');
    // Tampering with the seed breaks it: the test can fail.
    const tampered = parseXml(signed.replace('000002360958', '000002360959')).root;
    expect(verifySignature(child(tampered, 'Signature') as XmlElement).valid).toBe(false);
  });
});

describe('boleta REST semilla and token (plain XML)', () => {
  it('reads SEMILLA (leading zeros kept) and TOKEN', () => {
    const semilla = '<?xml version="1.0" encoding="UTF-8"?><SII:RESPUESTA xmlns:SII="http://www.sii.cl/XMLSchema"><SII:RESP_BODY><SEMILLA>003456789012</SEMILLA></SII:RESP_BODY><SII:RESP_HDR><ESTADO>00</ESTADO></SII:RESP_HDR></SII:RESPUESTA>';
    expect(parseBoletaSemillaResponse(semilla)).toBe('003456789012');
    const token = '<?xml version="1.0" encoding="UTF-8"?><SII:RESPUESTA xmlns:SII="http://www.sii.cl/XMLSchema"><SII:RESP_HDR><ESTADO>00</ESTADO><GLOSA>Token Creado</GLOSA></SII:RESP_HDR><SII:RESP_BODY><TOKEN>BOL3TATOKEN</TOKEN></SII:RESP_BODY></SII:RESPUESTA>';
    expect(parseBoletaTokenResponse(token)).toBe('BOL3TATOKEN');
  });

  it('maps a token ESTADO ≠ 00 to ERR_SII_AUTH_FAILED', () => {
    const bad = '<RESPUESTA><RESP_HDR><ESTADO>05</ESTADO><GLOSA>Firma no valida</GLOSA></RESP_HDR></RESPUESTA>';
    const e = siiError(() => parseBoletaTokenResponse(bad));
    expect([e.code, e.siiCode]).toEqual(['ERR_SII_AUTH_FAILED', '05']);
  });
});

describe('DTEUpload RECEPCIONDTE', () => {
  it('STATUS 0: received, TRACKID kept as a string with its leading zero, timestamp as sent', () => {
    const r = parseRecepcionDte(recepcionDte(0, ' <TRACKID>0251552460</TRACKID>'));
    expect(r).toMatchObject({ status: 0, trackId: '0251552460', timestamp: '2026-11-28 10:15:02', rutCompany: '76086428-5', detail: [] });
    expect(interpretRecepcionDte(r)).toEqual({ kind: 'received', trackId: '0251552460', timestamp: '2026-11-28 10:15:02', attempts: 1 });
  });

  it('STATUS 99 in DETAIL/ERROR: duplicate with the earlier track id, times sent and wait', () => {
    const text = 'Archivo ya fue enviado 2 veces con Trackid 251550580. Debe esperar 900 segundos antes de reintentar';
    const r = parseRecepcionDte(recepcionDte(99, ` <DETAIL>\n<ERROR>${text}</ERROR>\n</DETAIL>`));
    expect(interpretRecepcionDte(r)).toEqual({ kind: 'duplicate', trackId: '251550580', timesSent: 2, waitSeconds: 900, detail: text, attempts: 1 });
  });

  it('STATUS 99 as loose text after STATUS, and without a track id in the text', () => {
    const r = parseRecepcionDte(recepcionDte(99, '  Archivo ya fue enviado 1 vez con Trackid 0000123. Debe esperar 900 segundos'));
    expect(interpretRecepcionDte(r)).toMatchObject({ kind: 'duplicate', trackId: '0000123', timesSent: 1 });
    const none = interpretRecepcionDte(parseRecepcionDte(recepcionDte(99, '  Archivo repetido')));
    expect(none.kind).toBe('duplicate');
    expect('trackId' in none).toBe(false);
  });

  it('parseDuplicateText tolerates the spellings seen', () => {
    expect(parseDuplicateText('Archivo ya fue enviado 3 veces con TrackId: 42')).toEqual({ timesSent: 3, trackId: '42' });
    expect(parseDuplicateText('sin datos')).toEqual({});
  });

  it('STATUS 7 with several DETAIL/ERROR items: ERR_SII_UPLOAD_REJECTED with every line', () => {
    const r = parseRecepcionDte(recepcionDte(7, ' <DETAIL>\n<ERROR>ENV-00001: falta Caratula</ERROR>\n<ERROR>DTE-00002: Detalle inválido</ERROR>\n</DETAIL>'));
    const e = siiError(() => interpretRecepcionDte(r));
    expect(e.code).toBe('ERR_SII_UPLOAD_REJECTED');
    expect(e.siiCode).toBe('7');
    expect(e.detail).toEqual(['ENV-00001: falta Caratula', 'DTE-00002: Detalle inválido']);
  });

  it('STATUS 7 with the reason as loose text after STATUS', () => {
    const r = parseRecepcionDte(recepcionDte(7, '  Documento no cumple con el esquema'));
    expect(r.detail).toEqual(['Documento no cumple con el esquema']);
  });

  it('decodes a Latin-1 answer without encoding declaration', () => {
    const bytes = Buffer.from(recepcionDte(7, '<DETAIL><ERROR>Carátula inválida</ERROR></DETAIL>'), 'latin1');
    expect(parseRecepcionDte(bytes).detail).toEqual(['Carátula inválida']);
  });

  it.each([
    [1, 'ERR_SII_UPLOAD_REJECTED'],
    [2, 'ERR_SII_UPLOAD_REJECTED'],
    [3, 'ERR_SII_UPLOAD_REJECTED'],
    [5, 'ERR_SII_TOKEN_EXPIRED'],
    [6, 'ERR_SII_UPLOAD_REJECTED'],
    [8, 'ERR_SII_UPLOAD_REJECTED'],
    [9, 'ERR_SII_UPLOAD_REJECTED'],
    [4, 'ERR_SII_UPLOAD_REJECTED'],
  ])('STATUS %i → %s with siiCode', (status, code) => {
    const e = siiError(() => interpretRecepcionDte(parseRecepcionDte(recepcionDte(status))));
    expect(e.code).toBe(code);
    expect(e.siiCode).toBe(String(status));
  });

  it('STATUS 0 without TRACKID is a protocol error; an HTML page is transient; other XML is a protocol error', () => {
    expect(siiError(() => interpretRecepcionDte(parseRecepcionDte(recepcionDte(0)))).code).toBe('ERR_SII_PROTOCOL');
    expect(siiError(() => parseRecepcionDte(MAINTENANCE_PAGE)).code).toBe('ERR_SII_UNAVAILABLE');
    expect(siiError(() => parseRecepcionDte('Error 500')).code).toBe('ERR_SII_UNAVAILABLE');
    expect(siiError(() => parseRecepcionDte('<RESPUESTA/>')).code).toBe('ERR_SII_PROTOCOL');
    expect(siiError(() => parseRecepcionDte('<RECEPCIONDTE><STATUS>x</STATUS></RECEPCIONDTE>')).code).toBe('ERR_SII_PROTOCOL');
  });
});

describe('DTEUpload multipart', () => {
  it('writes rutSender, dvSender, rutCompany, dvCompany, archivo in order, DV upper-case, file bytes untouched', () => {
    const file = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><EnvioDTE>DISEÑO</EnvioDTE>', 'latin1');
    const { body, contentType, boundary } = buildUploadMultipart({ rutSender: '11.111.111-1', rutCompany: '96874030-k', file, fileName: 'envío 1.xml', boundary: 'XyZ' });
    expect(contentType).toBe('multipart/form-data; boundary=XyZ');
    expect(boundary).toBe('XyZ');
    const expectedHead =
      '--XyZ\r\nContent-Disposition: form-data; name="rutSender"\r\n\r\n11111111\r\n' +
      '--XyZ\r\nContent-Disposition: form-data; name="dvSender"\r\n\r\n1\r\n' +
      '--XyZ\r\nContent-Disposition: form-data; name="rutCompany"\r\n\r\n96874030\r\n' +
      '--XyZ\r\nContent-Disposition: form-data; name="dvCompany"\r\n\r\nK\r\n' +
      '--XyZ\r\nContent-Disposition: form-data; name="archivo"; filename="env_o_1.xml"\r\nContent-Type: text/xml\r\n\r\n';
    expect(body.equals(Buffer.concat([Buffer.from(expectedHead, 'latin1'), file, Buffer.from('\r\n--XyZ--\r\n', 'latin1')]))).toBe(true);
  });

  it('never uses a boundary that occurs in the file, and refuses a wrong RUT', () => {
    const file = Buffer.from('--XyZ inside');
    const { boundary } = buildUploadMultipart({ rutSender: '12345678-5', rutCompany: '76086428-5', file, boundary: 'XyZ' });
    expect(boundary).not.toBe('XyZ');
    expect(file.includes(boundary)).toBe(false);
    expect(() => buildUploadMultipart({ rutSender: '12345678-9', rutCompany: '76086428-5', file })).toThrow(/check digit/);
  });
});

describe('QueryEstUp getEstUp', () => {
  const counts = (t: number, i: number, a: number, r: number, p: number) =>
    `<TIPO_DOCTO>${t}</TIPO_DOCTO><INFORMADOS>${i}</INFORMADOS><ACEPTADOS>${a}</ACEPTADOS><RECHAZADOS>${r}</RECHAZADOS><REPAROS>${p}</REPAROS>`;

  it('EPR with RESP_BODY before RESP_HDR: counts decide (reparos → accepted_with_reparos), track id with leading zero', () => {
    const soap = estUpAnswer(
      '<TRACKID>0251753678</TRACKID><ESTADO>EPR</ESTADO><GLOSA>Envio Procesado</GLOSA><NUM_ATENCION>532 ( 2004/06/14 16:44:20)</NUM_ATENCION>',
      counts(33, 4, 3, 0, 1),
    );
    expect(parseGetEstUpResponse(soap, '0251753678')).toEqual({
      trackId: '0251753678',
      estado: 'EPR',
      glosa: 'Envio Procesado',
      final: true,
      outcome: 'accepted_with_reparos',
      counts: [{ tipoDte: 33, informados: 4, aceptados: 3, rechazados: 0, reparos: 1 }],
      numAtencion: '532 ( 2004/06/14 16:44:20)',
    });
  });

  it('RESP_HDR before RESP_BODY, several types: some rejected → partially_rejected; all rejected → rejected; none → accepted', () => {
    const inner = (body: string) =>
      soapAnswer('getEstUp', respuesta(`<SII:RESP_HDR><TRACKID>1</TRACKID><ESTADO>EPR</ESTADO><GLOSA>Envio Procesado</GLOSA></SII:RESP_HDR><SII:RESP_BODY>${body}</SII:RESP_BODY>`));
    const partially = parseGetEstUpResponse(inner(counts(33, 2, 2, 0, 0) + counts(61, 1, 0, 1, 0)), '1');
    expect(partially.outcome).toBe('partially_rejected');
    expect(partially.counts.map((c) => c.tipoDte)).toEqual([33, 61]);
    expect(parseGetEstUpResponse(inner(counts(33, 2, 0, 2, 0)), '1').outcome).toBe('rejected');
    expect(parseGetEstUpResponse(inner(counts(33, 2, 2, 0, 0)), '1').outcome).toBe('accepted');
  });

  it.each([
    ['RSC', 'rejected', true],
    ['RCT', 'rejected', true],
    ['RFR', 'rejected', true],
    ['RPR', 'accepted_with_reparos', true],
    ['RLV', 'accepted_with_reparos', true],
    ['LSO', 'accepted', true],
    ['REC', 'pending', false],
    ['SOK', 'pending', false],
    ['FOK', 'pending', false],
    ['PDR', 'pending', false],
    ['CRT', 'pending', false],
    ['PRD', 'pending', false],
  ])('ESTADO %s → %s (final %s)', (estado, outcome, final) => {
    const r = parseGetEstUpResponse(estUpAnswer(`<TRACKID>9</TRACKID><ESTADO>${estado}</ESTADO>`), '9');
    expect([r.outcome, r.final]).toEqual([outcome, final]);
    expect(r.glosa).not.toBe('');
  });

  it('reads the ESTADO from RESP_BODY when RESP_HDR only says "0 consulta correcta"', () => {
    const soap = soapAnswer(
      'getEstUp',
      respuesta('<SII:RESP_HDR><ESTADO>0</ESTADO><GLOSA>consulta correcta</GLOSA></SII:RESP_HDR><SII:RESP_BODY><TRACKID>251550580</TRACKID><ESTADO>EPR</ESTADO><GLOSA>Envio Procesado</GLOSA></SII:RESP_BODY>'),
    );
    expect(parseGetEstUpResponse(soap, '251550580')).toMatchObject({ estado: 'EPR', glosa: 'Envio Procesado', outcome: 'accepted', final: true });
  });

  it('token errors 001–003 → ERR_SII_TOKEN_EXPIRED; 106 and -3 → ERR_SII_QUERY_FAILED; unknown ESTADO → ERR_SII_PROTOCOL', () => {
    for (const t of ['001', '002', '003']) {
      const e = siiError(() => parseGetEstUpResponse(estUpAnswer(`<ESTADO>${t}</ESTADO><GLOSA>Token Inactivo</GLOSA>`), '1'));
      expect([e.code, e.siiCode]).toEqual(['ERR_SII_TOKEN_EXPIRED', t]);
    }
    expect(siiError(() => parseGetEstUpResponse(estUpAnswer('<ESTADO>106</ESTADO>'), '1'))).toMatchObject({ code: 'ERR_SII_QUERY_FAILED', siiCode: '106' });
    expect(siiError(() => parseGetEstUpResponse(estUpAnswer('<ESTADO>-3</ESTADO>'), '1'))).toMatchObject({ code: 'ERR_SII_QUERY_FAILED', siiCode: '-3' });
    expect(siiError(() => parseGetEstUpResponse(estUpAnswer('<ESTADO>XYZ</ESTADO>'), '1'))).toMatchObject({ code: 'ERR_SII_PROTOCOL', siiCode: 'XYZ' });
  });

  it('-11: pending with errCode when the SII asks to retry (ERR_CODE 2), a query error when ERR_CODE is 1', () => {
    const retry = parseGetEstUpResponse(estUpAnswer('<ESTADO>-11</ESTADO><ERR_CODE>2</ERR_CODE><SQL_CODE>0</SQL_CODE><SRV_CODE>2</SRV_CODE>'), '77');
    expect(retry).toMatchObject({ trackId: '77', estado: '-11', outcome: 'pending', final: false, errCode: '2', srvCode: '2' });
    const e = siiError(() => parseGetEstUpResponse(estUpAnswer('<ESTADO>-11</ESTADO><ERR_CODE>1</ERR_CODE>'), '77'));
    expect([e.code, e.siiCode]).toEqual(['ERR_SII_QUERY_FAILED', '-11']);
    expect(e.detail).toEqual(['ERR_CODE=1']);
  });

  it('builds getEstUp with exactly RutCompania, DvCompania, TrackId, Token', () => {
    const xml = buildGetEstUpRequest('https://maullin.sii.cl/DTEWS/QueryEstUp.jws', { rutCompania: '96874030-k', trackId: '0251552460', token: 'TKN' });
    const body = elements(parseXml(xml).root)[0] as XmlElement;
    const op = elements(body)[0] as XmlElement;
    expect(op.local).toBe('getEstUp');
    expect(op.uri).toBe('https://maullin.sii.cl/DTEWS/QueryEstUp.jws');
    expect(elements(op).map((p) => [p.local, textOf(p)])).toEqual([
      ['RutCompania', '96874030'],
      ['DvCompania', 'K'],
      ['TrackId', '0251552460'],
      ['Token', 'TKN'],
    ]);
  });
});

describe('QueryEstDte getEstDte', () => {
  const estDte = (hdr: string) => soapAnswer('getEstDte', respuesta(`<SII:RESP_HDR>${hdr}</SII:RESP_HDR>`), { service: 'https://maullin.sii.cl/DTEWS/QueryEstDte.jws' });

  it('DOK with SII:-prefixed header fields', () => {
    const r = parseGetEstDteResponse(
      estDte('<SII:ESTADO>DOK</SII:ESTADO><SII:GLOSA_ESTADO>Documento Recibido por el SII. Datos Coinciden con los Registrados</SII:GLOSA_ESTADO><SII:ERR_CODE>2</SII:ERR_CODE><SII:GLOSA_ERR>-</SII:GLOSA_ERR><SII:NUM_ATENCION>12 (2026/11/28 10:00:00)</SII:NUM_ATENCION>'),
    );
    expect(r).toEqual({ estado: 'DOK', glosa: 'Documento Recibido por el SII. Datos Coinciden con los Registrados', recibido: true, errCode: '2', glosaErr: '-', numAtencion: '12 (2026/11/28 10:00:00)' });
  });

  it.each([
    ['DNK', true],
    ['FAU', false],
    ['FNA', false],
    ['FAN', false],
    ['EMP', false],
    ['TMD', true],
    ['ANC', true],
  ])('%s → recibido %s', (estado, recibido) => {
    expect(parseGetEstDteResponse(estDte(`<ESTADO>${estado}</ESTADO>`)).recibido).toBe(recibido);
  });

  it('token errors → ERR_SII_TOKEN_EXPIRED; -1…-4 → ERR_SII_QUERY_FAILED; unknown → ERR_SII_PROTOCOL', () => {
    expect(siiError(() => parseGetEstDteResponse(estDte('<ESTADO>002</ESTADO>')))).toMatchObject({ code: 'ERR_SII_TOKEN_EXPIRED', siiCode: '002' });
    expect(siiError(() => parseGetEstDteResponse(estDte('<ESTADO>-3</ESTADO>')))).toMatchObject({ code: 'ERR_SII_QUERY_FAILED', siiCode: '-3' });
    expect(siiError(() => parseGetEstDteResponse(estDte('<ESTADO>QQQ</ESTADO>')))).toMatchObject({ code: 'ERR_SII_PROTOCOL' });
  });

  it('builds the 11 parameters in the WSDL order, the date as DDMMAAAA', () => {
    const xml = buildGetEstDteRequest(
      'https://palena.sii.cl/DTEWS/QueryEstDte.jws',
      { rutConsultante: '12345678-5', rutCompania: '76086428-5', rutReceptor: '96874030-K', tipoDte: 33, folio: 170, fechaEmision: '2026-11-05', montoTotal: 124331 },
      'TKN',
    );
    const op = elements(elements(parseXml(xml).root)[0] as XmlElement)[0] as XmlElement;
    expect(elements(op).map((p) => [p.local, textOf(p)])).toEqual([
      ['RutConsultante', '12345678'],
      ['DvConsultante', '5'],
      ['RutCompania', '76086428'],
      ['DvCompania', '5'],
      ['RutReceptor', '96874030'],
      ['DvReceptor', 'K'],
      ['TipoDte', '33'],
      ['FolioDte', '170'],
      ['FechaEmisionDte', '05112026'],
      ['MontoDte', '124331'],
      ['Token', 'TKN'],
    ]);
    expect(toDdmmaaaa('2026-01-31')).toBe('31012026');
    expect(() => toDdmmaaaa('31-01-2026')).toThrow(SiiError);
  });
});

describe('boleta REST JSON', () => {
  it('envío answer: trackid as a number or with leading zeros keeps its digits', () => {
    const json = '{"rut_emisor":"76086428-5","rut_envia":"12345678-5","trackid":12345678901,"fecha_recepcion":"2026-11-28 10:00:00","estado":"REC","file":"envio.xml"}';
    expect(parseBoletaEnvioResponse(json)).toEqual({ trackId: '12345678901', estado: 'REC', rutEmisor: '76086428-5', rutEnvia: '12345678-5', fechaRecepcion: '2026-11-28 10:00:00', file: 'envio.xml' });
    expect(parseBoletaEnvioResponse('{"trackid":"000123","estado":"REC"}').trackId).toBe('000123');
    expect(parseBoletaEnvioResponse(Buffer.from('{"trackid": 98765432109876543210, "estado":"REC"}')).trackId).toBe('98765432109876543210');
  });

  it('estado of an envío with estadistica and detalle_rep_rech, as the OpenAPI shows it', () => {
    const json = JSON.stringify({
      rut_emisor: '45000054-K',
      rut_envia: '8315495-0',
      trackid: 1014,
      fecha_recepcion: '30/07/2020 07:57:42',
      estado: 'EPR',
      estadistica: [
        { tipo: 39, informados: 3, aceptados: 2, rechazados: 1, reparos: 0 },
        { tipo: 41, informados: 1, aceptados: 0, rechazados: 0, reparos: 1 },
      ],
      detalle_rep_rech: [
        { tipo: 39, folio: 1202, estado: 'RCH', descripcion: 'Dte Rechazado', error: [{ seccion: 'HED', linea: 222, nivel: 3, codigo: 100, descripcion: 'Valor Detalle Distinto a Precio * Cantidad', detalle: '[2500 <> 3500]' }] },
      ],
    });
    const r = parseBoletaEnvioEstadoResponse(json, '1014');
    expect(r).toMatchObject({ trackId: '1014', estado: 'EPR', final: true, outcome: 'partially_rejected', rutEmisor: '45000054-K', fechaRecepcion: '30/07/2020 07:57:42' });
    expect(r.counts).toEqual([
      { tipoDte: 39, informados: 3, aceptados: 2, rechazados: 1, reparos: 0 },
      { tipoDte: 41, informados: 1, aceptados: 0, rechazados: 0, reparos: 1 },
    ]);
    expect(r.detalle).toEqual([
      { tipoDte: 39, folio: 1202, estado: 'RCH', descripcion: 'Dte Rechazado', errores: [{ seccion: 'HED', linea: 222, nivel: 3, codigo: '100', descripcion: 'Valor Detalle Distinto a Precio * Cantidad', detalle: '[2500 <> 3500]' }] },
    ]);
  });

  it('REC is pending; everything accepted is accepted; unknown estado, HTML and broken JSON are typed errors', () => {
    expect(parseBoletaEnvioEstadoResponse('{"trackid":5,"estado":"REC"}', '5')).toMatchObject({ outcome: 'pending', final: false });
    expect(parseBoletaEnvioEstadoResponse('{"estado":"EPR","estadistica":[{"tipo":39,"informados":5,"aceptados":5}]}', '5')).toMatchObject({ outcome: 'accepted', trackId: '5' });
    expect(siiError(() => parseBoletaEnvioEstadoResponse('{"estado":"ZZZ"}', '5')).code).toBe('ERR_SII_PROTOCOL');
    expect(siiError(() => parseBoletaEnvioEstadoResponse(MAINTENANCE_PAGE, '5')).code).toBe('ERR_SII_UNAVAILABLE');
    expect(siiError(() => parseBoletaEnvioEstadoResponse('{"estado":', '5')).code).toBe('ERR_SII_PROTOCOL');
    expect(siiError(() => parseBoletaEnvioEstadoResponse('{"estado":"EPR","estadistica":[{"tipo":39,"informados":-1}]}', '5')).code).toBe('ERR_SII_PROTOCOL');
  });

  it('estado of one boleta {codigo, descripcion}', () => {
    expect(parseBoletaEstadoResponse('{"codigo":"DNK","descripcion":"Documento Recibido por el SII pero Datos NO Coinciden con los registrados"}')).toEqual({
      estado: 'DNK',
      glosa: 'Documento Recibido por el SII pero Datos NO Coinciden con los registrados',
      recibido: true,
    });
    expect(parseBoletaEstadoResponse('{"codigo":"FAU"}')).toMatchObject({ estado: 'FAU', recibido: false, glosa: 'Documento No Recibido por el SII' });
    expect(siiError(() => parseBoletaEstadoResponse('{"codigo":"EPR"}')).code).toBe('ERR_SII_PROTOCOL');
  });

  it('the estado URL of a boleta', () => {
    const env = resolveEnvironment('certificacion');
    expect(boletaEstadoUrl(env, { rutEmisor: '76086428-5', tipoDte: 39, folio: 17, rutReceptor: '66666666-6', montoTotal: 1190, fechaEmision: '2026-11-28' })).toBe(
      'https://apicert.sii.cl/recursos/v1/boleta.electronica/76086428-5-39-17/estado?rut_receptor=66666666&dv_receptor=6&monto=1190&fechaEmision=28-11-2026',
    );
  });
});

describe('RCV registroreclamodteservice', () => {
  const rcvAnswer = (op: string, ret: string) =>
    `<?xml version="1.0" ?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:${op}Response xmlns:ns2="http://ws.registroreclamodte.diii.sdi.sii.cl"><return>${ret}</return></ns2:${op}Response></S:Body></S:Envelope>`;

  it('ingresarAceptacionReclamoDoc: codResp and descResp', () => {
    expect(parseRcvResponse(rcvAnswer('ingresarAceptacionReclamoDoc', '<codResp>0</codResp><descResp>Acción Completada OK</descResp>'))).toEqual({ codResp: 0, descResp: 'Acción Completada OK' });
    expect(parseRcvResponse(rcvAnswer('ingresarAceptacionReclamoDoc', '<codResp>-1</codResp><descResp>Error Interno</descResp>')).codResp).toBe(-1);
  });

  it('listarEventosHistDoc: the events in order', () => {
    const ev = (c: string, d: string, f: string) =>
      `<listaEventosDoc><codEvento>${c}</codEvento><descEvento>${d}</descEvento><rutResponsable>76543210</rutResponsable><dvResponsable>3</dvResponsable><fechaEvento>${f}</fechaEvento></listaEventosDoc>`;
    const r = parseRcvResponse(rcvAnswer('listarEventosHistDoc', `<codResp>15</codResp><descResp>Listado de eventos del documento</descResp>${ev('ERM', 'Otorga Recibo de Mercaderías o Servicios', '29-09-2026 12:05:36')}${ev('ACD', 'Acepta Contenido del Documento', '29-09-2026 12:06:01')}`));
    expect(r.codResp).toBe(15);
    expect(r.listaEventosDoc?.map((e) => [e.codEvento, e.fechaEvento])).toEqual([
      ['ERM', '29-09-2026 12:05:36'],
      ['ACD', '29-09-2026 12:06:01'],
    ]);
    expect(r.listaEventosDoc?.[0]).toMatchObject({ rutResponsable: '76543210', dvResponsable: '3' });
  });

  it('consultarFechaRecepcionSii: the timestamp as text, or the codes', () => {
    expect(parseFechaRecepcionResponse(rcvAnswer('consultarFechaRecepcionSii', '21-02-2017 19:02:03'))).toEqual({ fechaRecepcion: '21-02-2017 19:02:03' });
    expect(parseFechaRecepcionResponse(rcvAnswer('consultarFechaRecepcionSii', '<codResp>18</codResp><descResp>Documento no ha sido recibido</descResp>'))).toMatchObject({ codResp: 18 });
  });

  it('a SOAP fault is ERR_SII_PROTOCOL; a missing codResp too', () => {
    expect(siiError(() => parseRcvResponse(soapFault('Acceso Denegado'))).code).toBe('ERR_SII_PROTOCOL');
    expect(siiError(() => parseRcvResponse(rcvAnswer('x', '<descResp>?</descResp>'))).code).toBe('ERR_SII_PROTOCOL');
  });

  it('builds rutEmisor, dvEmisor, tipoDoc, folio, accionDoc; refuses an unknown action', () => {
    const xml = buildRcvRequest('ingresarAceptacionReclamoDoc', { rutEmisor: '96874030-k', tipoDoc: 33, folio: 52298 }, 'RCD');
    const op = elements(elements(parseXml(xml).root)[1] as XmlElement)[0] as XmlElement;
    expect(op.local).toBe('ingresarAceptacionReclamoDoc');
    expect(op.uri).toBe('http://ws.registroreclamodte.diii.sdi.sii.cl');
    expect(elements(op).map((p) => [p.local, textOf(p)])).toEqual([
      ['rutEmisor', '96874030'],
      ['dvEmisor', 'K'],
      ['tipoDoc', '33'],
      ['folio', '52298'],
      ['accionDoc', 'RCD'],
    ]);
    expect(() => buildRcvRequest('ingresarAceptacionReclamoDoc', { rutEmisor: '96874030-K', tipoDoc: 33, folio: 1 }, 'XXX' as never)).toThrow(SiiError);
    const list = buildRcvRequest('listarEventosHistDoc', { rutEmisor: '96874030-K', tipoDoc: 33, folio: 1 });
    expect(list).not.toContain('accionDoc');
  });
});
