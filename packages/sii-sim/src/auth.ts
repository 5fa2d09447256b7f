/**
 * Seed → signed seed → token (sii-spec §9), shared by the DTEWS SOAP services and the boleta REST
 * API (each with its own seeds and tokens: a DTEWS token does not open the boleta API).
 *
 * The signed `<getToken>` is really verified: enveloped XMLDSig with `Reference URI=""`, checked
 * with @timbre/dte `verifySignature`; the seed must be one this simulator handed out on the same
 * channel and less than `seedTtlMs` old; the certificate must be present, match KeyValue, be valid
 * now and carry the holder's RUT. A seed may be used more than once while it is valid (the SII
 * documents its lifetime, not single use).
 */
import { X509Certificate } from 'node:crypto';
import { childElements, findAll, parseXml, rutFromCertificate, textOf, verifySignature, type XmlElement } from '@timbre/dte';
import { TOKEN_ESTADOS } from './codes.js';
import type { SimContext } from './context.js';
import type { Channel, SeedRecord, TokenRecord } from './state.js';

export function issueSeed(ctx: SimContext, channel: Channel): SeedRecord {
  let value: string;
  do value = ctx.ids.digits(12);
  while (ctx.state.seeds.has(value) || /^0+$/.test(value));
  const rec: SeedRecord = { value, channel, createdAt: ctx.clock.now() };
  ctx.state.seeds.set(value, rec);
  return rec;
}

export type TokenResult = { ok: true; token: TokenRecord } | { ok: false; estado: string; glosa: string; detalle?: string };

const refuse = (e: readonly [string, string], detalle?: string): TokenResult => ({ ok: false, estado: e[0], glosa: e[1], ...(detalle ? { detalle } : {}) });

/** Verify a signed `<getToken>` and, when everything holds, hand out a token. */
export function issueToken(ctx: SimContext, channel: Channel, signedXml: string | Buffer): TokenResult {
  let root: XmlElement;
  try {
    root = parseXml(signedXml, { maxBytes: 256 * 1024, maxDepth: 16 }).root;
  } catch (e) {
    return refuse(TOKEN_ESTADOS.XML_INVALIDO, e instanceof Error ? e.message : String(e));
  }
  if (root.local !== 'getToken') return refuse(TOKEN_ESTADOS.XML_INVALIDO, `root element <${root.name}>, expected <getToken>`);
  const semillaEl = findAll(root, 'Semilla')[0];
  const semilla = semillaEl ? textOf(semillaEl).trim() : '';
  if (!semilla) return refuse(TOKEN_ESTADOS.SIN_SEMILLA);
  const sig = childElements(root).find((e) => e.local === 'Signature');
  if (!sig) return refuse(TOKEN_ESTADOS.SIN_FIRMA);

  const report = verifySignature(sig);
  if (!report.valid) return refuse(TOKEN_ESTADOS.FIRMA_INVALIDA, report.error?.message);
  if (report.referenceUri !== '') return refuse(TOKEN_ESTADOS.FIRMA_INVALIDA, `Reference URI="${report.referenceUri}", the SII expects URI="" (the whole document)`);
  const certB64 = findAll(sig, 'X509Certificate')[0];
  if (!certB64 || !report.certificate) return refuse(TOKEN_ESTADOS.SIN_CERTIFICADO);
  if (report.keyMatchesCertificate === false) return refuse(TOKEN_ESTADOS.LLAVE_NO_CORRESPONDE);

  const seed = ctx.state.seeds.get(semilla);
  const now = ctx.clock.now();
  if (!seed || seed.channel !== channel) return refuse(TOKEN_ESTADOS.SEMILLA_NO_EXISTE, `seed ${semilla} was not issued by this service`);
  if (now - seed.createdAt > ctx.config.seedTtlMs) return refuse(TOKEN_ESTADOS.SEMILLA_VENCIDA, `seed ${semilla} is older than ${ctx.config.seedTtlMs} ms`);

  const b64 = textOf(certB64).replace(/\s+/g, '');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(b64, 'base64'));
  } catch {
    return refuse(TOKEN_ESTADOS.SIN_CERTIFICADO, 'X509Certificate is not readable');
  }
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
    return refuse(TOKEN_ESTADOS.CERTIFICADO_NO_VIGENTE, `certificate valid ${cert.validFrom} .. ${cert.validTo}`);
  }
  const rut = rutFromCertificate(b64)?.rut;
  if (!rut) return refuse(TOKEN_ESTADOS.RUT_NO_HABILITADO, 'the certificate carries no RUT (subjectAltName 1.3.6.1.4.1.8321.1 or serialNumber)');

  let value: string;
  do value = ctx.ids.token(13);
  while (ctx.state.tokens.has(value));
  const token: TokenRecord = { value, channel, rut, subject: cert.subject, createdAt: now, expiresAt: now + ctx.config.tokenTtlMs };
  ctx.state.tokens.set(value, token);
  return { ok: true, token };
}

export type TokenCheck = { ok: true; token: TokenRecord } | { ok: false; reason: 'missing' | 'expired' | 'unknown' };

/**
 * Is this token usable now on this channel? `forceExpire` (fault injection) expires it for good
 * first, as if its lifetime had ended.
 */
export function checkToken(ctx: SimContext, channel: Channel, value: string | undefined, forceExpire = false): TokenCheck {
  const v = value?.trim();
  if (!v) return { ok: false, reason: 'missing' };
  const token = ctx.state.tokens.get(v);
  if (!token || token.channel !== channel) return { ok: false, reason: 'unknown' };
  const now = ctx.clock.now();
  if (forceExpire && token.expiresAt > now) token.expiresAt = now;
  if (now >= token.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, token };
}

/** `TOKEN` from a Cookie header. */
export function tokenFromCookie(cookie: string | string[] | undefined): string | undefined {
  const all = Array.isArray(cookie) ? cookie.join(';') : cookie ?? '';
  for (const part of all.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'TOKEN') return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
