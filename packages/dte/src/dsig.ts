/**
 * The SII XMLDSig profile (sii-spec §7, `xmldsignature_v10.xsd`): an enveloped signature written as
 * a SIBLING of the referenced element, one `Reference URI="#ID"`, inclusive C14N 1.0, RSA-SHA1,
 * SHA-1 digest, at most one Transform, and `KeyInfo` with `KeyValue/RSAKeyValue` then
 * `X509Data/X509Certificate`, in the default-namespace form `<Signature xmlns="…xmldsig#">`.
 *
 * - `buildSignature`: fast signer for documents we build ourselves (we already hold the canonical
 *   text of the referenced element; nothing is parsed).
 * - `signXml`: general signer for any XML string (getToken, RespuestaDTE, EnvioRecibos): parses,
 *   canonicalizes in context and splices the Signature in without re-serializing the document.
 * - `verifySignature` / `verifyAllSignatures`: tolerant verifier for signed SII documents from any
 *   issuer, trying the three namespace contexts real issuers signed in (sii-spec §7.1).
 */
import { createHash, createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { TimbreError, type TimbreErrorCode } from './errors.js';
import type { SigningKey } from './signing-key.js';
import { canonicalize, compareCodePoints, type NsMode } from './xml/c14n.js';
import { inScopeNamespaces, parseXml, type XmlDocument, type XmlElement } from './xml/parse.js';
import { escapeAttr, wrapBase64 } from './xml/text.js';

export type { NsMode } from './xml/c14n.js';

const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const C14N_WITH_COMMENTS = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';

const SIGNATURE_METHODS: Readonly<Record<string, 'sha1' | 'sha256'>> = { [RSA_SHA1]: 'sha1', [RSA_SHA256]: 'sha256' };
const DIGEST_METHODS: Readonly<Record<string, 'sha1' | 'sha256'>> = { [SHA1]: 'sha1', [SHA256]: 'sha256' };
const DEFAULT_MODES: readonly NsMode[] = ['in-context', 'default-only', 'none', 'with-sii-ns', 'without-sii-ns'];

// ------------------------------------------------------------------------------------------------
// Signing
// ------------------------------------------------------------------------------------------------

export type SignatureTransform = 'c14n' | 'enveloped' | 'none';

export interface BuildSignatureOptions {
  /** `#F1T33` for an element with that ID, or `''` for the whole document. */
  referenceUri: string;
  /**
   * Exact C14N text of the referenced element in its final context (for `''`: of the whole
   * document without the Signature). Digest = SHA-1 of its UTF-8 bytes.
   */
  canonicalReferenced: string;
  /**
   * Prefixed namespace declarations in scope where the Signature will sit (e.g. `xmlns:xsi` of an
   * EnvioDTE): inclusive C14N renders them on SignedInfo. Default-namespace entries are ignored
   * (the Signature redeclares the default namespace).
   */
  inheritedNs?: ReadonlyArray<{ prefix: string; uri: string }>;
  key: SigningKey;
  /**
   * The Reference's single Transform. Default `c14n` for `#ID` references (the form of the SII's own
   * examples; the Signature is a sibling of the referenced element, so it is honestly not
   * "enveloped", and C14N 1.0 is the default anyway: every verifier computes the same digest) and
   * `enveloped` for `''` (the only correct choice when the Signature sits inside what it signs).
   */
  transform?: SignatureTransform;
}

/**
 * Build the `<Signature>` element for an element whose canonical form we already have. The text
 * returned is itself canonical as it will sit in the file (expanded empty elements, C14N escaping,
 * no redundant declarations), with a newline between elements and base64 wrapped at 76 columns; it
 * must be inserted verbatim as a sibling of the referenced element (for `''`, as the last child of
 * the root) with `inheritedNs` being exactly the prefixed declarations in scope there.
 *
 * @example
 * ```ts
 * const sig = buildSignature({ referenceUri: '#F1T33', canonicalReferenced: canonicalDocumento, key });
 * const dte = `<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">\n${documento}\n${sig}\n</DTE>`;
 * ```
 */
export function buildSignature(opts: BuildSignatureOptions): string {
  const { referenceUri, canonicalReferenced, key } = opts;
  if (referenceUri !== '' && !referenceUri.startsWith('#')) throw new TypeError(`buildSignature: referenceUri must be '' or '#id', got "${referenceUri}"`);
  const transform = opts.transform ?? (referenceUri === '' ? 'enveloped' : 'c14n');
  if (referenceUri === '' && transform !== 'enveloped') throw new TypeError("buildSignature: a URI='' reference needs the enveloped transform");
  if (key.privateKey.asymmetricKeyType !== 'rsa') throw new TypeError('buildSignature: the SII profile needs an RSA key');

  const digest = createHash('sha1').update(canonicalReferenced, 'utf8').digest('base64');
  const transforms =
    transform === 'none' ? '' : `<Transforms>\n<Transform Algorithm="${transform === 'c14n' ? C14N : ENVELOPED}"></Transform>\n</Transforms>\n`;
  const signedInfoBody =
    `\n<CanonicalizationMethod Algorithm="${C14N}"></CanonicalizationMethod>\n` +
    `<SignatureMethod Algorithm="${RSA_SHA1}"></SignatureMethod>\n` +
    `<Reference URI="${escapeAttr(referenceUri)}">\n` +
    transforms +
    `<DigestMethod Algorithm="${SHA1}"></DigestMethod>\n` +
    `<DigestValue>${digest}</DigestValue>\n` +
    `</Reference>\n`;

  // Canonical SignedInfo in context: the Signature's default namespace, then the inherited prefixed
  // declarations sorted by prefix.
  let nsDecls = '';
  if (opts.inheritedNs && opts.inheritedNs.length > 0) {
    const byPrefix = new Map<string, string>();
    for (const d of opts.inheritedNs) if (d.prefix !== '' && d.prefix !== 'xml') byPrefix.set(d.prefix, d.uri);
    const prefixes = [...byPrefix.keys()].sort(compareCodePoints);
    for (const p of prefixes) nsDecls += ` xmlns:${p}="${escapeAttr(byPrefix.get(p) as string)}"`;
  }
  const canonicalSignedInfo = `<SignedInfo xmlns="${DSIG_NS}"${nsDecls}>${signedInfoBody}</SignedInfo>`;
  const signatureValue = sign('sha1', Buffer.from(canonicalSignedInfo, 'utf8'), key.privateKey).toString('base64');

  return (
    `<Signature xmlns="${DSIG_NS}">\n` +
    `<SignedInfo>${signedInfoBody}</SignedInfo>\n` +
    `<SignatureValue>${wrapBase64(signatureValue)}</SignatureValue>\n` +
    `<KeyInfo>\n<KeyValue>\n<RSAKeyValue>\n` +
    `<Modulus>${wrapBase64(key.modulusB64)}</Modulus>\n` +
    `<Exponent>${key.exponentB64}</Exponent>\n` +
    `</RSAKeyValue>\n</KeyValue>\n<X509Data>\n` +
    `<X509Certificate>${wrapBase64(key.certificateDer.toString('base64'))}</X509Certificate>\n` +
    `</X509Data>\n</KeyInfo>\n</Signature>`
  );
}

/**
 * Sign any XML document: the element whose `ID`/`Id`/`id` attribute is `referenceId` (the Signature
 * becomes the last child of its parent), or the whole document when `referenceId` is `''` (enveloped
 * signature, last child of the root). The rest of the text is left byte for byte as it was.
 *
 * Throws `ERR_XML_*` for unparseable input, `ERR_XML_UNEXPECTED` when the ID is absent or
 * duplicated, `ERR_SIGNATURE_UNSUPPORTED` when `xml:*` attributes sit above the Signature (C14N 1.0
 * would inherit them into SignedInfo; SII documents never carry them).
 *
 * @example
 * ```ts
 * const signed = signXml('<getToken><item><Semilla>012345</Semilla></item></getToken>', { referenceId: '', key });
 * ```
 */
export function signXml(xml: string, opts: { referenceId: string; key: SigningKey }): string {
  const doc = parseXml(xml);
  let referenced: XmlElement;
  if (opts.referenceId === '') {
    referenced = doc.root;
  } else {
    const found = idIndex(doc.root).get(opts.referenceId) ?? [];
    if (found.length === 0) throw new TimbreError('ERR_XML_UNEXPECTED', `no element with ID "${opts.referenceId}" to sign`, { actual: opts.referenceId });
    if (found.length > 1) throw new TimbreError('ERR_XML_UNEXPECTED', `ID "${opts.referenceId}" appears ${found.length} times`, { actual: opts.referenceId });
    referenced = found[0] as XmlElement;
  }
  // Where the Signature goes: sibling of the referenced element, or inside it when it is the root.
  const container = referenced.parent ?? referenced;
  const enveloped = container === referenced;
  for (let p: XmlElement | null = container; p; p = p.parent) {
    if (p.attributes.some((a) => a.uri === XML_NS)) {
      throw new TimbreError('ERR_SIGNATURE_UNSUPPORTED', `xml:* attributes on <${p.name}> above the Signature are not supported`);
    }
  }
  const inheritedNs: Array<{ prefix: string; uri: string }> = [];
  for (const [prefix, uri] of inScopeNamespaces(container)) if (prefix !== '' && prefix !== 'xml') inheritedNs.push({ prefix, uri });

  // Before insertion, the referenced element's canonical form equals its form after insertion with
  // the Signature removed (nothing but the Signature element is inserted).
  const signature = buildSignature({
    referenceUri: opts.referenceId === '' ? '' : `#${opts.referenceId}`,
    canonicalReferenced: canonicalize(referenced),
    inheritedNs,
    key: opts.key,
    transform: enveloped ? 'enveloped' : 'c14n',
  });

  const text = doc.text;
  const endTag = text.lastIndexOf('</', container.end - 1);
  if (endTag > container.start) return text.slice(0, endTag) + signature + text.slice(endTag);
  // Self-closing container (`<getToken/>`): expand it.
  const close = text.lastIndexOf('/>', container.end - 1);
  return text.slice(0, close) + '>' + signature + `</${container.name}>` + text.slice(container.end);
}

// ------------------------------------------------------------------------------------------------
// Verification
// ------------------------------------------------------------------------------------------------

export interface SignatureReport {
  /** The Reference's URI (`#F1T33`, `''`). */
  referenceUri: string;
  /** Digest and SignatureValue both verified under the same namespace context. */
  valid: boolean;
  /** Which namespace context passed (see `NsMode`). */
  mode?: NsMode;
  digestValid: boolean;
  signatureValueValid: boolean;
  /** KeyValue's RSA key equals the certificate's (absent when one of the two is missing). */
  keyMatchesCertificate?: boolean;
  certificate?: { subject: string; issuer: string; notBefore: string; notAfter: string; serialNumber: string };
  error?: { code: TimbreErrorCode; message: string };
}

/**
 * Verify one `<Signature>` of a parsed document: resolve its Reference, then for each namespace
 * context (`in-context`, `default-only`, `none`, with the Signature's parent as the root of the
 * document the signer saw) check the digest of the referenced element and the RSA signature of
 * SignedInfo with the key of the embedded X509Certificate (KeyValue when there is no usable
 * certificate); the first context under which both pass is reported in `mode`.
 *
 * Never throws for an invalid or malformed signature: the report says why (`ERR_XML_UNEXPECTED`
 * for a missing part, `ERR_SIGNATURE_UNSUPPORTED` for an algorithm or transform outside the profile,
 * `ERR_SIGNATURE_MISSING` when there is no key, `ERR_SIGNATURE_DIGEST_MISMATCH`,
 * `ERR_SIGNATURE_INVALID`, including duplicated IDs, a signature-wrapping attack). It checks
 * integrity only: trusting the certificate (validity, chain, RUT) is the caller's decision.
 *
 * @example
 * ```ts
 * const doc = parseXml(bytes);
 * const r = verifySignature(child(dte, 'Signature')!);
 * if (r.valid) console.log(r.mode, r.certificate?.subject);
 * ```
 */
export function verifySignature(signature: XmlElement, opts: { modes?: NsMode[] } = {}): SignatureReport {
  return verifyWith(signature, opts.modes ?? DEFAULT_MODES, { digests: new Map(), budget: Number.POSITIVE_INFINITY });
}

/** State shared by the signatures of one document: digests already computed, work left. */
interface VerifyContext {
  /** referenced element → (digest algorithm + namespace context) → digest. */
  digests: Map<XmlElement, Map<string, Buffer>>;
  /** Characters of referenced content that may still be canonicalized. */
  budget: number;
}

function verifyWith(signature: XmlElement, modes: readonly NsMode[], ctx: VerifyContext): SignatureReport {
  if (signature?.type !== 'element') throw new TypeError('verifySignature: expected a parsed <Signature> element');
  const report: SignatureReport = { referenceUri: '', valid: false, digestValid: false, signatureValueValid: false };
  try {
    verifyInto(signature, modes, report, ctx);
  } catch (e) {
    if (!(e instanceof TimbreError)) throw e;
    report.valid = false;
    report.error = { code: e.code, message: e.message };
  }
  return report;
}

/**
 * Verify every XMLDSig `<Signature>` in a document (document order): DTE signatures, the envelope's
 * SetDTE signature, recibos… An empty array means the document carries no signature. The work is
 * bounded for hostile files: a digest already computed for the same element and context is reused,
 * and once the canonicalized content exceeds 8 × the document size (+1 MB) the remaining signatures
 * are reported with `ERR_XML_TOO_LARGE`.
 */
export function verifyAllSignatures(doc: XmlDocument): SignatureReport[] {
  const out: SignatureReport[] = [];
  const stack: XmlElement[] = [doc.root];
  const found: XmlElement[] = [];
  while (stack.length > 0) {
    const el = stack.pop() as XmlElement;
    if (el.local === 'Signature' && (el.uri === DSIG_NS || hasChild(el, 'SignedInfo'))) found.push(el);
    for (let i = el.children.length - 1; i >= 0; i--) {
      const c = el.children[i];
      if (c?.type === 'element') stack.push(c);
    }
  }
  // Bounded work: many signatures referencing the same big element reuse its digest, and the
  // total canonicalized content is capped (a hostile file could otherwise make every one of
  // thousands of signatures canonicalize the whole document).
  const ctx: VerifyContext = { digests: new Map(), budget: 8 * doc.text.length + 1_000_000 };
  for (const s of found) out.push(verifyWith(s, DEFAULT_MODES, ctx));
  return out;
}

const fail = (code: TimbreErrorCode, message: string): never => {
  throw new TimbreError(code, message);
};

function verifyInto(signature: XmlElement, modes: readonly NsMode[], report: SignatureReport, ctx: VerifyContext): void {
  const signedInfo = onlyChild(signature, 'SignedInfo', true);
  const signatureValueEl = onlyChild(signature, 'SignatureValue', true);

  const c14nAlg = attrOf(onlyChild(signedInfo, 'CanonicalizationMethod', true), 'Algorithm');
  if (c14nAlg !== C14N && c14nAlg !== C14N_WITH_COMMENTS) fail('ERR_SIGNATURE_UNSUPPORTED', `CanonicalizationMethod ${c14nAlg ?? '(none)'} is not supported`);
  const sigAlg = attrOf(onlyChild(signedInfo, 'SignatureMethod', true), 'Algorithm') ?? '';
  const sigHash = SIGNATURE_METHODS[sigAlg] ?? fail('ERR_SIGNATURE_UNSUPPORTED', `SignatureMethod ${sigAlg || '(none)'} is not supported`);

  const refs = childElementsNamed(signedInfo, 'Reference');
  if (refs.length === 0) fail('ERR_XML_UNEXPECTED', 'SignedInfo has no Reference');
  if (refs.length > 1) fail('ERR_SIGNATURE_UNSUPPORTED', `SignedInfo has ${refs.length} References (the SII profile allows one)`);
  const ref = refs[0] as XmlElement;
  const uri = attrOf(ref, 'URI');
  if (uri === undefined) fail('ERR_XML_UNEXPECTED', 'Reference has no URI');
  report.referenceUri = uri as string;

  let enveloped = false;
  const transformsEl = onlyChild(ref, 'Transforms', false);
  if (transformsEl) {
    for (const t of childElementsNamed(transformsEl, 'Transform')) {
      const alg = attrOf(t, 'Algorithm');
      if (alg === ENVELOPED) enveloped = true;
      else if (alg !== C14N && alg !== C14N_WITH_COMMENTS) fail('ERR_SIGNATURE_UNSUPPORTED', `Transform ${alg ?? '(none)'} is not supported`);
      // C14N (with or without comments) after a same-document reference is the default processing:
      // comments were already removed by dereferencing `#id` / `''`.
    }
  }
  const digestAlg = attrOf(onlyChild(ref, 'DigestMethod', true), 'Algorithm') ?? '';
  const digestHash = DIGEST_METHODS[digestAlg] ?? fail('ERR_SIGNATURE_UNSUPPORTED', `DigestMethod ${digestAlg || '(none)'} is not supported`);
  const digestValue = decodeBase64(elementText(onlyChild(ref, 'DigestValue', true)), 'DigestValue');
  const signatureValue = decodeBase64(elementText(signatureValueEl), 'SignatureValue');

  // Resolve the Reference within the Signature's document.
  let root = signature;
  while (root.parent) root = root.parent;
  let referenced: XmlElement;
  if (uri === '') {
    referenced = root;
  } else if ((uri as string).startsWith('#') && !(uri as string).startsWith('#xpointer(')) {
    const id = (uri as string).slice(1);
    const found = idIndex(root).get(id) ?? [];
    if (found.length === 0) fail('ERR_XML_UNEXPECTED', `the referenced element ${uri} is not in the document`);
    if (found.length > 1) fail('ERR_SIGNATURE_INVALID', `ID "${id}" appears ${found.length} times in the document (signature wrapping)`);
    referenced = found[0] as XmlElement;
  } else {
    return fail('ERR_SIGNATURE_UNSUPPORTED', `Reference URI "${uri}" is not a same-document reference`);
  }

  const publicKey = resolveKey(signature, report);
  if (publicKey.asymmetricKeyType !== 'rsa') fail('ERR_SIGNATURE_UNSUPPORTED', `${publicKey.asymmetricKeyType ?? 'unknown'} key with an RSA SignatureMethod`);

  // The document the signer saw: rooted at the Signature's parent (or, for a signature inside what
  // it signs, at the referenced element), i.e. the lowest common ancestor of both.
  const boundary = lowestCommonAncestor(signature.parent ?? signature, referenced);
  // The enveloped transform only matters when the Signature is inside what it signs.
  const exclude = enveloped && isInside(signature, referenced) ? signature : undefined;
  let cache = exclude ? undefined : ctx.digests.get(referenced);
  if (!exclude && !cache) ctx.digests.set(referenced, (cache = new Map()));
  const withComments = c14nAlg === C14N_WITH_COMMENTS;

  // RSA verification only where the digest matched (the common case costs one RSA operation); if
  // no context matched the digest, SignedInfo is still checked so the report tells both apart.
  const verified = new Map<string, boolean>();
  const signatureOk = (mode: NsMode): boolean => {
    const si = canonicalize(signedInfo, { mode, boundary, withComments });
    let ok = verified.get(si);
    if (ok === undefined) {
      try {
        ok = verify(sigHash, Buffer.from(si, 'utf8'), publicKey, signatureValue);
      } catch {
        ok = false;
      }
      verified.set(si, ok);
    }
    return ok;
  };
  const tried: NsMode[] = [];
  const seen = new Set<string>();
  for (const mode of modes) {
    const key = contextKey(boundary, mode);
    if (seen.has(key)) continue; // same context as a mode already tried: same bytes
    seen.add(key);
    tried.push(mode);
    const cacheKey = `${digestHash} ${key}`;
    let digest = cache?.get(cacheKey);
    if (!digest) {
      const cost = referenced.end - referenced.start;
      if (cost > ctx.budget) fail('ERR_XML_TOO_LARGE', 'verification work limit reached: too much signed content for the size of the document');
      ctx.budget -= cost;
      const refCanonical = canonicalize(referenced, { mode, boundary, ...(exclude ? { excludeElement: exclude } : {}) });
      digest = createHash(digestHash).update(refCanonical, 'utf8').digest();
      cache?.set(cacheKey, digest);
    }
    if (!digest.equals(digestValue)) continue;
    report.digestValid = true;
    if (signatureOk(mode)) {
      report.signatureValueValid = true;
      report.valid = true;
      report.mode = mode;
      return;
    }
  }
  for (const mode of tried) {
    if (signatureOk(mode)) {
      report.signatureValueValid = true;
      break;
    }
  }
  if (!report.digestValid) fail('ERR_SIGNATURE_DIGEST_MISMATCH', `the digest of ${uri === '' ? 'the document' : uri} does not match: the signed content was altered`);
  if (!report.signatureValueValid) fail('ERR_SIGNATURE_INVALID', 'SignatureValue does not verify with the signer key');
  fail('ERR_SIGNATURE_INVALID', 'digest and SignatureValue verify only under different namespace contexts');
}

/** Public key from X509Certificate (preferred) or KeyValue; fills certificate / keyMatchesCertificate. */
function resolveKey(signature: XmlElement, report: SignatureReport): KeyObject {
  const keyInfo = onlyChild(signature, 'KeyInfo', false);
  let certKey: KeyObject | undefined;
  let valueKey: KeyObject | undefined;
  if (keyInfo) {
    const x509Data = onlyChild(keyInfo, 'X509Data', false);
    const certEl = x509Data ? childElementsNamed(x509Data, 'X509Certificate')[0] : undefined;
    if (certEl) {
      const parsed = parseCertificate(elementText(certEl));
      certKey = parsed.key;
      if (parsed.info) report.certificate = { ...parsed.info };
    }
    const keyValue = onlyChild(keyInfo, 'KeyValue', false);
    const rsa = keyValue ? onlyChild(keyValue, 'RSAKeyValue', false) : undefined;
    if (rsa) {
      let n: Buffer | undefined;
      let e: Buffer | undefined;
      try {
        n = stripLeadingZeros(decodeBase64(elementText(onlyChild(rsa, 'Modulus', true)), 'Modulus'));
        e = stripLeadingZeros(decodeBase64(elementText(onlyChild(rsa, 'Exponent', true)), 'Exponent'));
        valueKey = createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' });
      } catch (err) {
        // A broken KeyValue only matters when there is no certificate to take the key from.
        if (!certKey) return fail(err instanceof TimbreError ? err.code : 'ERR_XML_UNEXPECTED', err instanceof TimbreError ? err.message : 'RSAKeyValue is not a usable RSA key');
        valueKey = undefined;
      }
      if (certKey) {
        if (!valueKey || !n || !e || certKey.asymmetricKeyType !== 'rsa') report.keyMatchesCertificate = false;
        else {
          const jwk = certKey.export({ format: 'jwk' });
          report.keyMatchesCertificate =
            stripLeadingZeros(Buffer.from(jwk.n ?? '', 'base64url')).equals(n) && stripLeadingZeros(Buffer.from(jwk.e ?? '', 'base64url')).equals(e);
        }
      }
    }
  }
  const key = certKey ?? valueKey;
  if (!key) return fail('ERR_SIGNATURE_MISSING', 'the Signature carries no usable key (no X509Certificate, no RSAKeyValue)');
  return key;
}

interface ParsedCertificate {
  key?: KeyObject;
  info?: NonNullable<SignatureReport['certificate']>;
}

/**
 * Parsed certificates by exact base64 text. Parsing an X.509 certificate costs several times an
 * RSA verification, and an envelope of 2,000 DTEs usually carries one signer's certificate 2,001
 * times. Only public data is cached; the cache is bounded.
 */
const CERT_CACHE = new Map<string, ParsedCertificate>();
const CERT_CACHE_MAX = 256;

function parseCertificate(text: string): ParsedCertificate {
  const b64 = text.replace(/[ \t\r\n]+/g, '');
  const hit = CERT_CACHE.get(b64);
  if (hit) return hit;
  const der = decodeBase64(b64, 'X509Certificate');
  let parsed: ParsedCertificate;
  try {
    const cert = new X509Certificate(der);
    parsed = {
      key: cert.publicKey,
      info: {
        subject: cert.subject,
        issuer: cert.issuer,
        notBefore: isoDate(cert.validFrom),
        notAfter: isoDate(cert.validTo),
        serialNumber: cert.serialNumber,
      },
    };
  } catch {
    // Certificates some X.509 parsers refuse: take the SubjectPublicKeyInfo out of the DER.
    parsed = {};
    const spki = extractSpki(der);
    if (spki) {
      try {
        parsed = { key: createPublicKey({ key: spki, format: 'der', type: 'spki' }) };
      } catch {
        parsed = {};
      }
    }
  }
  if (CERT_CACHE.size >= CERT_CACHE_MAX) CERT_CACHE.delete(CERT_CACHE.keys().next().value as string);
  CERT_CACHE.set(b64, parsed);
  return parsed;
}

// ---- helpers ----

function hasChild(el: XmlElement, local: string): boolean {
  return el.children.some((c) => c.type === 'element' && c.local === local);
}

function childElementsNamed(el: XmlElement, local: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) if (c.type === 'element' && c.local === local) out.push(c);
  return out;
}

function onlyChild(el: XmlElement, local: string, required: true): XmlElement;
function onlyChild(el: XmlElement, local: string, required: false): XmlElement | undefined;
function onlyChild(el: XmlElement, local: string, required: boolean): XmlElement | undefined {
  const found = childElementsNamed(el, local);
  if (found.length > 1) fail('ERR_XML_UNEXPECTED', `<${el.local}> has ${found.length} <${local}> elements`);
  if (found.length === 0 && required) fail('ERR_XML_UNEXPECTED', `<${el.local}> has no <${local}>`);
  return found[0];
}

function attrOf(el: XmlElement, name: string): string | undefined {
  for (const a of el.attributes) if (a.prefix === '' && a.local === name) return a.value;
  return undefined;
}

function elementText(el: XmlElement): string {
  let s = '';
  for (const c of el.children) {
    if (c.type === 'text') s += c.value;
    else if (c.type === 'element') fail('ERR_XML_UNEXPECTED', `<${el.local}> must contain only text`);
  }
  return s;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string, what: string): Buffer {
  const s = text.replace(/[ \t\r\n]+/g, '');
  if (s === '' || !BASE64.test(s)) fail('ERR_XML_UNEXPECTED', `${what} is not base64`);
  return Buffer.from(s, 'base64');
}

function stripLeadingZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return i === 0 ? b : b.subarray(i);
}

function isoDate(s: string): string {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toISOString();
}

/** Elements by ID/Id/id (and xml:id), computed once per document tree. */
const ID_INDEX = new WeakMap<XmlElement, Map<string, XmlElement[]>>();

function idIndex(root: XmlElement): Map<string, XmlElement[]> {
  let index = ID_INDEX.get(root);
  if (index) return index;
  index = new Map();
  const stack: XmlElement[] = [root];
  while (stack.length > 0) {
    const el = stack.pop() as XmlElement;
    for (const a of el.attributes) {
      const isId = a.prefix === '' ? a.local === 'ID' || a.local === 'Id' || a.local === 'id' : a.uri === XML_NS && a.local === 'id';
      if (!isId) continue;
      const list = index.get(a.value);
      if (!list) index.set(a.value, [el]);
      else if (list[list.length - 1] !== el) list.push(el);
    }
    for (const c of el.children) if (c.type === 'element') stack.push(c);
  }
  ID_INDEX.set(root, index);
  return index;
}

function lowestCommonAncestor(a: XmlElement, b: XmlElement): XmlElement {
  const chain = new Set<XmlElement>();
  for (let p: XmlElement | null = a; p; p = p.parent) chain.add(p);
  for (let p: XmlElement | null = b; p; p = p.parent) if (chain.has(p)) return p;
  return a; // different trees: cannot happen for a resolved reference
}

/** What a mode keeps from above the boundary; equal keys give equal canonical forms. */
function contextKey(boundary: XmlElement, mode: NsMode): string {
  const levels: string[][] = [];
  for (let p = boundary.parent; p; p = p.parent) {
    const level: string[] = [];
    for (const d of p.nsDecls) {
      if (mode === 'in-context' || (mode === 'default-only' && d.prefix === '')) level.push('ns', d.prefix, d.uri);
    }
    if (mode === 'in-context') for (const a of p.attributes) if (a.uri === XML_NS) level.push('xml', a.local, a.value);
    levels.push(level);
  }
  // The SII-namespace modes also change declarations at and below the boundary.
  return JSON.stringify([mode === 'with-sii-ns' || mode === 'without-sii-ns' ? mode : '', levels]);
}

function isInside(el: XmlElement, ancestor: XmlElement): boolean {
  for (let p = el.parent; p; p = p.parent) if (p === ancestor) return true;
  return false;
}

/** SubjectPublicKeyInfo DER of a certificate (Certificate → tbsCertificate → 7th field), or undefined. */
function extractSpki(der: Buffer): Buffer | undefined {
  const tlv = (off: number): { tag: number; start: number; end: number } | undefined => {
    if (off + 2 > der.length) return undefined;
    const tag = der[off] as number;
    let len = der[off + 1] as number;
    let start = off + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || start + n > der.length) return undefined;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] as number);
      start += n;
    }
    const end = start + len;
    return end > der.length ? undefined : { tag, start, end };
  };
  const cert = tlv(0);
  if (!cert || cert.tag !== 0x30) return undefined;
  const tbs = tlv(cert.start);
  if (!tbs || tbs.tag !== 0x30) return undefined;
  let off = tbs.start;
  let field = tlv(off);
  if (field && field.tag === 0xa0) {
    off = field.end; // explicit version
    field = tlv(off);
  }
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  for (let i = 0; i < 5; i++) {
    if (!field) return undefined;
    off = field.end;
    field = tlv(off);
  }
  if (!field || field.tag !== 0x30) return undefined;
  return der.subarray(off, field.end);
}
