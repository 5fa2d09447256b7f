/**
 * Test material with the exact shape of the real thing, generated at run time (never committed):
 * a signer certificate in PKCS#12 carrying a RUT like Chilean certificates do, a fake "SII" key
 * pair, and one CAF per document type signed by that fake key, laid out and encoded (ISO-8859-1,
 * no encoding declaration) like the SII's CAF files. Everything is visibly marked as NOT valid
 * for the real SII: the certificate CN/O, an XML comment before the root of every CAF file (outside
 * `<CAF>`, so TEDs stay clean) and a comment line before `-----BEGIN` in the fake SII key PEMs.
 *
 * Pure: returns bytes and strings; the CLI writes the files.
 */
import { generateKeyPairSync, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { TimbreError } from './errors.js';
import { Rut } from './rut.js';
import { siiDate, siiTimestamp } from './time.js';
import { TIPOS_DTE } from './tipos.js';
import { OID_RUT_OTHERNAME } from './cert.js';
import { isIsoDate } from './caf.js';
import { escapeText, toLatin1Text } from './xml/text.js';

/**
 * IDK of the fake SII key. The SII's real keys are 100 (certificación) and 300 (producción);
 * 999999999 cannot be mistaken for them, is visibly artificial, and fits xs:long (and int32).
 */
export const FIXTURE_SII_IDK = 999_999_999;

export const FIXTURE_MARK = 'TIMBRE TEST MATERIAL - NOT VALID FOR THE REAL SII';

export interface GenerateFixturesOptions {
  /** Issuer of the CAFs (RE), default `76086428-5`. */
  rutEmisor?: string;
  /** RS of the CAFs (cut to 40 characters), default `EMPRESA DEMO TIMBRE DISEÑO SPA` (Ñ exercises Latin-1). */
  razonSocial?: string;
  /** Certificate holder, default `12345678-5`. */
  signerRut?: string;
  signerName?: string;
  /** Default `timbre`. */
  p12Password?: string;
  /** Fake SII key id, default FIXTURE_SII_IDK (999999999). */
  idk?: number;
  /** Default: all 12 types (33 34 39 41 43 46 52 56 61 110 111 112). */
  tipos?: number[];
  /** Default 1. */
  desde?: number;
  /** Default 1000. */
  hasta?: number;
  /** FA, default: 30 days before `now` (Chilean date). */
  fechaAutorizacion?: string;
  /** Reference moment (certificate validity, default FA), default now. */
  now?: Date;
}

export interface Fixtures {
  p12: Buffer;
  p12Password: string;
  certificatePem: string;
  signerRut: string;
  sii: { idk: number; publicKeyPem: string; privateKeyPem: string };
  /** One CAF file per type: ISO-8859-1 bytes, no encoding declaration, like the SII's. */
  cafs: Array<{ tipoDte: number; xml: Buffer }>;
}

export function generateFixtures(opts: GenerateFixturesOptions = {}): Fixtures {
  const now = opts.now ?? new Date();
  const rutEmisor = Rut.parse(opts.rutEmisor ?? '76086428-5', { field: 'rutEmisor' }).canonical;
  const signerRut = Rut.parse(opts.signerRut ?? '12345678-5', { field: 'signerRut' }).canonical;
  const razonSocial = cut40(toLatin1Text((opts.razonSocial ?? 'EMPRESA DEMO TIMBRE DISEÑO SPA').trim(), 'razonSocial'));
  if (razonSocial === '') throw new TimbreError('ERR_INPUT_INVALID', 'razonSocial is empty', { field: 'razonSocial' });
  const signerName = (opts.signerName ?? 'USUARIO DE PRUEBA').trim() || 'USUARIO DE PRUEBA';
  const p12Password = opts.p12Password ?? 'timbre';
  const idk = opts.idk ?? FIXTURE_SII_IDK;
  if (!Number.isSafeInteger(idk)) throw new TimbreError('ERR_INPUT_INVALID', `idk ${idk} is not an integer`, { field: 'idk' });
  const tipos = opts.tipos ?? [...TIPOS_DTE];
  for (const t of tipos) {
    if (!Number.isInteger(t) || t <= 0) throw new TimbreError('ERR_INPUT_INVALID', `tipo ${t} is not a document type`, { field: 'tipos' });
  }
  const desde = opts.desde ?? 1;
  const hasta = opts.hasta ?? 1000;
  if (!Number.isSafeInteger(desde) || !Number.isSafeInteger(hasta) || desde < 1 || hasta < desde) {
    throw new TimbreError('ERR_INPUT_INVALID', `folio range ${desde}..${hasta} is invalid`, { field: 'desde' });
  }
  // Default FA: 30 days ago (Chilean date), so documents dated in the last month can be stamped and
  // the 6-month CAFs (33, 43, 46, 56, 61) still have five months ahead.
  const fa = opts.fechaAutorizacion ?? siiDate(siiTimestamp(new Date(now.getTime() - 30 * 24 * 3600 * 1000)));
  if (!isIsoDate(fa)) throw new TimbreError('ERR_INPUT_INVALID', `fechaAutorizacion "${fa}" is not YYYY-MM-DD`, { field: 'fechaAutorizacion' });

  // ---- signer certificate + PKCS#12
  const signer = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { certificatePem, p12 } = buildSignerCertificate(signer.privateKey, { signerRut, signerName, password: p12Password, now });

  // ---- fake SII key
  const sii = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const mark = `# ${FIXTURE_MARK}: fake SII CAF-signing key, IDK ${idk}. Never trust it in production.\n`;
  const siiOut = {
    idk,
    publicKeyPem: mark + (sii.publicKey.export({ type: 'spki', format: 'pem' }) as string),
    privateKeyPem: mark + (sii.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
  };

  // ---- CAFs
  const cafs = tipos.map((tipoDte) => ({
    tipoDte,
    xml: writeCaf({ rutEmisor, razonSocial, tipoDte, desde, hasta, fa, idk, siiKey: sii.privateKey }),
  }));

  return { p12, p12Password, certificatePem, signerRut, sii: siiOut, cafs };
}

function cut40(s: string): string {
  return Array.from(s).slice(0, 40).join('').trim();
}

export interface BuildCafOptions {
  /** The (fake) SII key that signs FRMA. */
  siiKey: KeyObject;
  /** IDK written into the DA (which SII key signed it). */
  idk: number;
  /** RE: the issuer (normalized to canonical form). */
  rutEmisor: string;
  /** RS: cut to 40 characters; characters outside Latin-1 replaced. Default `EMPRESA DE PRUEBA`. */
  razonSocial?: string;
  tipoDte: number;
  desde: number;
  hasta: number;
  /** FA, `YYYY-MM-DD`. */
  fa: string;
}

/**
 * Build one CAF file signed by the given key, laid out like the SII's (ISO-8859-1 bytes, no encoding
 * declaration, a fresh RSA-512 CAF key pair with e=3), marked as test material. Used by
 * `generateFixtures` and by SII simulators that issue CAFs with their own key.
 *
 * @example
 * ```ts
 * const xml = buildCaf({ siiKey, idk: 100, rutEmisor: '76086428-5', tipoDte: 33, desde: 1, hasta: 50, fa: '2026-11-01' });
 * ```
 */
export function buildCaf(opts: BuildCafOptions): Buffer {
  const rutEmisor = Rut.parse(opts.rutEmisor, { field: 'rutEmisor' }).canonical;
  const razonSocial = cut40(toLatin1Text((opts.razonSocial ?? 'EMPRESA DE PRUEBA').trim(), 'razonSocial'));
  if (razonSocial === '') throw new TimbreError('ERR_INPUT_INVALID', 'razonSocial is empty', { field: 'razonSocial' });
  if (!Number.isSafeInteger(opts.idk)) throw new TimbreError('ERR_INPUT_INVALID', `idk ${opts.idk} is not an integer`, { field: 'idk' });
  if (!Number.isInteger(opts.tipoDte) || opts.tipoDte <= 0) throw new TimbreError('ERR_INPUT_INVALID', `tipo ${opts.tipoDte} is not a document type`, { field: 'tipoDte' });
  if (!Number.isSafeInteger(opts.desde) || !Number.isSafeInteger(opts.hasta) || opts.desde < 1 || opts.hasta < opts.desde) {
    throw new TimbreError('ERR_INPUT_INVALID', `folio range ${opts.desde}..${opts.hasta} is invalid`, { field: 'desde' });
  }
  if (!isIsoDate(opts.fa)) throw new TimbreError('ERR_INPUT_INVALID', `fa "${opts.fa}" is not YYYY-MM-DD`, { field: 'fa' });
  return writeCaf({ ...opts, rutEmisor, razonSocial });
}

function writeCaf(o: { rutEmisor: string; razonSocial: string; tipoDte: number; desde: number; hasta: number; fa: string; idk: number; siiKey: KeyObject }): Buffer {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 512, publicExponent: 3 });
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const m = Buffer.from(jwk.n, 'base64url').toString('base64');
  const e = Buffer.from(jwk.e, 'base64url').toString('base64');
  const daLines = [
    '<DA>',
    `<RE>${o.rutEmisor}</RE>`,
    `<RS>${escapeText(o.razonSocial)}</RS>`,
    `<TD>${o.tipoDte}</TD>`,
    `<RNG><D>${o.desde}</D><H>${o.hasta}</H></RNG>`,
    `<FA>${o.fa}</FA>`,
    `<RSAPK><M>${m}</M><E>${e}</E></RSAPK>`,
    `<IDK>${o.idk}</IDK>`,
    '</DA>',
  ];
  // What the SII signs: the DA with no whitespace between tags, ISO-8859-1 bytes.
  const frma = cryptoSign('sha1', Buffer.from(daLines.join(''), 'latin1'), o.siiKey).toString('base64');
  const text = [
    '<?xml version="1.0"?>',
    `<!-- ${FIXTURE_MARK}: test CAF generated by Timbre, not issued by the SII -->`,
    '<AUTORIZACION>',
    '<CAF version="1.0">',
    ...daLines,
    `<FRMA algoritmo="SHA1withRSA">${frma}</FRMA>`,
    '</CAF>',
    `<RSASK>${privateKey.export({ type: 'pkcs1', format: 'pem' }) as string}</RSASK>`,
    '',
    `<RSAPUBK>${publicKey.export({ type: 'spki', format: 'pem' }) as string}</RSAPUBK>`,
    '</AUTORIZACION>',
    '',
  ].join('\n');
  return Buffer.from(text, 'latin1');
}

function buildSignerCertificate(
  key: KeyObject,
  o: { signerRut: string; signerName: string; password: string; now: Date },
): { certificatePem: string; p12: Buffer } {
  const forgeKey = forge.pki.privateKeyFromPem(key.export({ type: 'pkcs1', format: 'pem' }) as string) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  const serial = randomBytes(12);
  serial[0] = (serial[0] ?? 0) & 0x7f | 0x10; // positive, no leading zero byte
  cert.serialNumber = serial.toString('hex');
  // Wide validity (2 years back, 3 ahead) so fixtures keep working for documents signed with a
  // past or future --now in tests and demos.
  const notBefore = new Date(o.now.getTime());
  notBefore.setUTCHours(0, 0, 0, 0);
  notBefore.setUTCFullYear(notBefore.getUTCFullYear() - 2);
  const notAfter = new Date(o.now.getTime());
  notAfter.setUTCHours(0, 0, 0, 0);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 3);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const cn = `${o.signerName} - PRUEBA NO VALIDO SII`.slice(0, 64);
  const attrs: forge.pki.CertificateField[] = [
    { shortName: 'C', value: 'CL' },
    { shortName: 'O', value: 'TIMBRE TEST CERTIFICATE - NOT VALID FOR THE SII' },
    { shortName: 'OU', value: 'Solo para pruebas - no valido ante el SII' },
    { shortName: 'CN', value: cn },
    { name: 'serialNumber', value: o.signerRut },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true, emailProtection: true },
    { name: 'subjectKeyIdentifier' },
    { id: '2.5.29.17', value: subjectAltNameWithRut(o.signerRut) },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  const p12Asn1 = forge.pkcs12.toPkcs12Asn1(forgeKey, [cert], o.password, {
    algorithm: '3des',
    friendlyName: `${FIXTURE_MARK} (signer ${o.signerRut})`,
    generateLocalKeyId: true,
  });
  return { certificatePem, p12: Buffer.from(forge.asn1.toDer(p12Asn1).getBytes(), 'binary') };
}

/**
 * subjectAltName as Chilean CAs write it: otherName { 1.3.6.1.4.1.8321.1, [0] IA5String RUT },
 * plus an rfc822Name.
 */
function subjectAltNameWithRut(rut: string): forge.asn1.Asn1 {
  const { Class, Type, create, oidToDer } = forge.asn1;
  return create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    create(Class.CONTEXT_SPECIFIC, 0, true, [
      create(Class.UNIVERSAL, Type.OID, false, oidToDer(OID_RUT_OTHERNAME).getBytes()),
      create(Class.CONTEXT_SPECIFIC, 0, true, [create(Class.UNIVERSAL, Type.IA5STRING, false, rut)]),
    ]),
    create(Class.CONTEXT_SPECIFIC, 1, false, 'prueba-no-valido@timbre.invalid'),
  ]);
}
