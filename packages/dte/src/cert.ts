/**
 * The signer's digital certificate: PKCS#12 (.pfx/.p12) loading and the signer's RUT
 * (sii-spec §1 "Signer identity"; pitfalls 4 and 9).
 *
 * PKCS#12 is read with node-forge because it implements the legacy PBE schemes (RC2-40 and
 * 3DES with SHA-1) that many Chilean CA files use and that OpenSSL 3 refuses without its legacy
 * provider; it also reads the modern PBES2/AES files. The key and certificate are then handed to
 * node:crypto (KeyObject / X509Certificate) for everything else.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { TimbreError } from './errors.js';
import { Rut } from './rut.js';
import { signingKeyFromPem, type SigningKey } from './signing-key.js';

/** OID of the Chilean RUT in subjectAltName otherName (used by the Chilean CAs). */
export const OID_RUT_OTHERNAME = '1.3.6.1.4.1.8321.1';
/** X.520 serialNumber attribute of the subject. */
export const OID_SERIAL_NUMBER = '2.5.4.5';
const OID_COMMON_NAME = '2.5.4.3';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const OID_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';

export type RutSource = 'subjectAltName' | 'serialNumber' | 'user';

export interface Certificado {
  /** The signer's RUT, canonical `12345678-K` (RutEnvia, rutSender). */
  rut: string;
  /** Where the RUT came from; `user` only when the certificate has none and `opts.rut` supplied it. */
  rutSource: RutSource;
  subjectCn?: string;
  /** Subject DN as printed by OpenSSL, one RDN after the other separated by `, `. */
  subject: string;
  issuer: string;
  /** The certificate's serial number (upper-case hex, as OpenSSL prints it). */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  certificatePem: string;
  signingKey: SigningKey;
}

export interface LoadPkcs12Options {
  /** The moment the certificate must be valid at (default: now). */
  now?: Date;
  /** Refuse a certificate that is expired or not yet valid at `now` (default true). */
  requireValid?: boolean;
  /**
   * The signer's RUT, for certificates that carry none (some CAs put it nowhere machine-readable).
   * Used only then; when the certificate has a RUT and this differs, ERR_INPUT_INVALID.
   */
  rut?: string;
}

/**
 * Read a PKCS#12 file: the RSA key, the certificate that matches it, and the signer's RUT.
 *
 * Errors: ERR_CERT_BAD_PASSWORD (MAC or decryption fails), ERR_CERT_MALFORMED (not PKCS#12, no key,
 * no certificate for the key, non-RSA key), ERR_CERT_NO_RUT (no RUT in the certificate and none
 * supplied), ERR_CERT_EXPIRED / ERR_CERT_NOT_YET_VALID (with requireValid, the default).
 */
export function loadPkcs12(bytes: Uint8Array, password: string, opts: LoadPkcs12Options = {}): Certificado {
  const { now = new Date(), requireValid = true } = opts;
  const p12 = openPkcs12(bytes, password);

  // Keys: shrouded (encrypted) and plain key bags.
  const keyBags = [...(p12.getBags({ bagType: OID_SHROUDED_KEY_BAG })[OID_SHROUDED_KEY_BAG] ?? []), ...(p12.getBags({ bagType: OID_KEY_BAG })[OID_KEY_BAG] ?? [])];
  const keys: KeyObject[] = [];
  let nonRsa = false;
  for (const bag of keyBags) {
    try {
      if (bag.key) {
        keys.push(createPrivateKey(forge.pki.privateKeyToPem(bag.key as forge.pki.rsa.PrivateKey)));
      } else if (bag.asn1) {
        const der = Buffer.from(forge.asn1.toDer(bag.asn1).getBytes(), 'binary');
        const k = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
        if (k.asymmetricKeyType === 'rsa') keys.push(k);
        else nonRsa = true;
      }
    } catch {
      // unreadable key bag: ignore it, "no key" is reported below if nothing usable remains
    }
  }
  if (keys.length === 0) {
    throw new TimbreError(
      'ERR_CERT_MALFORMED',
      nonRsa ? 'the PKCS#12 private key is not RSA (the SII requires RSA signatures)' : 'the PKCS#12 file holds no private key',
      { field: 'certificate' },
    );
  }

  // Certificates, as DER.
  const certs: X509Certificate[] = [];
  for (const bag of p12.getBags({ bagType: OID_CERT_BAG })[OID_CERT_BAG] ?? []) {
    try {
      const asn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
      if (!asn1) continue;
      certs.push(new X509Certificate(Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary')));
    } catch {
      // unreadable certificate bag: ignore
    }
  }
  let chosen: { key: KeyObject; cert: X509Certificate } | undefined;
  for (const cert of certs) {
    const key = keys.find((k) => {
      try {
        return cert.checkPrivateKey(k);
      } catch {
        return false;
      }
    });
    if (key) {
      chosen = { key, cert };
      break;
    }
  }
  if (!chosen) {
    throw new TimbreError(
      'ERR_CERT_MALFORMED',
      certs.length === 0 ? 'the PKCS#12 file holds no certificate' : 'no certificate in the PKCS#12 file matches its private key',
      { field: 'certificate' },
    );
  }
  const { key, cert } = chosen;

  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (requireValid) {
    if (now.getTime() > notAfter.getTime()) {
      throw new TimbreError('ERR_CERT_EXPIRED', `the certificate expired on ${notAfter.toISOString()}`, {
        field: 'certificate',
        actual: notAfter.toISOString(),
      });
    }
    if (now.getTime() < notBefore.getTime()) {
      throw new TimbreError('ERR_CERT_NOT_YET_VALID', `the certificate is valid only from ${notBefore.toISOString()}`, {
        field: 'certificate',
        actual: notBefore.toISOString(),
      });
    }
  }

  const info = certificateInfo(cert.raw);
  let rut: string;
  let rutSource: RutSource;
  const supplied = opts.rut !== undefined && opts.rut.trim() !== '' ? Rut.parse(opts.rut, { field: 'rut' }).canonical : undefined;
  if (info?.rut) {
    rut = info.rut.rut;
    rutSource = info.rut.source;
    if (supplied !== undefined && supplied !== rut) {
      throw new TimbreError('ERR_INPUT_INVALID', `the certificate belongs to RUT ${rut}, not ${supplied}`, {
        field: 'rut',
        expected: rut,
        actual: supplied,
      });
    }
  } else if (supplied !== undefined) {
    rut = supplied;
    rutSource = 'user';
  } else {
    throw new TimbreError(
      'ERR_CERT_NO_RUT',
      'the certificate carries no RUT (neither subjectAltName otherName 1.3.6.1.4.1.8321.1 nor subject serialNumber); ' +
        "supply the signer's RUT yourself (option rut)",
      { field: 'certificate' },
    );
  }

  const certificatePem = cert.toString();
  const out: Certificado = {
    rut,
    rutSource,
    subject: oneLineDn(cert.subject),
    issuer: oneLineDn(cert.issuer),
    serialNumber: cert.serialNumber.toUpperCase(),
    notBefore,
    notAfter,
    certificatePem,
    signingKey: signingKeyFromPem(key.export({ format: 'pem', type: 'pkcs8' }) as string, certificatePem),
  };
  if (info?.cn !== undefined) out.subjectCn = info.cn;
  return out;
}

/**
 * The RUT of a certificate's holder: subjectAltName otherName 1.3.6.1.4.1.8321.1 (IA5String in real
 * Chilean certificates, UTF8String from some test tools; any ASN.1 string type accepted), else the
 * subject serialNumber (forms `12345678-9`, `12.345.678-9`, `RUT:12345678-9`, `0012345678-9`).
 * Accepts DER bytes, PEM text (bytes or string) or bare base64 (as in X509Certificate of a
 * signature). Leading zeros are stripped, the check digit upper-cased and validated; a value
 * with a wrong check digit is not taken as a RUT. Never throws: undefined when nothing is found.
 */
export function rutFromCertificate(certDerOrPem: Uint8Array | string): { rut: string; source: 'subjectAltName' | 'serialNumber' } | undefined {
  const der = toDer(certDerOrPem);
  return der ? certificateInfo(der)?.rut : undefined;
}

// ---------------------------------------------------------------------------------------------

function openPkcs12(bytes: Uint8Array, password: string): forge.pkcs12.Pkcs12Pfx {
  let asn1: forge.asn1.Asn1;
  try {
    const bin = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('binary');
    asn1 = fromDer(bin, { strict: false, parseAllBytes: false, decodeBitStrings: false });
  } catch (cause) {
    throw new TimbreError('ERR_CERT_MALFORMED', 'the file is not a PKCS#12 (.pfx/.p12) certificate', { field: 'certificate', cause });
  }
  const iterations = maxIterations(asn1);
  if (iterations > MAX_PKCS12_ITERATIONS) {
    throw new TimbreError('ERR_CERT_MALFORMED', `the PKCS#12 file asks for ${iterations} key-derivation iterations (limit ${MAX_PKCS12_ITERATIONS})`, {
      field: 'certificate',
      actual: iterations,
      expected: MAX_PKCS12_ITERATIONS,
    });
  }
  // An empty password is written either as two zero bytes (BMPString terminator) or as nothing.
  const candidates: Array<string | null> = password === '' ? ['', null] : [password];
  let lastError: unknown;
  let macVerified = false;
  for (const pw of candidates) {
    try {
      return forge.pkcs12.pkcs12FromAsn1(asn1, false, pw as string);
    } catch (e) {
      lastError = e;
      const msg = e instanceof Error ? e.message : String(e);
      if (/Cannot read PKCS#12 PFX|Only PKCS#12 PFX in password integrity mode|unsupported MAC algorithm/i.test(msg)) {
        throw new TimbreError('ERR_CERT_MALFORMED', `the file is not a readable PKCS#12 certificate: ${msg}`, { field: 'certificate', cause: e });
      }
      if (/MAC could not be verified/i.test(msg)) continue;
      macVerified = true;
      if (/unsupported|not supported/i.test(msg)) {
        throw new TimbreError('ERR_CERT_MALFORMED', `the PKCS#12 certificate uses an unsupported format: ${msg}`, { field: 'certificate', cause: e });
      }
    }
  }
  // MAC verified but the key does not decrypt: PBES2 (PBKDF2) takes the password as UTF-8 bytes,
  // while forge passes the string's code units; retry with the UTF-8 form, the MAC already being
  // checked with the real password (so it is skipped on this retry).
  if (macVerified && /[\u0080-\uffff]/.test(password)) {
    try {
      const withoutMac = forge.asn1.create(asn1.tagClass, asn1.type, asn1.constructed, (asn1.value as forge.asn1.Asn1[]).slice(0, 2));
      return forge.pkcs12.pkcs12FromAsn1(withoutMac, false, forge.util.encodeUtf8(password));
    } catch (e) {
      lastError = e;
    }
  }
  throw new TimbreError('ERR_CERT_BAD_PASSWORD', 'wrong password for the PKCS#12 certificate (or the file is damaged)', {
    field: 'password',
    cause: lastError,
  });
}

/**
 * Upper bound for the MAC/PBE iteration counts of a PKCS#12 file (real files use 2,000–10,000;
 * node-forge derives keys in JavaScript, ~10 µs per PBKDF2-SHA256 iteration): a hostile file must
 * not keep the process busy for hours.
 */
export const MAX_PKCS12_ITERATIONS = 1_000_000;

/**
 * The largest iteration count in the readable (unencrypted) structures of a PFX: MacData and the
 * PBE / PBKDF2 parameters, all of the form SEQUENCE { …, OCTET STRING salt, INTEGER iterations, … }.
 */
function maxIterations(root: forge.asn1.Asn1): number {
  let max = 0;
  let budget = 20_000; // nodes visited
  const visit = (a: forge.asn1.Asn1, depth: number): void => {
    if (--budget < 0 || depth > 24) return;
    if (Array.isArray(a.value)) {
      const kids = a.value;
      for (let i = 0; i < kids.length; i++) {
        const k = kids[i];
        if (!k) continue;
        const prev = kids[i - 1];
        if (
          prev && prev.tagClass === U && prev.type === forge.asn1.Type.OCTETSTRING &&
          k.tagClass === U && k.type === forge.asn1.Type.INTEGER && typeof k.value === 'string'
        ) {
          const n = k.value.length > 6 ? Number.MAX_SAFE_INTEGER : parseInt(forge.util.bytesToHex(k.value) || '0', 16);
          if (n > max) max = n;
        }
        visit(k, depth + 1);
      }
    } else if (a.tagClass === U && a.type === forge.asn1.Type.OCTETSTRING && typeof a.value === 'string' && a.value.charCodeAt(0) === 0x30) {
      // SafeContents / AuthenticatedSafe travel as DER inside OCTET STRINGs
      try {
        visit(fromDer(a.value, { strict: true, parseAllBytes: true, decodeBitStrings: false, maxDepth: 24 }), depth + 1);
      } catch {
        // not DER (encrypted bytes): nothing to see
      }
    }
  };
  visit(root, 0);
  return max;
}

function toDer(input: Uint8Array | string): Buffer | undefined {
  try {
    let s: string;
    if (typeof input !== 'string') {
      const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      if (buf.length > 0 && buf[0] === 0x30) return buf;
      s = buf.toString('latin1');
    } else {
      s = input;
    }
    const m = /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----/.exec(s);
    const b64 = (m ? (m[1] ?? '') : s).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
    const der = Buffer.from(b64, 'base64');
    return der.length > 0 ? der : undefined;
  } catch {
    return undefined;
  }
}

interface CertInfo {
  rut?: { rut: string; source: 'subjectAltName' | 'serialNumber' };
  cn?: string;
}

const U = forge.asn1.Class.UNIVERSAL;
const CTX = forge.asn1.Class.CONTEXT_SPECIFIC;

/** Walk the certificate's ASN.1 ourselves (otherName is beyond what forge and node decode). */
function certificateInfo(der: Uint8Array): CertInfo | undefined {
  if (der.byteLength > 1_000_000) return undefined;
  try {
    const bin = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('binary');
    const cert = fromDer(bin, { strict: false, decodeBitStrings: false, maxDepth: 64 });
    const tbs = seq(cert)?.[0];
    const tbsItems = seq(tbs);
    if (!tbsItems) return undefined;
    const first = tbsItems[0];
    const off = first && first.tagClass === CTX && first.type === 0 ? 1 : 0;
    const subject = tbsItems[off + 4];

    const info: CertInfo = {};
    const attrs = nameAttributes(subject);
    const cn = attrs.find((a) => a.oid === OID_COMMON_NAME);
    if (cn) info.cn = cn.value;

    // subjectAltName otherName first
    const extsWrapper = tbsItems.find((x) => x.tagClass === CTX && x.type === 3);
    const exts = seq(seq(extsWrapper)?.[0]) ?? [];
    for (const ext of exts) {
      const parts = seq(ext);
      if (!parts || oidOf(parts[0]) !== OID_SUBJECT_ALT_NAME) continue;
      const octets = parts[parts.length - 1];
      if (!octets || typeof octets.value !== 'string') continue;
      const names = fromDer(octets.value, { strict: false, decodeBitStrings: false, maxDepth: 32 });
      for (const gn of seq(names) ?? []) {
        // otherName [0] { type-id OID, value [0] EXPLICIT ANY }
        if (gn.tagClass !== CTX || gn.type !== 0 || !Array.isArray(gn.value)) continue;
        if (oidOf(gn.value[0]) !== OID_RUT_OTHERNAME) continue;
        const str = firstString(gn.value[1]);
        const rut = str === undefined ? undefined : rutFromText(str);
        if (rut) {
          info.rut = { rut, source: 'subjectAltName' };
          return info;
        }
      }
    }
    for (const a of attrs) {
      if (a.oid !== OID_SERIAL_NUMBER) continue;
      const rut = rutFromText(a.value);
      if (rut) {
        info.rut = { rut, source: 'serialNumber' };
        break;
      }
    }
    return info;
  } catch {
    return undefined;
  }
}

/** forge.asn1.fromDer with its options object (the typings only know the boolean form). */
const fromDer = (bin: string, options: { strict?: boolean; parseAllBytes?: boolean; decodeBitStrings?: boolean; maxDepth?: number }): forge.asn1.Asn1 =>
  (forge.asn1.fromDer as unknown as (b: string, o: typeof options) => forge.asn1.Asn1)(bin, options);

const seq = (a: forge.asn1.Asn1 | undefined): forge.asn1.Asn1[] | undefined => (a && Array.isArray(a.value) ? a.value : undefined);

function oidOf(a: forge.asn1.Asn1 | undefined): string | undefined {
  if (!a || a.tagClass !== U || a.type !== forge.asn1.Type.OID || typeof a.value !== 'string') return undefined;
  try {
    return forge.asn1.derToOid(a.value);
  } catch {
    return undefined;
  }
}

/** The string held by a primitive ASN.1 string type (searching inside wrappers). */
function firstString(a: forge.asn1.Asn1 | undefined, depth = 0): string | undefined {
  if (!a || depth > 4) return undefined;
  if (Array.isArray(a.value)) {
    for (const c of a.value) {
      const s = firstString(c, depth + 1);
      if (s !== undefined) return s;
    }
    return undefined;
  }
  if (typeof a.value !== 'string') return undefined;
  if (a.tagClass !== U) return a.value; // implicitly tagged: take the bytes as text
  const type = a.type as number;
  switch (type) {
    case 12: // UTF8String
      try {
        return forge.util.decodeUtf8(a.value);
      } catch {
        return a.value;
      }
    case 30: {
      // BMPString (UTF-16BE)
      let s = '';
      for (let i = 0; i + 1 < a.value.length; i += 2) s += String.fromCharCode((a.value.charCodeAt(i) << 8) | a.value.charCodeAt(i + 1));
      return s;
    }
    case 19: // PrintableString
    case 20: // TeletexString
    case 22: // IA5String
    case 26: // VisibleString
    case 28: // UniversalString (ASCII content in practice)
    case 4: // OCTET STRING
      return type === 28 ? a.value.replace(/\0/g, '') : a.value;
    default:
      return undefined;
  }
}

function nameAttributes(name: forge.asn1.Asn1 | undefined): Array<{ oid: string; value: string }> {
  const out: Array<{ oid: string; value: string }> = [];
  for (const rdn of seq(name) ?? []) {
    for (const atv of seq(rdn) ?? []) {
      const parts = seq(atv);
      const oid = oidOf(parts?.[0]);
      const value = firstString(parts?.[1]);
      if (oid !== undefined && value !== undefined) out.push({ oid, value });
    }
  }
  return out;
}

/**
 * A RUT inside free text: `12345678-9`, `12.345.678-9`, `RUT:12345678-9`, `0012345678-k`,
 * `RUT 12345678 - 9`, or the bare `123456789`. Undefined unless the check digit is right.
 */
export function rutFromText(text: string): string | undefined {
  const s = text.trim();
  const candidates: string[] = [];
  const dashed = /(?:^|[^0-9.])((?:\d{1,3}(?:\.\d{3}){1,3})|\d{1,12})\s*-\s*([0-9kK])(?![0-9A-Za-z])/g;
  for (let m = dashed.exec(s); m; m = dashed.exec(s)) candidates.push(`${m[1]}-${m[2]}`);
  const bare = /^(?:[A-Za-z]+\s*[:\s]\s*)?([0-9.]{2,14}[0-9kK])$/.exec(s);
  if (bare?.[1]) candidates.push(bare[1]);
  for (const c of candidates) {
    const digits = c.replace(/\./g, '').replace(/^0+(?=\d)/, '');
    try {
      return Rut.parse(digits).canonical;
    } catch {
      // not a RUT (or wrong check digit): try the next candidate
    }
  }
  return undefined;
}

/** OpenSSL multi-line DN → `C=CL, O=…, CN=…`. */
const oneLineDn = (dn: string): string =>
  dn
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(', ');
