/**
 * XMLDSig (SII profile) against an independent implementation: xmlsec1 verifies what we sign and
 * signs what we verify. Keys and self-signed certificates are generated at run time in a temp dir.
 *
 * xmlsec1 is run so that it does NOT trust the key the document carries: either only the X509
 * certificate is read from KeyInfo and it must chain to `--trusted-pem` (`--enabled-key-data x509`),
 * or KeyInfo is ignored and the key is the one we pass (`--pubkey-cert-pem … --enabled-key-data
 * key-name`). With default flags xmlsec1 accepts any document that carries its own RSAKeyValue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSignature, signXml, verifyAllSignatures, verifySignature, type SignatureReport } from '../src/dsig.js';
import { signingKeyFromPem, type SigningKey } from '../src/signing-key.js';
import { canonicalize } from '../src/xml/c14n.js';
import { child, findAll, parseXml, type XmlElement } from '../src/xml/parse.js';

const SCHEMA = '/work/shared/sii/schemas/xmldsignature_v10.xsd';
const NS_SII = 'http://www.sii.cl/SiiDte';
const NS_XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const DECL = '<?xml version="1.0" encoding="ISO-8859-1"?>';

interface Identity {
  keyFile: string;
  certFile: string;
  key: SigningKey;
}

let dir = '';
let A: Identity;
let B: Identity;
let n = 0;

function makeIdentity(cn: string): Identity {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const keyFile = join(dir, `${cn}.key.pem`);
  const certFile = join(dir, `${cn}.cert.pem`);
  writeFileSync(keyFile, keyPem);
  execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-subj', `/CN=${cn}/O=Timbre Test`, '-days', '3', '-sha256', '-out', certFile], { stdio: 'pipe' });
  return { keyFile, certFile, key: signingKeyFromPem(keyPem, readFileSync(certFile, 'utf8')) };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'timbre-dsig-'));
  A = makeIdentity('Signer A');
  B = makeIdentity('Signer B');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

function tmpFile(content: string | Buffer, ext = 'xml'): string {
  const f = join(dir, `f${n++}.${ext}`);
  writeFileSync(f, typeof content === 'string' ? latin1(content) : content);
  return f;
}

interface XmlsecVerifyOptions {
  /** Certificate whose key must have signed (default: A's). */
  cert?: string;
  /** `x509`: use the embedded certificate, which must chain to `cert`; `pubkey`: ignore KeyInfo, use `cert`'s key. */
  how?: 'x509' | 'pubkey';
  idElement?: string;
  /** Which Signature to check (default: the first in the document). */
  nodeXpath?: string;
}

function xmlsecVerify(xml: string | Buffer, o: XmlsecVerifyOptions = {}): boolean {
  const cert = o.cert ?? A.certFile;
  const args = ['--verify'];
  if ((o.how ?? 'x509') === 'x509') args.push('--trusted-pem', cert, '--enabled-key-data', 'x509');
  else args.push('--pubkey-cert-pem', cert, '--enabled-key-data', 'key-name');
  if (o.idElement) args.push('--id-attr:ID', o.idElement);
  if (o.nodeXpath) args.push('--node-xpath', o.nodeXpath);
  args.push(tmpFile(xml));
  return spawnSync('xmlsec1', args).status === 0;
}

interface TemplateOptions {
  uri: string;
  prefix?: string;
  transforms?: string[];
  signatureMethod?: string;
  digestMethod?: string;
  keyInfo?: 'both' | 'keyvalue' | 'x509';
}

function template(o: TemplateOptions): string {
  const p = o.prefix ? `${o.prefix}:` : '';
  const ns = o.prefix ? `xmlns:${o.prefix}="${DSIG}"` : `xmlns="${DSIG}"`;
  const transforms = o.transforms ?? ['http://www.w3.org/TR/2001/REC-xml-c14n-20010315'];
  const ki = o.keyInfo ?? 'both';
  return (
    `<${p}Signature ${ns}>\n<${p}SignedInfo>\n<${p}CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>\n` +
    `<${p}SignatureMethod Algorithm="${o.signatureMethod ?? `${DSIG}rsa-sha1`}"/>\n<${p}Reference URI="${o.uri}">\n` +
    (transforms.length ? `<${p}Transforms>${transforms.map((t) => `<${p}Transform Algorithm="${t}"/>`).join('')}</${p}Transforms>\n` : '') +
    `<${p}DigestMethod Algorithm="${o.digestMethod ?? `${DSIG}sha1`}"/>\n<${p}DigestValue/>\n</${p}Reference>\n</${p}SignedInfo>\n<${p}SignatureValue/>\n` +
    `<${p}KeyInfo>${ki !== 'x509' ? `<${p}KeyValue/>` : ''}${ki !== 'keyvalue' ? `<${p}X509Data><${p}X509Certificate/></${p}X509Data>` : ''}</${p}KeyInfo>\n</${p}Signature>`
  );
}

/** Sign with xmlsec1 (a document already holding a template); returns the signed text (Latin-1). */
function xmlsecSign(xml: string, id: Identity, idElement?: string): string {
  const out = join(dir, `signed${n++}.xml`);
  const args = ['--sign', '--privkey-pem', `${id.keyFile},${id.certFile}`, '--output', out];
  if (idElement) args.push('--id-attr:ID', idElement);
  args.push(tmpFile(xml));
  const r = spawnSync('xmlsec1', args);
  if (r.status !== 0) throw new Error(`xmlsec1 --sign failed: ${r.stderr.toString()}`);
  return readFileSync(out).toString('latin1');
}

const documento = (id: string, folio: number, total = 119000): string =>
  `<Documento ID="${id}">\n<Encabezado>\n<IdDoc>\n<TipoDTE>33</TipoDTE>\n<Folio>${folio}</Folio>\n<FchEmis>2026-01-15</FchEmis>\n</IdDoc>\n` +
  `<Emisor>\n<RUTEmisor>76354771-K</RUTEmisor>\n<RznSoc>FERRETERÍA EL ÑANDÚ &amp; CÍA. LTDA.</RznSoc>\n</Emisor>\n` +
  `<Totales>\n<MntNeto>100000</MntNeto>\n<TasaIVA>19</TasaIVA>\n<IVA>19000</IVA>\n<MntTotal>${total}</MntTotal>\n</Totales>\n</Encabezado>\n` +
  `<Detalle><NroLinDet>1</NroLinDet><NmbItem>Martillo "Stanley" 16 oz</NmbItem><QtyItem>1</QtyItem><MontoItem>100000</MontoItem></Detalle>\n` +
  `<TmstFirma>2026-01-15T10:00:00</TmstFirma>\n</Documento>`;

const dteStandalone = (id: string, folio: number, withNs = true): string =>
  `${DECL}\n<DTE${withNs ? ` xmlns="${NS_SII}"` : ''} version="1.0">\n${documento(id, folio)}\n</DTE>\n`;

const stripDecl = (xml: string): string => xml.replace(/^<\?xml[^>]*\?>\s*/, '').trim();

function envelope(dtes: string[]): string {
  return (
    `${DECL}\n<EnvioDTE xmlns="${NS_SII}" xmlns:xsi="${NS_XSI}" xsi:schemaLocation="${NS_SII} EnvioDTE_v10.xsd" version="1.0">\n` +
    `<SetDTE ID="SetDoc">\n<Caratula version="1.0">\n<RutEmisor>76354771-K</RutEmisor>\n<RutEnvia>11111111-1</RutEnvia>\n</Caratula>\n` +
    `${dtes.map(stripDecl).join('\n')}\n</SetDTE>\n</EnvioDTE>\n`
  );
}

function signatureOf(xml: string, nth = 0): XmlElement {
  const doc = parseXml(latin1(xml));
  const sigs = findAll(doc.root, 'Signature');
  const s = sigs[nth];
  if (!s) throw new Error(`no Signature #${nth}`);
  return s;
}

const verifyText = (xml: string, nth = 0, modes?: Parameters<typeof verifySignature>[1]): SignatureReport => verifySignature(signatureOf(xml, nth), modes);

/** The Signature element's text as written in a document. */
function signatureText(xml: string): string {
  const s = xml.indexOf('<Signature');
  return xml.slice(s, xml.indexOf('</Signature>', s) + '</Signature>'.length);
}

function xmllintSchema(xml: string): { ok: boolean; out: string } {
  const r = spawnSync('xmllint', ['--noout', '--schema', SCHEMA, tmpFile(`${DECL}\n${xml}\n`)]);
  return { ok: r.status === 0, out: r.stderr.toString() };
}

// -------------------------------------------------------------------------------------------------

describe('our signatures, verified by xmlsec1 and by verifySignature', () => {
  it('signXml: standalone DTE (Latin-1 content)', () => {
    const original = dteStandalone('F1T33', 1);
    const signed = signXml(original, { referenceId: 'F1T33', key: A.key });
    // Only the Signature was inserted, as the last child of <DTE>.
    const sig = signatureText(signed);
    expect(signed.replace(sig, '')).toBe(original);
    expect(signed).toContain(`</Documento>\n${sig}</DTE>`);

    expect(xmlsecVerify(signed, { idElement: 'Documento' })).toBe(true);
    expect(xmlsecVerify(signed, { idElement: 'Documento', how: 'pubkey' })).toBe(true);
    // The oracle discriminates: B's certificate is not trusted, B's key did not sign.
    expect(xmlsecVerify(signed, { idElement: 'Documento', cert: B.certFile })).toBe(false);
    expect(xmlsecVerify(signed, { idElement: 'Documento', cert: B.certFile, how: 'pubkey' })).toBe(false);

    const r = verifyText(signed);
    expect(r).toMatchObject({ referenceUri: '#F1T33', valid: true, mode: 'in-context', digestValid: true, signatureValueValid: true, keyMatchesCertificate: true });
    expect(r.error).toBeUndefined();
    const cert = new X509Certificate(readFileSync(A.certFile));
    expect(r.certificate).toEqual({
      subject: cert.subject,
      issuer: cert.issuer,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      serialNumber: cert.serialNumber,
    });
  });

  it('buildSignature: DTE assembled without parsing; the signature text is canonical as it sits', () => {
    const doc = documento('F2T33', 2);
    // The Documento is written in canonical form; in its context it gains the inherited xmlns.
    const canonicalDoc = `<Documento xmlns="${NS_SII}"${doc.slice('<Documento'.length)}`;
    const sig = buildSignature({ referenceUri: '#F2T33', canonicalReferenced: canonicalDoc, key: A.key });
    const body = `<DTE xmlns="${NS_SII}" version="1.0">\n${doc}\n${sig}\n</DTE>`;
    const xml = `${DECL}\n${body}\n`;

    expect(xmlsecVerify(xml, { idElement: 'Documento' })).toBe(true);
    expect(verifyText(xml)).toMatchObject({ valid: true, mode: 'in-context', keyMatchesCertificate: true });

    const parsed = parseXml(latin1(xml));
    const documentoEl = child(parsed.root, 'Documento') as XmlElement;
    const sigEl = child(parsed.root, 'Signature') as XmlElement;
    expect(canonicalize(documentoEl)).toBe(canonicalDoc);
    expect(canonicalize(sigEl)).toBe(sig);
    expect(canonicalize(parsed.root)).toBe(body);
    // The digest is SHA-1 of the canonical UTF-8 bytes.
    expect(sig).toContain(`<DigestValue>${createHash('sha1').update(canonicalDoc, 'utf8').digest('base64')}</DigestValue>`);
  });

  it('base64 is wrapped at 76 columns and KeyInfo holds KeyValue then X509Data', () => {
    const sig = buildSignature({ referenceUri: '#X', canonicalReferenced: '<a ID="X"></a>', key: A.key });
    const lines = sig.split('\n');
    const inB64 = (name: string): string[] => {
      const s = sig.indexOf(`<${name}>`) + name.length + 2;
      return sig.slice(s, sig.indexOf(`</${name}>`)).split('\n');
    };
    for (const name of ['SignatureValue', 'Modulus', 'X509Certificate']) {
      const b64 = inB64(name);
      expect(b64.length, name).toBeGreaterThan(1);
      for (const l of b64) expect(l.length, name).toBeLessThanOrEqual(76);
      expect(b64.slice(0, -1).every((l) => l.length === 76)).toBe(true);
    }
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(200);
    expect(sig.indexOf('<KeyValue>')).toBeLessThan(sig.indexOf('<X509Data>'));
    expect(sig).not.toMatch(/\/>/); // expanded empty elements
    expect(sig).not.toContain('ds:');
    expect(Buffer.from(inB64('X509Certificate').join(''), 'base64').equals(A.key.certificateDer)).toBe(true);
  });

  it.each(['c14n', 'enveloped', 'none'] as const)('transform %s verifies with xmlsec1 and ours', (transform) => {
    const doc = documento('F3T33', 3);
    const canonicalDoc = `<Documento xmlns="${NS_SII}"${doc.slice('<Documento'.length)}`;
    const sig = buildSignature({ referenceUri: '#F3T33', canonicalReferenced: canonicalDoc, key: A.key, transform });
    const xml = `${DECL}\n<DTE xmlns="${NS_SII}" version="1.0">\n${doc}\n${sig}\n</DTE>\n`;
    expect(sig.includes('<Transforms>')).toBe(transform !== 'none');
    expect(xmlsecVerify(xml, { idElement: 'Documento' })).toBe(true);
    expect(verifyText(xml).valid).toBe(true);
  });

  it('signXml with URI="" (getToken): enveloped signature of the whole document', () => {
    const original = `<?xml version="1.0"?>\n<getToken><item><Semilla>006452901237</Semilla></item></getToken>`;
    const signed = signXml(original, { referenceId: '', key: A.key });
    expect(signed).toContain('<Reference URI="">');
    expect(signed).toContain('enveloped-signature');
    expect(signed.endsWith('</Signature></getToken>')).toBe(true);
    expect(xmlsecVerify(signed)).toBe(true);
    expect(xmlsecVerify(signed, { cert: B.certFile })).toBe(false);
    expect(verifyText(signed)).toMatchObject({ referenceUri: '', valid: true, mode: 'in-context' });
  });

  it('signXml of a self-closing root expands it', () => {
    const signed = signXml('<getToken/>', { referenceId: '', key: A.key });
    expect(signed.startsWith('<getToken><Signature')).toBe(true);
    expect(xmlsecVerify(signed)).toBe(true);
    expect(verifyText(signed).valid).toBe(true);
  });

  it('signXml in a context with prefixed namespaces (RespuestaDTE with xsi and more): SignedInfo carries them, sorted', () => {
    const original =
      `${DECL}\n<RespuestaDTE xmlns="${NS_SII}" xmlns:xsi="${NS_XSI}" xmlns:zz="urn:zz" xmlns:ab="urn:ab" xsi:schemaLocation="${NS_SII} RespuestaEnvioDTE_v10.xsd" version="1.0">\n` +
      `<Resultado ID="RESP1">\n<Caratula version="1.0"><RutResponde>11111111-1</RutResponde><NmbContacto>José Ñúñez</NmbContacto></Caratula>\n</Resultado>\n</RespuestaDTE>\n`;
    const signed = signXml(original, { referenceId: 'RESP1', key: A.key });
    expect(xmlsecVerify(signed, { idElement: 'Resultado' })).toBe(true);
    const r = verifyText(signed, 0, { modes: ['in-context'] });
    expect(r).toMatchObject({ valid: true, mode: 'in-context' });
    // SignedInfo canonical in context: dsig default first, then ab, xsi, zz.
    const sigEl = signatureOf(signed);
    expect(canonicalize(child(sigEl, 'SignedInfo') as XmlElement).startsWith(`<SignedInfo xmlns="${DSIG}" xmlns:ab="urn:ab" xmlns:xsi="${NS_XSI}" xmlns:zz="urn:zz">`)).toBe(true);
  });

  it('signXml of the root element by ID puts the Signature inside it (enveloped transform)', () => {
    const signed = signXml(`${DECL}\n<Recibo xmlns="${NS_SII}" version="1.0" ID="R1">\n<Folio>1</Folio>\n</Recibo>\n`, { referenceId: 'R1', key: A.key });
    expect(signed).toContain('enveloped-signature');
    expect(signed).toContain('</Signature></Recibo>');
    expect(xmlsecVerify(signed, { idElement: 'Recibo' })).toBe(true);
    expect(verifyText(signed)).toMatchObject({ valid: true, referenceUri: '#R1' });
  });

  it('signXml refuses a missing or duplicated ID', () => {
    expect(() => signXml('<a><b ID="x"/></a>', { referenceId: 'y', key: A.key })).toThrow(expect.objectContaining({ code: 'ERR_XML_UNEXPECTED' }));
    expect(() => signXml('<a><b ID="x"/><c Id="x"/></a>', { referenceId: 'x', key: A.key })).toThrow(expect.objectContaining({ code: 'ERR_XML_UNEXPECTED' }));
  });

  it('buildSignature refuses programmer errors', () => {
    expect(() => buildSignature({ referenceUri: 'F1', canonicalReferenced: '', key: A.key })).toThrow(TypeError);
    expect(() => buildSignature({ referenceUri: '', canonicalReferenced: '', key: A.key, transform: 'c14n' })).toThrow(TypeError);
  });

  it('the Signature shape validates against the SII xmldsignature_v10.xsd (and the check can fail)', () => {
    expect(existsSync(SCHEMA)).toBe(true);
    const fromSignXml = signatureText(signXml(dteStandalone('F4T33', 4), { referenceId: 'F4T33', key: A.key }));
    const res = xmllintSchema(fromSignXml);
    expect(res.out).toContain('validates');
    expect(res.ok).toBe(true);
    expect(xmllintSchema(signatureText(buildSignature({ referenceUri: '#X', canonicalReferenced: '<a></a>', key: A.key, transform: 'enveloped' }))).ok).toBe(true);
    expect(xmllintSchema(signatureText(buildSignature({ referenceUri: '#X', canonicalReferenced: '<a></a>', key: A.key, transform: 'none' }))).ok).toBe(true);
    // Negative controls: two Transforms, X509Data before KeyValue.
    const twoTransforms = fromSignXml.replace('</Transforms>', `<Transform Algorithm="${DSIG}enveloped-signature"></Transform>\n</Transforms>`);
    expect(xmllintSchema(twoTransforms).ok).toBe(false);
    const ki = fromSignXml.slice(fromSignXml.indexOf('<KeyValue>'), fromSignXml.indexOf('</KeyInfo>'));
    const kv = ki.slice(0, ki.indexOf('<X509Data>'));
    const x5 = ki.slice(ki.indexOf('<X509Data>'));
    expect(xmllintSchema(fromSignXml.replace(ki, x5 + kv)).ok).toBe(false);
  });
});

describe('xmlsec1-signed documents verify with verifySignature', () => {
  const withTemplate = (tmpl: string): string => `${DECL}\n<DTE xmlns="${NS_SII}" version="1.0">\n${documento('F9T33', 9)}\n${tmpl}\n</DTE>\n`;

  it.each([
    ['default namespace, C14N transform, KeyValue + X509', {}],
    ['ds: prefix, enveloped transform', { prefix: 'ds', transforms: [`${DSIG}enveloped-signature`] }],
    ['no transform', { transforms: [] }],
    ['enveloped + C14N transforms', { transforms: [`${DSIG}enveloped-signature`, 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315'] }],
    ['RSA-SHA256 with a SHA-256 digest', { signatureMethod: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', digestMethod: 'http://www.w3.org/2001/04/xmlenc#sha256' }],
  ] as Array<[string, Partial<TemplateOptions>]>)('%s', (_name, o) => {
    const signed = xmlsecSign(withTemplate(template({ uri: '#F9T33', ...o })), A, 'Documento');
    const r = verifyText(signed);
    expect(r).toMatchObject({ valid: true, mode: 'in-context', digestValid: true, signatureValueValid: true, keyMatchesCertificate: true });
    expect(r.certificate?.subject).toContain('CN=Signer A');
  });

  it('KeyValue only (no certificate): verified with the KeyValue key', () => {
    const signed = xmlsecSign(withTemplate(template({ uri: '#F9T33', keyInfo: 'keyvalue' })), A, 'Documento');
    const r = verifyText(signed);
    expect(r.valid).toBe(true);
    expect(r.certificate).toBeUndefined();
    expect(r.keyMatchesCertificate).toBeUndefined();
  });

  it('certificate only (no KeyValue)', () => {
    const signed = xmlsecSign(withTemplate(template({ uri: '#F9T33', keyInfo: 'x509' })), A, 'Documento');
    const r = verifyText(signed);
    expect(r.valid).toBe(true);
    expect(r.keyMatchesCertificate).toBeUndefined();
  });

  it('whole-document (URI="") enveloped signature', () => {
    const xml = `<?xml version="1.0"?>\n<getToken><item><Semilla>0123</Semilla></item>${template({ uri: '', transforms: [`${DSIG}enveloped-signature`] })}</getToken>`;
    const signed = xmlsecSign(xml, A);
    expect(verifyText(signed)).toMatchObject({ valid: true, referenceUri: '' });
  });

  it('an envelope signed by xmlsec1 in context verifies in-context', () => {
    const env = envelope([dteStandalone('F5T33', 5)]).replace('</EnvioDTE>', `${template({ uri: '#SetDoc' })}\n</EnvioDTE>`);
    const signed = xmlsecSign(env, A, 'SetDTE');
    const reports = verifyAllSignatures(parseXml(latin1(signed)));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ referenceUri: '#SetDoc', valid: true, mode: 'in-context' });
  });
});

describe('the namespace trap: signed DTEs spliced verbatim into an EnvioDTE', () => {
  const envSigXpath = "/*/*[local-name()='Signature']";

  it('DTE signed standalone with xmlns → passes as default-only; strict in-context fails (xmlsec1 agrees)', () => {
    const signedDte = signXml(dteStandalone('F10T33', 10), { referenceId: 'F10T33', key: A.key });
    const env = envelope([signedDte]);
    // xmlsec1 checks the first Signature (the DTE's) strictly in context: the trap.
    expect(xmlsecVerify(env, { idElement: 'Documento' })).toBe(false);
    expect(verifyText(env, 0, { modes: ['in-context'] })).toMatchObject({ valid: false, digestValid: false, signatureValueValid: false });
    const r = verifyText(env);
    expect(r).toMatchObject({ valid: true, mode: 'default-only', digestValid: true, signatureValueValid: true });
    expect(r.error).toBeUndefined();
  });

  it('DTE signed without any namespace → passes only as none', () => {
    const signedDte = signXml(dteStandalone('F11T33', 11, false), { referenceId: 'F11T33', key: A.key });
    expect(xmlsecVerify(signedDte, { idElement: 'Documento' })).toBe(true);
    const env = envelope([signedDte]);
    expect(xmlsecVerify(env, { idElement: 'Documento' })).toBe(false);
    expect(verifyText(env, 0, { modes: ['in-context', 'default-only'] }).valid).toBe(false);
    expect(verifyText(env)).toMatchObject({ valid: true, mode: 'none' });
  });

  it('a DTE signed standalone by xmlsec1 (another implementation) → default-only', () => {
    const dte = `${DECL}\n<DTE xmlns="${NS_SII}" version="1.0">\n${documento('F12T33', 12)}\n${template({ uri: '#F12T33' })}\n</DTE>\n`;
    const signedDte = xmlsecSign(dte, B, 'Documento');
    expect(verifyText(signedDte)).toMatchObject({ valid: true, mode: 'in-context' });
    expect(verifyText(envelope([signedDte]))).toMatchObject({ valid: true, mode: 'default-only' });
  });

  it('envelope signed with buildSignature in its final context (xsi inherited) passes in-context, and xmlsec1 agrees', () => {
    const d1 = signXml(dteStandalone('F13T33', 13), { referenceId: 'F13T33', key: A.key });
    const d2 = signXml(dteStandalone('F14T33', 14, false), { referenceId: 'F14T33', key: A.key });
    const unsigned = envelope([d1, d2]);
    const set = findAll(parseXml(latin1(unsigned)).root, 'SetDTE')[0] as XmlElement;
    const sig = buildSignature({ referenceUri: '#SetDoc', canonicalReferenced: canonicalize(set), inheritedNs: [{ prefix: 'xsi', uri: NS_XSI }], key: B.key });
    const env = unsigned.replace('</SetDTE>\n</EnvioDTE>', `</SetDTE>\n${sig}\n</EnvioDTE>`);

    expect(xmlsecVerify(env, { idElement: 'SetDTE', nodeXpath: envSigXpath, cert: B.certFile })).toBe(true);
    expect(xmlsecVerify(env, { idElement: 'SetDTE', nodeXpath: envSigXpath, cert: A.certFile })).toBe(false);

    const reports = verifyAllSignatures(parseXml(latin1(env)));
    expect(reports.map((r) => [r.referenceUri, r.valid, r.mode])).toEqual([
      ['#F13T33', true, 'default-only'],
      ['#F14T33', true, 'none'],
      ['#SetDoc', true, 'in-context'],
    ]);
    // Without the xsi declaration in SignedInfo the envelope signature would not verify.
    const sigNoXsi = buildSignature({ referenceUri: '#SetDoc', canonicalReferenced: canonicalize(set), key: B.key });
    const bad = unsigned.replace('</SetDTE>\n</EnvioDTE>', `</SetDTE>\n${sigNoXsi}\n</EnvioDTE>`);
    expect(xmlsecVerify(bad, { idElement: 'SetDTE', nodeXpath: envSigXpath, cert: B.certFile })).toBe(false);
  });

  it('digest and SignatureValue must pass under the same context (a signer mixing contexts is refused)', () => {
    const doc = documento('F16T33', 16);
    const standaloneCanonical = `<Documento xmlns="${NS_SII}"${doc.slice('<Documento'.length)}`;
    // Digest over the standalone form, SignedInfo signed as if in the envelope (with xsi).
    const sig = buildSignature({ referenceUri: '#F16T33', canonicalReferenced: standaloneCanonical, inheritedNs: [{ prefix: 'xsi', uri: NS_XSI }], key: A.key });
    const env = envelope([`<DTE xmlns="${NS_SII}" version="1.0">\n${doc}\n${sig}\n</DTE>`]);
    expect(verifyText(env)).toMatchObject({ valid: false, digestValid: true, signatureValueValid: true, error: { code: 'ERR_SIGNATURE_INVALID' } });
  });

  it('envelope signed with signXml verifies with xmlsec1', () => {
    const env = signXml(envelope([signXml(dteStandalone('F15T33', 15), { referenceId: 'F15T33', key: A.key })]), { referenceId: 'SetDoc', key: A.key });
    expect(xmlsecVerify(env, { idElement: 'SetDTE', nodeXpath: envSigXpath })).toBe(true);
    expect(verifyAllSignatures(parseXml(latin1(env))).map((r) => r.mode)).toEqual(['default-only', 'in-context']);
  });
});

describe('tampering and attacks', () => {
  let signed = '';
  beforeAll(() => {
    signed = signXml(dteStandalone('F20T33', 20), { referenceId: 'F20T33', key: A.key });
  });

  it('a changed amount breaks the digest (xmlsec1 agrees)', () => {
    const tampered = signed.replace('<MntTotal>119000</MntTotal>', '<MntTotal>119001</MntTotal>');
    expect(tampered).not.toBe(signed);
    expect(xmlsecVerify(tampered, { idElement: 'Documento' })).toBe(false);
    const r = verifyText(tampered);
    expect(r).toMatchObject({ valid: false, digestValid: false, signatureValueValid: true, error: { code: 'ERR_SIGNATURE_DIGEST_MISMATCH' } });
    expect(r.mode).toBeUndefined();
  });

  it('a changed amount with a recomputed DigestValue breaks the SignatureValue', () => {
    const tampered = signed.replace('<MntTotal>119000</MntTotal>', '<MntTotal>1</MntTotal>');
    const documentoEl = findAll(parseXml(latin1(tampered)).root, 'Documento')[0] as XmlElement;
    const newDigest = createHash('sha1').update(canonicalize(documentoEl), 'utf8').digest('base64');
    const forged = tampered.replace(/<DigestValue>[^<]*<\/DigestValue>/, `<DigestValue>${newDigest}</DigestValue>`);
    expect(xmlsecVerify(forged, { idElement: 'Documento' })).toBe(false);
    expect(verifyText(forged)).toMatchObject({ valid: false, digestValid: true, signatureValueValid: false, error: { code: 'ERR_SIGNATURE_INVALID' } });
  });

  it('swapped certificate: signed by key A, certificate (and KeyValue) of B → invalid', () => {
    const mixed: SigningKey = { privateKey: A.key.privateKey, certificateDer: B.key.certificateDer, modulusB64: B.key.modulusB64, exponentB64: B.key.exponentB64 };
    const xml = signXml(dteStandalone('F21T33', 21), { referenceId: 'F21T33', key: mixed });
    expect(xmlsecVerify(xml, { idElement: 'Documento', cert: B.certFile })).toBe(false);
    const r = verifyText(xml);
    expect(r).toMatchObject({ valid: false, digestValid: true, signatureValueValid: false, keyMatchesCertificate: true, error: { code: 'ERR_SIGNATURE_INVALID' } });
    expect(r.certificate?.subject).toContain('Signer B');
  });

  it('KeyValue of the real signer but certificate of B → invalid: the certificate key is used, KeyValue is not trusted', () => {
    const mixed: SigningKey = { ...A.key, certificateDer: B.key.certificateDer };
    const xml = signXml(dteStandalone('F22T33', 22), { referenceId: 'F22T33', key: mixed });
    expect(verifyText(xml)).toMatchObject({ valid: false, signatureValueValid: false, keyMatchesCertificate: false });
  });

  it('KeyValue that does not match the (right) certificate → valid, reported (like the SII F60T33 sample)', () => {
    const mixed: SigningKey = { ...A.key, modulusB64: B.key.modulusB64 };
    const xml = signXml(dteStandalone('F23T33', 23), { referenceId: 'F23T33', key: mixed });
    expect(verifyText(xml)).toMatchObject({ valid: true, keyMatchesCertificate: false });
  });

  it('duplicate IDs (signature wrapping) → invalid even though the signed original is present', () => {
    const forgedDoc = documento('F20T33', 20, 1);
    const wrapped = signed.replace('<Documento ID="F20T33">', `${forgedDoc}\n<Extra><Documento ID="F20T33">`).replace('</Documento>\n<Signature', '</Documento></Extra>\n<Signature');
    expect(findAll(parseXml(latin1(wrapped)).root, 'Documento')).toHaveLength(2);
    const r = verifyText(wrapped);
    expect(r).toMatchObject({ valid: false, error: { code: 'ERR_SIGNATURE_INVALID' } });
    expect(r.error?.message).toMatch(/F20T33.*2 times/);
    // Also across attribute spellings (ID vs Id).
    const idSpelling = signed.replace('</DTE>', '<Other Id="F20T33"/></DTE>');
    expect(verifyText(idSpelling)).toMatchObject({ valid: false, error: { code: 'ERR_SIGNATURE_INVALID' } });
  });

  it.each([
    ['exclusive C14N transform', (s: string) => s.replace('<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315">', '<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">')],
    ['XPath transform', (s: string) => s.replace('<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315">', '<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">')],
    ['HMAC signature method', (s: string) => s.replace(`${DSIG}rsa-sha1`, `${DSIG}hmac-sha1`)],
    ['DSA signature method', (s: string) => s.replace(`${DSIG}rsa-sha1`, `${DSIG}dsa-sha1`)],
    ['MD5 digest', (s: string) => s.replace(`"${DSIG}sha1"`, '"http://www.w3.org/2001/04/xmldsig-more#md5"')],
    ['exclusive C14N of SignedInfo', (s: string) => s.replace('<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315">', '<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">')],
    ['external URI', (s: string) => s.replace('URI="#F20T33"', 'URI="http://attacker.invalid/doc.xml"')],
    ['XPointer URI', (s: string) => s.replace('URI="#F20T33"', 'URI="#xpointer(/)"')],
    ['two References', (s: string) => s.replace('</Reference>', '</Reference>\n<Reference URI="#F20T33"><DigestMethod Algorithm="x"></DigestMethod><DigestValue>AA==</DigestValue></Reference>')],
  ])('%s → ERR_SIGNATURE_UNSUPPORTED', (_name, mutate) => {
    const m = mutate(signed);
    expect(m).not.toBe(signed);
    expect(verifyText(m)).toMatchObject({ valid: false, error: { code: 'ERR_SIGNATURE_UNSUPPORTED' } });
  });

  it.each([
    ['no SignedInfo', (s: string) => s.replace(/<SignedInfo>[\s\S]*<\/SignedInfo>/, ''), 'ERR_XML_UNEXPECTED'],
    ['no SignatureValue', (s: string) => s.replace(/<SignatureValue>[\s\S]*<\/SignatureValue>/, ''), 'ERR_XML_UNEXPECTED'],
    ['no DigestValue', (s: string) => s.replace(/<DigestValue>[\s\S]*<\/DigestValue>/, ''), 'ERR_XML_UNEXPECTED'],
    ['no KeyInfo', (s: string) => s.replace(/<KeyInfo>[\s\S]*<\/KeyInfo>/, ''), 'ERR_SIGNATURE_MISSING'],
    ['referenced ID absent', (s: string) => s.replace('URI="#F20T33"', 'URI="#NOPE"'), 'ERR_XML_UNEXPECTED'],
    ['SignatureValue not base64', (s: string) => s.replace(/<SignatureValue>[^<]*/, '<SignatureValue>@@not base64@@'), 'ERR_XML_UNEXPECTED'],
    ['SignatureValue truncated', (s: string) => s.replace(/<SignatureValue>[^<]*/, '<SignatureValue>AAAA'), 'ERR_SIGNATURE_INVALID'],
    ['empty DigestValue', (s: string) => s.replace(/<DigestValue>[^<]*/, '<DigestValue>'), 'ERR_XML_UNEXPECTED'],
  ])('%s → %s, reported, not thrown', (_name, mutate, code) => {
    const m = mutate(signed);
    expect(m).not.toBe(signed);
    let r: SignatureReport | undefined;
    expect(() => {
      r = verifyText(m);
    }).not.toThrow();
    expect(r).toMatchObject({ valid: false, error: { code } });
  });

  it('a broken KeyValue is reported as a mismatch when the certificate gives the key, and is an error without it', () => {
    const broken = signed.replace(/<Modulus>[^<]*<\/Modulus>/, '<Modulus>!!</Modulus>');
    expect(verifyText(broken)).toMatchObject({ valid: true, keyMatchesCertificate: false });
    const noCert = broken.replace(/<X509Data>[\s\S]*<\/X509Data>/, '');
    expect(verifyText(noCert)).toMatchObject({ valid: false, error: { code: 'ERR_XML_UNEXPECTED' } });
  });

  it('a certificate Node cannot parse still yields its key (SubjectPublicKeyInfo taken from the DER)', () => {
    const b64 = signed.slice(signed.indexOf('<X509Certificate>') + 17, signed.indexOf('</X509Certificate>'));
    const der = Buffer.from(b64.replace(/\s/g, ''), 'base64');
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }:
    // turn the outer BIT STRING into an OCTET STRING.
    const tbsLen = der.readUInt16BE(6);
    const algAt = 4 + 4 + tbsLen;
    const bitAt = algAt + 2 + (der[algAt + 1] as number);
    expect(der[bitAt]).toBe(0x03);
    const bad = Buffer.from(der);
    bad[bitAt] = 0x04;
    expect(() => new X509Certificate(bad)).toThrow();
    const corrupted = signed.replace(b64, bad.toString('base64'));
    const r = verifyText(corrupted);
    expect(r).toMatchObject({ valid: true, keyMatchesCertificate: true });
    expect(r.certificate).toBeUndefined();
  });

  it('2,000 signatures over the same big element: the digest is computed once (else the work limit would trip)', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `<Linea n="${i}">${'Ñandú '.repeat(15)}</Linea>`).join('\n');
    const unsigned = `${DECL}\n<EnvioDTE xmlns="${NS_SII}" xmlns:xsi="${NS_XSI}" version="1.0">\n<SetDTE ID="SetDoc">\n${lines}\n</SetDTE>\n</EnvioDTE>\n`;
    const signed = signXml(unsigned, { referenceId: 'SetDoc', key: A.key });
    const sig = signatureText(signed);
    const many = signed.replace(sig, Array.from({ length: 2000 }, () => sig).join('\n'));
    const doc = parseXml(latin1(many), { maxBytes: 64 * 1024 * 1024 });
    const setSize = findAll(doc.root, 'SetDTE')[0] as XmlElement;
    expect(2000 * (setSize.end - setSize.start)).toBeGreaterThan(8 * doc.text.length + 1_000_000); // without reuse: over the limit
    const reports = verifyAllSignatures(doc);
    expect(reports).toHaveLength(2000);
    expect(reports.every((r) => r.valid && r.mode === 'in-context')).toBe(true);
  });

  it('hundreds of enveloped whole-document signatures hit the work limit instead of running for minutes', () => {
    const signed = signXml(`<getToken><item><Semilla>${'0'.repeat(100_000)}</Semilla></item></getToken>`, { referenceId: '', key: A.key });
    const sig = signatureText(signed);
    const many = signed.replace(sig, Array.from({ length: 300 }, () => sig).join(''));
    const t0 = performance.now();
    const reports = verifyAllSignatures(parseXml(many));
    expect(reports).toHaveLength(300);
    expect(reports.filter((r) => r.error?.code === 'ERR_XML_TOO_LARGE').length).toBeGreaterThan(250);
    expect(reports.every((r) => !r.valid)).toBe(true); // each one's digest covers the 299 others
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it('no signatures → empty list; a non-element → TypeError (programmer error)', () => {
    expect(verifyAllSignatures(parseXml('<DTE><Documento ID="x"/></DTE>'))).toEqual([]);
    expect(() => verifySignature(undefined as unknown as XmlElement)).toThrow(TypeError);
  });
});
