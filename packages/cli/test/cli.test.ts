/**
 * End-to-end through the `timbre` command, judged by independent tools: xmllint (SII XSDs),
 * xmlsec1 (XMLDSig) and openssl (TED), for every document type and both envelopes.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  TIPOS,
  boletaDteSchema,
  examplesDir,
  mustTimbre,
  opensslVerifyTed,
  schemasDir,
  timbre,
  tmpDir,
  tool,
  xmllintSchema,
  xmlsecVerify,
} from './helpers.js';

const NOW = '2026-11-27T10:15:00';
let fx: string;
let out: string;
const built = new Map<number, string>();

const cafOf = (tipo: number) => path.join(fx, 'caf', `${tipo}.xml`);
const certArgs = () => ['--cert', path.join(fx, 'cert.p12'), '--cert-password', 'timbre'];
const isBoleta = (t: number) => t === 39 || t === 41;

beforeAll(() => {
  fx = tmpDir('timbre-fx-');
  out = tmpDir('timbre-out-');
  mustTimbre(['fixtures', fx]);
  for (const tipo of TIPOS) {
    const file = path.join(out, `${tipo}.xml`);
    mustTimbre(['dte', 'build', path.join(examplesDir, `${tipo}.json`), ...certArgs(), '--caf', cafOf(tipo), '--now', NOW, '-o', file]);
    built.set(tipo, file);
  }
});

describe('timbre fixtures', () => {
  it('writes a certificate, the fake SII key by IDK, one CAF per type and a manifest, all marked as test material', () => {
    const manifest = JSON.parse(readFileSync(path.join(fx, 'fixtures.json'), 'utf8'));
    expect(manifest.rutEmisor).toBe('76086428-5');
    expect(existsSync(path.join(fx, 'trust', `${manifest.trust.idk}.pem`))).toBe(true);
    expect(manifest.trust.idk).not.toBe(100);
    expect(manifest.trust.idk).not.toBe(300);
    for (const tipo of TIPOS) {
      const caf = readFileSync(cafOf(tipo), 'latin1');
      expect(caf).toMatch(new RegExp(`<TD>${tipo}</TD>`));
      expect(caf).toMatch(/NOT valid for the (real )?SII/i);
    }
    expect(readFileSync(path.join(fx, 'trust', `${manifest.trust.idk}.pem`), 'utf8')).toMatch(/not valid for the (real )?SII/i);
  });
});

describe.each(TIPOS)('document type %i', (tipo) => {
  it('validates with xmllint against the SII XSD', () => {
    const file = built.get(tipo) as string;
    const schema = isBoleta(tipo) ? boletaDteSchema() : path.join(schemasDir, 'DTE_v10.xsd');
    const r = xmllintSchema(file, schema);
    expect(r.out).toContain('validates');
    expect(r.status).toBe(0);
  });

  it('verifies with xmlsec1', () => {
    const r = xmlsecVerify(built.get(tipo) as string, path.join(fx, 'cert.pem'), ['Documento', 'Liquidacion', 'Exportaciones']);
    expect(r.out).toMatch(/^OK/m);
    expect(r.status).toBe(0);
  });

  it('has a TED that openssl verifies with the CAF key', () => {
    const r = opensslVerifyTed(readFileSync(built.get(tipo) as string), cafOf(tipo));
    expect(r.out).toContain('Verified OK');
  });

  it('is ISO-8859-1 with no line over 4096 characters', () => {
    const bytes = readFileSync(built.get(tipo) as string);
    const text = bytes.toString('latin1');
    expect(text.startsWith('<?xml version="1.0" encoding="ISO-8859-1"?>')).toBe(true);
    // The examples carry Spanish characters: they must be single Latin-1 bytes, not UTF-8 pairs.
    expect(text).not.toMatch(/\xC3[\x80-\xBF]/);
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThan(4096);
  });

  it('passes `timbre dte verify` with trusted keys and schemas', () => {
    const r = timbre(['dte', 'verify', built.get(tipo) as string, '--trust', path.join(fx, 'trust'), '--schemas', schemasDir, '--json']);
    const report = JSON.parse(r.stdout);
    expect(report.valid).toBe(true);
    expect(report.schema.valid).toBe(true);
    expect(report.report.documents[0].ted.cafSignatureValid).toBe(true);
    expect(r.status).toBe(0);
  });
});

describe('envelopes', () => {
  let envioDte: string;
  let envioBoleta: string;
  beforeAll(() => {
    const docs = TIPOS.filter((t) => !isBoleta(t)).map((t) => JSON.parse(readFileSync(path.join(examplesDir, `${t}.json`), 'utf8')));
    const list = path.join(out, 'list.json');
    writeFileSync(list, JSON.stringify(docs));
    envioDte = path.join(out, 'envio-dte.xml');
    const cafArgs = TIPOS.flatMap((t) => ['--caf', cafOf(t)]);
    mustTimbre(['dte', 'build', list, ...certArgs(), ...cafArgs, '--envelope', 'sii', '--resolution', '0:2026-11-01', '--now', NOW, '--folio', '100', '-o', envioDte]);
    const bols = path.join(out, 'boletas.json');
    writeFileSync(bols, JSON.stringify([39, 41, 39].map((t) => JSON.parse(readFileSync(path.join(examplesDir, `${t}.json`), 'utf8')))));
    envioBoleta = path.join(out, 'envio-boleta.xml');
    mustTimbre(['dte', 'build', bols, ...certArgs(), ...cafArgs, '--envelope', 'sii', '--resolution', '0:2026-11-01', '--now', NOW, '-o', envioBoleta]);
  });

  it('EnvioDTE validates against EnvioDTE_v10.xsd and EnvioBOLETA against EnvioBOLETA_v11.xsd', () => {
    expect(xmllintSchema(envioDte, path.join(schemasDir, 'EnvioDTE_v10.xsd')).status).toBe(0);
    expect(xmllintSchema(envioBoleta, path.join(schemasDir, 'EnvioBOLETA_v11.xsd')).status).toBe(0);
  });

  it('the SetDTE signature verifies with xmlsec1 in the envelope context', () => {
    const xp = "/*[local-name()='EnvioDTE' or local-name()='EnvioBOLETA']/*[local-name()='Signature']";
    for (const f of [envioDte, envioBoleta]) {
      const r = xmlsecVerify(f, path.join(fx, 'cert.pem'), ['SetDTE', 'Documento', 'Liquidacion', 'Exportaciones'], xp);
      expect(r.out).toMatch(/^OK/m);
    }
  });

  it('carries the carátula of an SII upload: RutEnvia from the certificate, RutReceptor 60803000-K, SubTotDTE per type', () => {
    const text = readFileSync(envioDte, 'latin1');
    expect(text).toContain('<RutEnvia>12345678-5</RutEnvia>');
    expect(text).toContain('<RutReceptor>60803000-K</RutReceptor>');
    expect(text).toContain('<NroResol>0</NroResol>');
    expect(text).toContain('<TpoDTE>33</TpoDTE>\n<NroDTE>1</NroDTE>');
    expect(readFileSync(envioBoleta, 'latin1')).toContain('<TpoDTE>39</TpoDTE>\n<NroDTE>2</NroDTE>');
  });

  it('splices each signed DTE verbatim: cut out of the envelope, it verifies standalone with xmlsec1 and openssl', () => {
    const text = readFileSync(envioDte, 'latin1');
    const dtes = [...text.matchAll(/<DTE xmlns="http:\/\/www\.sii\.cl\/SiiDte" version="1\.0">[\s\S]*?<\/DTE>/g)].map((m) => m[0]);
    expect(dtes).toHaveLength(10);
    dtes.forEach((d, i) => {
      const f = path.join(out, `cut-${i}.xml`);
      writeFileSync(f, Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>\n${d}\n`, 'latin1'));
      expect(xmlsecVerify(f, path.join(fx, 'cert.pem'), ['Documento', 'Liquidacion', 'Exportaciones']).status).toBe(0);
      const tipo = Number(/<TipoDTE>(\d+)<\/TipoDTE>/.exec(d)?.[1]);
      expect(opensslVerifyTed(Buffer.from(d, 'latin1'), cafOf(tipo)).out).toContain('Verified OK');
    });
  });

  it('passes `timbre dte verify` (all signatures, TEDs, carátula, totals, XSD)', () => {
    const r = timbre(['dte', 'verify', envioDte, envioBoleta, '--trust', path.join(fx, 'trust'), '--schemas', schemasDir]);
    expect(r.stdout).not.toContain('FAIL');
    expect(r.status).toBe(0);
  });

  it('a receiver envelope carries the buyer RUT in the carátula', () => {
    const f = path.join(out, 'receiver.xml');
    mustTimbre(['dte', 'build', path.join(examplesDir, '33.json'), ...certArgs(), '--caf', cafOf(33), '--envelope', 'receiver', '--resolution', '80:2014-08-22', '--now', NOW, '-o', f]);
    const text = readFileSync(f, 'latin1');
    const buyer = JSON.parse(readFileSync(path.join(examplesDir, '33.json'), 'utf8')).receptor.rut.replace(/\./g, '').toUpperCase();
    expect(text).toContain(`<RutReceptor>${buyer}</RutReceptor>`);
    expect(text).toContain('<NroResol>80</NroResol>');
    expect(xmllintSchema(f, path.join(schemasDir, 'EnvioDTE_v10.xsd')).status).toBe(0);
  });

  it('refuses boletas and facturas in one envelope', () => {
    const mixed = path.join(out, 'mixed.json');
    writeFileSync(mixed, JSON.stringify([33, 39].map((t) => JSON.parse(readFileSync(path.join(examplesDir, `${t}.json`), 'utf8')))));
    const r = timbre(['dte', 'build', mixed, ...certArgs(), '--caf', cafOf(33), '--caf', cafOf(39), '--envelope', 'sii', '--now', NOW, '-o', path.join(out, 'mixed.xml')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('ERR_ENVELOPE_INVALID');
  });
});

describe('determinism', () => {
  it('same input and --now give byte-identical documents and envelopes', () => {
    for (const args of [[] as string[], ['--envelope', 'sii', '--resolution', '0:2026-11-01']]) {
      const a = path.join(out, 'det-a.xml');
      const b = path.join(out, 'det-b.xml');
      for (const f of [a, b]) mustTimbre(['dte', 'build', path.join(examplesDir, '61.json'), ...certArgs(), '--caf', cafOf(61), '--now', NOW, ...args, '-o', f]);
      expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    }
    const c = path.join(out, 'det-c.xml');
    mustTimbre(['dte', 'build', path.join(examplesDir, '61.json'), ...certArgs(), '--caf', cafOf(61), '--now', '2026-11-27T10:15:01', '-o', c]);
    expect(readFileSync(c).equals(readFileSync(path.join(out, 'det-a.xml')))).toBe(false);
  });
});

describe('broken and hostile inputs', () => {
  const verifyJson = (file: string, extra: string[] = []) => {
    const r = timbre(['dte', 'verify', file, '--json', ...extra]);
    return { ...r, report: JSON.parse(r.stdout) };
  };
  const codes = (report: { report: { errors: { code: string }[]; documents: { errors: { code: string }[] }[] } }) => [
    ...report.report.errors.map((e) => e.code),
    ...report.report.documents.flatMap((d) => d.errors.map((e) => e.code)),
  ];

  it('a tampered amount fails verification (digest) and exit code 1', () => {
    const text = readFileSync(built.get(33) as string, 'latin1');
    const tampered = text.replace(/<MntTotal>(\d+)<\/MntTotal>/, (_m, n) => `<MntTotal>${Number(n) + 1}</MntTotal>`);
    const f = path.join(out, 'tampered.xml');
    writeFileSync(f, Buffer.from(tampered, 'latin1'));
    const r = verifyJson(f);
    expect(r.status).toBe(1);
    expect(r.report.report.documents[0].signature.digestValid).toBe(false);
    expect(codes(r.report)).toContain('ERR_TOTALS_MISMATCH');
    // The independent oracles agree.
    expect(xmlsecVerify(f, path.join(fx, 'cert.pem'), ['Documento']).status).not.toBe(0);
    expect(opensslVerifyTed(readFileSync(f), cafOf(33)).out).toContain('Verified OK'); // the TED's DD was not touched
  });

  it('a swapped certificate fails', () => {
    const other = tmpDir('timbre-fx2-');
    mustTimbre(['fixtures', other, '--tipos', '33']);
    const otherCert = readFileSync(path.join(other, 'cert.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, '');
    const text = readFileSync(built.get(33) as string, 'latin1').replace(/<X509Certificate>[\s\S]*?<\/X509Certificate>/, `<X509Certificate>${otherCert}</X509Certificate>`);
    const f = path.join(out, 'swapped.xml');
    writeFileSync(f, Buffer.from(text, 'latin1'));
    const r = verifyJson(f);
    expect(r.status).toBe(1);
    expect(r.report.report.documents[0].signature.valid).toBe(false);
    expect(xmlsecVerify(f, path.join(fx, 'cert.pem'), ['Documento']).status).not.toBe(0);
  });

  it('a TED of another folio is detected', () => {
    const a = readFileSync(built.get(33) as string, 'latin1');
    const f2 = path.join(out, '33-folio2.xml');
    mustTimbre(['dte', 'build', path.join(examplesDir, '33.json'), ...certArgs(), '--caf', cafOf(33), '--folio', '2', '--now', NOW, '-o', f2]);
    const b = readFileSync(f2, 'latin1');
    const tedA = /<TED [\s\S]*?<\/TED>/.exec(a)?.[0] as string;
    const swapped = b.replace(/<TED [\s\S]*?<\/TED>/, tedA);
    const f = path.join(out, 'ted-swap.xml');
    writeFileSync(f, Buffer.from(swapped, 'latin1'));
    const r = verifyJson(f);
    expect(r.status).toBe(1);
    const ted = r.report.report.documents[0].ted;
    expect(ted.fieldMismatches.map((m: { field: string }) => m.field)).toContain('F');
  });

  it('CAF of another RUT or type, expired CAF and folio outside the range are refused at build time', () => {
    const other = tmpDir('timbre-fx3-');
    mustTimbre(['fixtures', other, '--rut', '77894717-K', '--tipos', '33,61']);
    const build = (caf: string, extra: string[] = []) =>
      timbre(['dte', 'build', path.join(examplesDir, '33.json'), ...certArgs(), '--caf', caf, '--now', NOW, ...extra, '-o', path.join(out, 'x.xml')]);
    expect(build(path.join(other, 'caf', '33.xml')).stderr).toMatch(/ERR_CAF_(WRONG_EMISOR|WRONG_TIPO)/);
    expect(build(cafOf(61)).stderr).toMatch(/ERR_CAF_WRONG_TIPO/);
    expect(build(cafOf(33), ['--folio', '1001']).stderr).toMatch(/ERR_CAF_FOLIO_OUT_OF_RANGE/);
    const old = tmpDir('timbre-fx4-');
    mustTimbre(['fixtures', old, '--tipos', '33', '--fecha', '2026-04-01']);
    const r = build(path.join(old, 'caf', '33.xml'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ERR_CAF_EXPIRED/);
  });

  it('a CAF not signed by a trusted key is reported with --trust', () => {
    const r = verifyJson(built.get(33) as string, ['--trust', siiKeysOrFixture()]);
    expect(r.status).toBe(1);
    expect(codes(r.report)).toContain('ERR_CAF_SIGNATURE_INVALID');
  });

  it('entity expansion, external entities, deep nesting, huge and truncated files give typed errors', () => {
    const cases: [string, Buffer, string][] = [
      ['laughs.xml', Buffer.from('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><DTE>&b;</DTE>'), 'ERR_XML_FORBIDDEN_FEATURE'],
      ['xxe.xml', Buffer.from('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><DTE>&x;</DTE>'), 'ERR_XML_FORBIDDEN_FEATURE'],
      ['deep.xml', Buffer.from(`${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}`), 'ERR_XML_TOO_DEEP'],
      ['huge.xml', Buffer.concat([Buffer.from('<DTE>'), Buffer.alloc(50 * 1024 * 1024, 0x61), Buffer.from('</DTE>')]), 'ERR_XML_TOO_LARGE'],
      ['truncated.xml', readFileSync(built.get(33) as string).subarray(0, 2000), 'ERR_XML_MALFORMED'],
      ['badutf8.xml', Buffer.concat([Buffer.from('<?xml version="1.0" encoding="UTF-8"?><DTE>'), Buffer.from([0xc3, 0x28]), Buffer.from('</DTE>')]), 'ERR_XML_ENCODING'],
      ['ebcdic.xml', Buffer.from('<?xml version="1.0" encoding="EBCDIC-XYZ"?><DTE/>'), 'ERR_XML_ENCODING'],
      ['empty.xml', Buffer.alloc(0), 'ERR_XML_MALFORMED'],
    ];
    for (const [name, bytes, code] of cases) {
      const f = path.join(out, name);
      writeFileSync(f, bytes);
      const r = verifyJson(f);
      expect(r.status, name).toBe(1);
      expect(codes(r.report), name).toContain(code);
    }
  });
});

describe('timbre dte verify on CAF files', () => {
  it('checks the SII signature of a CAF against the trust directory, and detects a changed range', () => {
    const ok = timbre(['dte', 'verify', cafOf(33), '--trust', path.join(fx, 'trust'), '--json']);
    expect(ok.status).toBe(0);
    const rep = JSON.parse(ok.stdout).report;
    expect(rep.caf).toMatchObject({ rutEmisor: '76086428-5', tipoDte: 33, desde: 1, hasta: 1000, signatureValid: true, hasPrivateKey: true });
    expect(ok.stdout).not.toContain('RSA PRIVATE KEY');
    const untrusted = timbre(['dte', 'verify', cafOf(33), '--trust', siiKeysOrFixture(), '--json']);
    expect(untrusted.status).toBe(1);
    expect(JSON.parse(untrusted.stdout).report.errors[0].code).toBe('ERR_CAF_UNTRUSTED_KEY');
    const f = path.join(out, 'caf-tampered.xml');
    writeFileSync(f, Buffer.from(readFileSync(cafOf(33), 'latin1').replace('<H>1000</H>', '<H>9000</H>'), 'latin1'));
    const bad = timbre(['dte', 'verify', f, '--trust', path.join(fx, 'trust'), '--json']);
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).report.errors[0].code).toBe('ERR_CAF_SIGNATURE_INVALID');
  });
});

describe('certificates', () => {
  it('a certificate without RUT is refused with a clear error, and accepted with --signer-rut', () => {
    const dir = tmpDir('timbre-norut-');
    const key = path.join(dir, 'k.pem');
    const crt = path.join(dir, 'c.pem');
    const p12 = path.join(dir, 'c.p12');
    expect(tool('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=Sin RUT', '-days', '30', '-keyout', key, '-out', crt]).status).toBe(0);
    expect(tool('openssl', ['pkcs12', '-export', '-inkey', key, '-in', crt, '-out', p12, '-passout', 'pass:x']).status).toBe(0);
    const args = ['dte', 'build', path.join(examplesDir, '33.json'), '--cert', p12, '--cert-password', 'x', '--caf', cafOf(33), '-o', path.join(dir, 'o.xml')];
    const r = timbre(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('ERR_CERT_NO_RUT');
    const ok = timbre([...args, '--envelope', 'sii', '--signer-rut', '11.111.111-1']);
    expect(ok.status).toBe(0);
    expect(readFileSync(path.join(dir, 'o.xml'), 'latin1')).toContain('<RutEnvia>11111111-1</RutEnvia>');
    expect(timbre([...args, '--cert-password', 'wrong']).stderr).toContain('ERR_CERT_BAD_PASSWORD');
  });
});

describe('timbre dte parse', () => {
  it('prints the typed model', () => {
    const r = mustTimbre(['dte', 'parse', built.get(61) as string]);
    const model = JSON.parse(r.stdout);
    expect(model.encabezado.idDoc.tipoDte).toBe(61);
    expect(model.encabezado.idDoc.folio).toBe(1);
    expect(model.referencia[0].codRef).toBeGreaterThan(0);
  });
});

function siiKeysOrFixture(): string {
  // The real SII keys (IDK 100/300) do not sign our fixture CAFs.
  return path.resolve(schemasDir, '../keys');
}
