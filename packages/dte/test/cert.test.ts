import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPkcs12, MAX_PKCS12_ITERATIONS, rutFromCertificate, rutFromText } from '../src/cert.js';
import { TimbreError } from '../src/errors.js';
import { generateFixtures, type Fixtures } from '../src/fixtures.js';

const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;

let fx: Fixtures;
let tmp: string;

const f = (name: string): string => path.join(tmp, name);
const openssl = (...args: string[]): string => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const pemBody = (pem: string): string => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

function codeOf(fn: () => unknown): { code?: string; message?: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof TimbreError) return { code: e.code, message: e.message };
    throw e;
  }
  return {};
}

/** A self-signed certificate + PKCS#12 made by openssl (independent of our generator). */
function opensslP12(name: string, opts: { subj: string; san?: string; password: string; extra?: string[] }): Buffer {
  openssl(
    'req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-days', '30',
    '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-subj', opts.subj,
    ...(opts.san ? ['-addext', `subjectAltName=${opts.san}`] : []),
  );
  openssl('pkcs12', '-export', '-in', f(`${name}.crt`), '-inkey', f(`${name}.key`), '-passout', `pass:${opts.password}`, '-out', f(`${name}.p12`), ...(opts.extra ?? []));
  return readFileSync(f(`${name}.p12`));
}

/** `openssl asn1parse` of the subjectAltName extension value of a certificate file. */
function sanDump(certFile: string): string {
  const lines = openssl('asn1parse', '-in', certFile).split('\n');
  const i = lines.findIndex((l) => l.includes('X509v3 Subject Alternative Name'));
  const octet = lines.slice(i + 1).find((l) => l.includes('OCTET STRING'));
  const offset = /^\s*(\d+):/.exec(octet ?? '')?.[1];
  if (i < 0 || !offset) throw new Error('no subjectAltName');
  return openssl('asn1parse', '-in', certFile, '-strparse', offset);
}

beforeAll(() => {
  fx = generateFixtures({ signerRut: '12.345.678-5', p12Password: 'timbre' });
  tmp = mkdtempSync(path.join(tmpdir(), 'timbre-cert-'));
  writeFileSync(f('fx.p12'), fx.p12);
  writeFileSync(f('fx.crt'), fx.certificatePem);
  if (HAS_OPENSSL) {
    openssl('pkcs12', '-in', f('fx.p12'), '-passin', 'pass:timbre', '-nocerts', '-nodes', '-out', f('fx.key'));
    openssl('req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-days', '3', '-keyout', f('other.key'), '-out', f('other.crt'), '-subj', '/CN=Other/serialNumber=12345678-5');
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadPkcs12 on the generated fixture (3DES, forge)', () => {
  it('reads key, certificate and the RUT from subjectAltName', () => {
    const c = loadPkcs12(fx.p12, 'timbre');
    expect(c.rut).toBe('12345678-5');
    expect(c.rutSource).toBe('subjectAltName');
    expect(c.subjectCn).toMatch(/NO VALIDO SII/);
    expect(c.subject).toMatch(/O=TIMBRE TEST CERTIFICATE - NOT VALID FOR THE SII/);
    expect(c.subject).toBe(c.issuer);
    expect(pemBody(c.certificatePem)).toBe(pemBody(fx.certificatePem));
    const x = new X509Certificate(fx.certificatePem);
    expect(c.serialNumber).toBe(x.serialNumber.toUpperCase());
    expect(c.notBefore.getTime()).toBe(new Date(x.validFrom).getTime());
    expect(c.notAfter.getTime() - c.notBefore.getTime()).toBeGreaterThanOrEqual(730 * 86400_000);
    // the signing key signs what the certificate verifies, and KeyValue matches the certificate
    const sig = sign('sha1', Buffer.from('hola'), c.signingKey.privateKey);
    expect(verify('sha1', Buffer.from('hola'), x.publicKey, sig)).toBe(true);
    const jwk = x.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    expect(c.signingKey.modulusB64).toBe(Buffer.from(jwk.n, 'base64url').toString('base64'));
    expect(c.signingKey.exponentB64).toBe('AQAB');
    expect(c.signingKey.certificateDer.equals(Buffer.from(x.raw))).toBe(true);
  });

  it('refuses a wrong password with ERR_CERT_BAD_PASSWORD', () => {
    expect(codeOf(() => loadPkcs12(fx.p12, 'Timbre')).code).toBe('ERR_CERT_BAD_PASSWORD');
    expect(codeOf(() => loadPkcs12(fx.p12, '')).code).toBe('ERR_CERT_BAD_PASSWORD');
  });

  it('refuses what is not a PKCS#12 with ERR_CERT_MALFORMED', () => {
    expect(codeOf(() => loadPkcs12(Buffer.from('hola mundo'), 'x')).code).toBe('ERR_CERT_MALFORMED');
    expect(codeOf(() => loadPkcs12(Buffer.from(fx.certificatePem), 'x')).code).toBe('ERR_CERT_MALFORMED');
    expect(codeOf(() => loadPkcs12(new X509Certificate(fx.certificatePem).raw, 'x')).code).toBe('ERR_CERT_MALFORMED');
    expect(codeOf(() => loadPkcs12(new Uint8Array(0), 'x')).code).toBe('ERR_CERT_MALFORMED');
  });

  it('loads a PKCS#12 whose "no password" is the zero-length (null) form', () => {
    const cert = forge.pki.certificateFromPem(fx.certificatePem);
    const c0 = loadPkcs12(fx.p12, 'timbre');
    const key = forge.pki.privateKeyFromPem(c0.signingKey.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
    const der = forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(key, [cert], null, { useMac: true })).getBytes();
    const c = loadPkcs12(Buffer.from(der, 'binary'), '');
    expect(c.rut).toBe('12345678-5');
    expect(codeOf(() => loadPkcs12(Buffer.from(der, 'binary'), 'x')).code).toBe('ERR_CERT_BAD_PASSWORD');
  });

  it('checks validity at `now` unless requireValid is false', () => {
    const c = loadPkcs12(fx.p12, 'timbre');
    const after = new Date(c.notAfter.getTime() + 1000);
    const before = new Date(c.notBefore.getTime() - 1000);
    expect(codeOf(() => loadPkcs12(fx.p12, 'timbre', { now: after })).code).toBe('ERR_CERT_EXPIRED');
    expect(codeOf(() => loadPkcs12(fx.p12, 'timbre', { now: before })).code).toBe('ERR_CERT_NOT_YET_VALID');
    expect(loadPkcs12(fx.p12, 'timbre', { now: after, requireValid: false }).rut).toBe('12345678-5');
    expect(loadPkcs12(fx.p12, 'timbre', { now: c.notAfter }).rut).toBe('12345678-5'); // inclusive bounds
  });
});

describe.skipIf(!HAS_OPENSSL)('interoperability with openssl', () => {
  it('openssl pkcs12 reads our PKCS#12 (3DES key bag, SHA-1 MAC, friendlyName)', () => {
    const info = execFileSync('openssl', ['pkcs12', '-info', '-in', f('fx.p12'), '-passin', 'pass:timbre', '-nokeys'], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(info.toString()).toMatch(/friendlyName: TIMBRE TEST MATERIAL - NOT VALID FOR THE REAL SII/);
    const meta = spawnSync('openssl', ['pkcs12', '-info', '-in', f('fx.p12'), '-passin', 'pass:timbre', '-noout']);
    expect(meta.status).toBe(0);
    expect(meta.stderr.toString()).toMatch(/Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/);
    expect(spawnSync('openssl', ['pkcs12', '-info', '-in', f('fx.p12'), '-passin', 'pass:wrong', '-noout']).status).not.toBe(0);
  });

  it('the RUT is an IA5String otherName 1.3.6.1.4.1.8321.1 in subjectAltName (openssl x509/asn1parse)', () => {
    expect(openssl('x509', '-in', f('fx.crt'), '-noout', '-text')).toMatch(/othername: 1\.3\.6\.1\.4\.1\.8321\.1::12345678-5/);
    const san = sanDump(f('fx.crt'));
    expect(san).toMatch(/OBJECT\s*:1\.3\.6\.1\.4\.1\.8321\.1/);
    expect(san).toMatch(/IA5STRING\s*:12345678-5/);
    expect(openssl('x509', '-in', f('fx.crt'), '-noout', '-subject')).toMatch(/serialNumber ?= ?12345678-5/);
  });

  it('loads a legacy RC2-40 PKCS#12 that OpenSSL 3 itself refuses without -legacy', () => {
    openssl(
      'pkcs12', '-export', '-legacy', '-certpbe', 'PBE-SHA1-RC2-40', '-keypbe', 'PBE-SHA1-3DES',
      '-in', f('fx.crt'), '-inkey', f('fx.key'), '-passout', 'pass:clave', '-out', f('legacy.p12'),
    );
    const meta = spawnSync('openssl', ['pkcs12', '-info', '-legacy', '-in', f('legacy.p12'), '-passin', 'pass:clave', '-noout']);
    expect(meta.stderr.toString()).toMatch(/pbeWithSHA1And40BitRC2-CBC/);
    expect(spawnSync('openssl', ['pkcs12', '-in', f('legacy.p12'), '-passin', 'pass:clave', '-nokeys']).status).not.toBe(0);
    const c = loadPkcs12(readFileSync(f('legacy.p12')), 'clave');
    expect(c.rut).toBe('12345678-5');
    expect(pemBody(c.certificatePem)).toBe(pemBody(fx.certificatePem));
    expect(codeOf(() => loadPkcs12(readFileSync(f('legacy.p12')), 'timbre')).code).toBe('ERR_CERT_BAD_PASSWORD');
  });

  it('loads an OpenSSL 3 default PKCS#12 (PBES2/AES-256, SHA-256 MAC) with a non-ASCII password', () => {
    const p12 = opensslP12('modern', { subj: '/C=CL/CN=Firmante Moderno/serialNumber=12345678-5', password: 'contraseña' });
    const meta = spawnSync('openssl', ['pkcs12', '-info', '-in', f('modern.p12'), '-passin', 'pass:contraseña', '-noout']);
    expect(meta.stderr.toString()).toMatch(/PBES2/);
    const c = loadPkcs12(p12, 'contraseña');
    expect(c).toMatchObject({ rut: '12345678-5', rutSource: 'serialNumber', subjectCn: 'Firmante Moderno' });
    expect(pemBody(c.certificatePem)).toBe(pemBody(readFileSync(f('modern.crt'), 'utf8')));
    expect(codeOf(() => loadPkcs12(p12, 'contrasena')).code).toBe('ERR_CERT_BAD_PASSWORD');
  });

  it('loads a PKCS#12 with an empty password', () => {
    const p12 = opensslP12('empty', { subj: '/CN=Sin Clave/serialNumber=RUT:12.345.678-5', password: '', extra: ['-legacy'] });
    expect(loadPkcs12(p12, '')).toMatchObject({ rut: '12345678-5', rutSource: 'serialNumber' });
  });

  it('accepts the otherName as UTF8String (test tools) and prefers it over serialNumber', () => {
    const p12 = opensslP12('utf8', {
      subj: '/CN=Otro/serialNumber=11111111-1',
      san: 'otherName:1.3.6.1.4.1.8321.1;UTF8:0012345678-5,email:x@example.invalid',
      password: 'x',
    });
    expect(loadPkcs12(p12, 'x')).toMatchObject({ rut: '12345678-5', rutSource: 'subjectAltName' });
    expect(sanDump(f('utf8.crt'))).toMatch(/UTF8STRING\s*:0012345678-5/);
  });

  it('falls back to serialNumber when the otherName holds no valid RUT', () => {
    const p12 = opensslP12('badsan', { subj: '/CN=X/serialNumber=12.345.678-5', san: 'otherName:1.3.6.1.4.1.8321.1;IA5:12345678-4', password: 'x' });
    expect(loadPkcs12(p12, 'x')).toMatchObject({ rut: '12345678-5', rutSource: 'serialNumber' });
  });

  it('ERR_CERT_NO_RUT when the certificate has no RUT, unless the user supplies it', () => {
    const p12 = opensslP12('norut', { subj: '/C=CL/O=Empresa/CN=Juan Sin Rut', password: 'x' });
    const e = codeOf(() => loadPkcs12(p12, 'x'));
    expect(e.code).toBe('ERR_CERT_NO_RUT');
    expect(e.message).toMatch(/supply the signer's RUT/);
    expect(loadPkcs12(p12, 'x', { rut: '12.345.678-5' })).toMatchObject({ rut: '12345678-5', rutSource: 'user' });
    // a supplied RUT contradicting the certificate is refused
    expect(codeOf(() => loadPkcs12(fx.p12, 'timbre', { rut: '11111111-1' })).code).toBe('ERR_INPUT_INVALID');
    expect(loadPkcs12(fx.p12, 'timbre', { rut: '12345678-5' }).rutSource).toBe('subjectAltName');
  });

  it('refuses a PKCS#12 asking for more key-derivation iterations than the limit, quickly', () => {
    openssl('pkcs12', '-export', '-in', f('fx.crt'), '-inkey', f('fx.key'), '-passout', 'pass:x', '-iter', String(MAX_PKCS12_ITERATIONS + 1), '-out', f('iter.p12'));
    const t0 = performance.now();
    expect(codeOf(() => loadPkcs12(readFileSync(f('iter.p12')), 'x')).code).toBe('ERR_CERT_MALFORMED');
    expect(performance.now() - t0).toBeLessThan(500);
    // the usual counts pass
    openssl('pkcs12', '-export', '-in', f('fx.crt'), '-inkey', f('fx.key'), '-passout', 'pass:x', '-iter', '10000', '-out', f('iter2.p12'));
    expect(loadPkcs12(readFileSync(f('iter2.p12')), 'x').rut).toBe('12345678-5');
  });

  it('ERR_CERT_MALFORMED for a PKCS#12 without private key', () => {
    openssl('pkcs12', '-export', '-nokeys', '-in', f('fx.crt'), '-passout', 'pass:x', '-out', f('nokey.p12'));
    expect(codeOf(() => loadPkcs12(readFileSync(f('nokey.p12')), 'x')).code).toBe('ERR_CERT_MALFORMED');
  });

  it('ERR_CERT_MALFORMED for a PKCS#12 with a key but no certificate', () => {
    openssl('pkcs12', '-export', '-nocerts', '-inkey', f('other.key'), '-passout', 'pass:x', '-out', f('keyonly.p12'));
    expect(codeOf(() => loadPkcs12(readFileSync(f('keyonly.p12')), 'x')).code).toBe('ERR_CERT_MALFORMED');
  });

  it('picks the certificate that matches the key among several', () => {
    openssl('pkcs12', '-export', '-in', f('other.crt'), '-inkey', f('other.key'), '-certfile', f('fx.crt'), '-passout', 'pass:x', '-out', f('two.p12'));
    const c = loadPkcs12(readFileSync(f('two.p12')), 'x');
    expect(c.subjectCn).toBe('Other');
    expect(createPublicKey(c.signingKey.privateKey).equals(new X509Certificate(c.certificatePem).publicKey)).toBe(true);
  });
});

describe('rutFromCertificate', () => {
  it('reads the RUT from PEM text, PEM bytes, DER and bare base64', () => {
    const der = Buffer.from(new X509Certificate(fx.certificatePem).raw);
    const want = { rut: '12345678-5', source: 'subjectAltName' };
    expect(rutFromCertificate(fx.certificatePem)).toEqual(want);
    expect(rutFromCertificate(Buffer.from(fx.certificatePem))).toEqual(want);
    expect(rutFromCertificate(der)).toEqual(want);
    expect(rutFromCertificate(der.toString('base64').replace(/(.{76})/g, '$1\n'))).toEqual(want);
  });

  it('returns undefined for garbage instead of throwing', () => {
    expect(rutFromCertificate('not a certificate')).toBeUndefined();
    expect(rutFromCertificate(Buffer.from([0x30, 0x82, 0xff, 0xff, 0x01]))).toBeUndefined();
    expect(rutFromCertificate(Buffer.alloc(0))).toBeUndefined();
    expect(rutFromCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toBeUndefined();
  });
});

describe('rutFromText (serialNumber forms)', () => {
  it.each([
    ['12345678-5', '12345678-5'],
    ['12.345.678-5', '12345678-5'],
    ['RUT:12345678-5', '12345678-5'],
    ['RUT: 12.345.678-5', '12345678-5'],
    ['0012345678-5', '12345678-5'],
    ['96874030-k', '96874030-K'],
    ['123456785', '12345678-5'],
    ['IDCCL-12345678-5', '12345678-5'],
  ])('%s → %s', (input, rut) => {
    expect(rutFromText(input)).toBe(rut);
  });

  it.each([['12345678-4'], ['ABC'], [''], ['2020-01-01'], ['12345678'], ['RUT 12.345.678-K']])('%s → undefined', (input) => {
    expect(rutFromText(input)).toBeUndefined();
  });
});
