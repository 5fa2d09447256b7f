/**
 * Authentication (sii-spec §9): seed → signed seed → token.
 *
 * DTEWS (SOAP): `CrSeed.jws getSeed` answers an escaped `SII:RESPUESTA` with RESP_BODY/SEMILLA and
 * RESP_HDR/ESTADO (either order); the seed is kept as a string (leading zeros matter) and lives about
 * 2 minutes. `<getToken><item><Semilla>…</Semilla></item></getToken>` is signed with the certificate
 * (Reference URI="", enveloped transform) and sent escaped in `pszXml` to `GetTokenFromSeed.jws
 * getToken`, which answers ESTADO 00 and TOKEN.
 *
 * Boleta REST: `GET boleta.electronica.semilla` (plain XML with SEMILLA), `POST
 * boleta.electronica.token` with the same signed document → TOKEN. That token is a different one.
 *
 * `TokenCache` keeps tokens per (environment, certificate fingerprint, kind) for a TTL (default 60 s,
 * like LibreDTE); callers drop a token as soon as a service refuses it. With a `store` (e.g. Redis
 * through @timbre/cache) several processes share one token.
 */
import { createHash } from 'node:crypto';
import { signXml, type Certificado, type SigningKey } from '@timbre/dte';
import { describeCode } from './codes.js';
import type { ResolvedEnvironment } from './environment.js';
import { SiiError, withAttempts } from './errors.js';
import type { SiiTransport } from './transport.js';
import { callDtews } from './dtews.js';
import { assertHttpOk, field, parseAnswerXml, parseRespuesta, soapReturnText, soapRpcEnvelope, textAt } from './wire.js';

/** Content of `SOAPAction` for the DTEWS services (AUTH §4.1.2: empty). */
export const SOAP_ACTION_EMPTY = '""';

// ------------------------------------------------------------------------------------------------
// Building and signing
// ------------------------------------------------------------------------------------------------

/** The SOAP request of CrSeed getSeed (no parameters). */
export function buildGetSeedRequest(crSeedUrl: string): string {
  return soapRpcEnvelope(crSeedUrl, 'getSeed', []);
}

/** `<getToken><item><Semilla>…</Semilla></item></getToken>`, unsigned. */
export function buildGetTokenDocument(seed: string): string {
  if (!/^[0-9]{1,32}$/.test(seed)) throw new SiiError('ERR_SII_PROTOCOL', 'CrSeed', `seed "${seed}" is not a string of digits`);
  return `<getToken><item><Semilla>${seed}</Semilla></item></getToken>`;
}

/** The signed getToken document (enveloped XMLDSig, Reference URI=""), as sent in `pszXml` and to the boleta token endpoint. */
export function signGetToken(seed: string, key: SigningKey): string {
  return signXml(buildGetTokenDocument(seed), { referenceId: '', key });
}

/** The SOAP request of GetTokenFromSeed getToken: the signed document escaped in `pszXml`. */
export function buildGetTokenRequest(getTokenUrl: string, signedXml: string): string {
  return soapRpcEnvelope(getTokenUrl, 'getToken', [['pszXml', signedXml]]);
}

// ------------------------------------------------------------------------------------------------
// Parsing
// ------------------------------------------------------------------------------------------------

/**
 * The seed in a CrSeed answer (a SOAP envelope whose `getSeedReturn` holds the escaped RESPUESTA).
 * Throws ERR_SII_AUTH_FAILED for ESTADO ≠ 00 (siiCode = ESTADO), ERR_SII_PROTOCOL when unreadable,
 * ERR_SII_UNAVAILABLE for an HTML page.
 */
export function parseGetSeedResponse(body: Uint8Array | string, contentType = ''): string {
  const inner = soapReturnText(body, 'CrSeed', 'getSeedReturn', contentType);
  const r = parseRespuesta(inner, 'CrSeed');
  const estado = field(r.hdr, 'ESTADO') ?? field(r.body, 'ESTADO');
  const seed = field(r.body, 'SEMILLA') ?? textAt(r.root, 'SEMILLA');
  if (estado !== undefined && estado !== '00') {
    const glosa = field(r.hdr, 'GLOSA');
    throw authError('CrSeed', 'auth.seed', estado, glosa);
  }
  if (!seed) throw new SiiError('ERR_SII_PROTOCOL', 'CrSeed', 'CrSeed: answer without SEMILLA');
  if (!/^[0-9]+$/.test(seed)) throw new SiiError('ERR_SII_PROTOCOL', 'CrSeed', `CrSeed: SEMILLA "${seed}" is not numeric`);
  return seed;
}

/** The token in a GetTokenFromSeed answer. Throws ERR_SII_AUTH_FAILED for ESTADO ≠ 00. */
export function parseGetTokenResponse(body: Uint8Array | string, contentType = ''): string {
  const inner = soapReturnText(body, 'GetTokenFromSeed', 'getTokenReturn', contentType);
  const r = parseRespuesta(inner, 'GetTokenFromSeed');
  return tokenFromRespuesta(r.hdr, r.body, r.root, 'GetTokenFromSeed');
}

/** The seed of the boleta REST API (`boleta.electronica.semilla`: plain XML, not SOAP). */
export function parseBoletaSemillaResponse(body: Uint8Array | string, contentType = ''): string {
  const root = parseAnswerXml(body, 'boleta.semilla', contentType);
  const estado = textAt(root, 'ESTADO');
  if (estado !== undefined && estado !== '00') throw authError('boleta.semilla', 'auth.seed', estado, textAt(root, 'GLOSA'));
  const seed = textAt(root, 'SEMILLA');
  if (!seed) throw new SiiError('ERR_SII_PROTOCOL', 'boleta.semilla', 'boleta.electronica.semilla: answer without SEMILLA');
  if (!/^[0-9]+$/.test(seed)) throw new SiiError('ERR_SII_PROTOCOL', 'boleta.semilla', `boleta.electronica.semilla: SEMILLA "${seed}" is not numeric`);
  return seed;
}

/** The token of the boleta REST API (`boleta.electronica.token`: plain XML with TOKEN). */
export function parseBoletaTokenResponse(body: Uint8Array | string, contentType = ''): string {
  const root = parseAnswerXml(body, 'boleta.token', contentType);
  const hdr: Array<[string, string]> = [];
  for (const name of ['ESTADO', 'GLOSA']) {
    const v = textAt(root, name);
    if (v !== undefined) hdr.push([name, v]);
  }
  return tokenFromRespuesta(hdr, [], root, 'boleta.token');
}

function tokenFromRespuesta(hdr: Array<[string, string]>, body: Array<[string, string]>, root: Parameters<typeof textAt>[0], op: 'GetTokenFromSeed' | 'boleta.token'): string {
  const estado = field(hdr, 'ESTADO') ?? field(body, 'ESTADO');
  const glosa = field(hdr, 'GLOSA') ?? field(body, 'GLOSA');
  if (estado !== undefined && estado !== '00') throw authError(op, 'auth.token', estado, glosa);
  const token = field(body, 'TOKEN') ?? textAt(root, 'TOKEN');
  if (!token) throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: answer without TOKEN`, { ...(estado ? { siiCode: estado } : {}) });
  if (!/^[\x21-\x7e]+$/.test(token) || token.includes(';') || token.includes(',')) {
    // It goes into a Cookie header: refuse anything that could inject another cookie or header.
    throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: TOKEN has characters not allowed in a cookie`);
  }
  return token;
}

function authError(op: 'CrSeed' | 'GetTokenFromSeed' | 'boleta.semilla' | 'boleta.token', service: 'auth.seed' | 'auth.token', estado: string, glosa?: string): SiiError {
  const info = describeCode(estado, service);
  const text = glosa || info?.meaning || 'sin glosa';
  return new SiiError('ERR_SII_AUTH_FAILED', op, `${op}: the SII refused authentication, ESTADO ${estado} (${text})${info?.fix ? `. ${info.fix}` : ''}`, {
    siiCode: estado,
    glosa: glosa ?? info?.meaning ?? '',
  });
}

// ------------------------------------------------------------------------------------------------
// Calls
// ------------------------------------------------------------------------------------------------

/** CrSeed getSeed → the seed (string, leading zeros kept). */
export async function getSeed(transport: SiiTransport, env: ResolvedEnvironment): Promise<string> {
  const url = env.endpoints.crSeed;
  return callDtews(transport, 'CrSeed', url, buildGetSeedRequest(url), (body, contentType) => parseGetSeedResponse(body, contentType));
}

/** GetTokenFromSeed getToken with a signed getToken document → TOKEN. */
export async function getTokenFromSeed(transport: SiiTransport, env: ResolvedEnvironment, signedXml: string): Promise<string> {
  const url = env.endpoints.getTokenFromSeed;
  return callDtews(transport, 'GetTokenFromSeed', url, buildGetTokenRequest(url, signedXml), (body, contentType) => parseGetTokenResponse(body, contentType));
}

/**
 * The whole DTEWS flow: seed, signature, token. ESTADO 08 (seed timed out / unknown) starts over once
 * with a fresh seed; every other refusal is ERR_SII_AUTH_FAILED.
 */
export async function requestToken(transport: SiiTransport, env: ResolvedEnvironment, key: SigningKey): Promise<string> {
  for (let round = 1; ; round++) {
    const seed = await getSeed(transport, env);
    try {
      return await getTokenFromSeed(transport, env, signGetToken(seed, key));
    } catch (e) {
      if (round === 1 && e instanceof SiiError && e.code === 'ERR_SII_AUTH_FAILED' && e.siiCode === '08') continue;
      throw e;
    }
  }
}

/** Boleta REST: semilla → signature → token (a token distinct from the DTEWS one). */
export async function requestBoletaToken(transport: SiiTransport, env: ResolvedEnvironment, key: SigningKey, userAgent: string): Promise<string> {
  const semilla = await transport.request({
    operation: 'boleta.semilla',
    method: 'GET',
    url: env.endpoints.boletaSemilla,
    headers: { Accept: 'application/xml', 'User-Agent': userAgent },
    expect: 'xml',
    idempotent: true,
  });
  const seed = withAttempts(semilla.attempts, () => {
    assertHttpOk(semilla, 'boleta.semilla');
    return parseBoletaSemillaResponse(semilla.body, semilla.contentType);
  });
  const res = await transport.request({
    operation: 'boleta.token',
    method: 'POST',
    url: env.endpoints.boletaToken,
    headers: { 'Content-Type': 'application/xml', Accept: 'application/xml', 'User-Agent': userAgent },
    body: Buffer.from(signGetToken(seed, key), 'utf8'),
    expect: 'xml',
    idempotent: true,
  });
  if (res.status === 401 || res.status === 403) {
    throw new SiiError('ERR_SII_AUTH_FAILED', 'boleta.token', `boleta.electronica.token: HTTP ${res.status}`, { httpStatus: res.status, attempts: res.attempts });
  }
  return withAttempts(res.attempts, () => {
    assertHttpOk(res, 'boleta.token');
    return parseBoletaTokenResponse(res.body, res.contentType);
  });
}

// ------------------------------------------------------------------------------------------------
// Token cache
// ------------------------------------------------------------------------------------------------

/** SHA-256 (hex) of the certificate's DER bytes: identifies a signer across processes. */
export function certificateFingerprint(cert: Pick<Certificado, 'signingKey'>): string {
  return createHash('sha256').update(cert.signingKey.certificateDer).digest('hex');
}

export type TokenKind = 'dtews' | 'boleta';

/** Cache key: environment (name and auth URL, so two simulators never share), certificate, kind. */
export function tokenCacheKey(env: ResolvedEnvironment, cert: Pick<Certificado, 'signingKey'>, kind: TokenKind): string {
  const authUrl = kind === 'dtews' ? env.endpoints.getTokenFromSeed : env.endpoints.boletaToken;
  return `${env.name}|${authUrl}|${certificateFingerprint(cert)}|${kind}`;
}

/** A token and when it stops being reused (epoch ms, the `clock` of the process that fetched it). */
export interface TokenCacheEntry {
  token: string;
  expiresAt: number;
}

/**
 * A store shared by several processes (a Redis-backed cache, say), behind the in-memory map: read
 * on a memory miss, written after every fetch, cleared by `invalidate`. It is an accelerator only:
 * a store that throws, loses entries or answers nothing just means more token requests, never a
 * failed call (errors are swallowed). A token someone refused is never taken back from it. Tokens
 * are credentials: seal them if the store is not private (services/dte does, with its SecretBox).
 */
export interface TokenStore {
  get(key: string): Promise<TokenCacheEntry | undefined>;
  set(key: string, value: TokenCacheEntry, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
}

export interface TokenCacheOptions {
  /** How long a token is reused, ms (default 60 000, LibreDTE's `token.ttl`). */
  ttlMs?: number;
  /** Wall-clock time (epoch ms) when a `store` is shared between processes. */
  clock?: { now(): number };
  /** Share tokens with other processes (see TokenStore). */
  store?: TokenStore;
}

/**
 * Tokens per key with a time to live. Concurrent callers of the same key share one request. A token
 * a service refused is dropped with `invalidate(key, token)` (only if it is still the cached one, so a
 * newer token fetched meanwhile survives).
 *
 * With `store`, a memory miss asks the store before fetching, and a fetched token is written to it:
 * processes sharing the store share tokens (one SII login for all of them, as long as they do not
 * miss at the very same moment). `invalidate` deletes the store's entry too (only that token, when
 * given) and this cache never takes a token it saw refused back from the store.
 *
 * @example
 * ```ts
 * const cache = new TokenCache({ ttlMs: 60_000 });
 * const token = await cache.get(key, () => requestToken(transport, env, cert.signingKey));
 * ```
 */
export class TokenCache {
  readonly ttlMs: number;
  private readonly clock: { now(): number };
  private readonly store: TokenStore | undefined;
  private readonly entries = new Map<string, TokenCacheEntry>();
  private readonly pending = new Map<string, Promise<string>>();
  /** The last token of each key seen refused (never reused from the store). */
  private readonly refused = new Map<string, string>();
  /** Keys whose next fetch must not take the store's token (a forced refresh). */
  private readonly bypass = new Set<string>();
  /** Store deletions under way, awaited before the store is read or written again. */
  private readonly deleting = new Map<string, Promise<void>>();

  constructor(options: TokenCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs < 0) throw new RangeError(`TokenCache: ttlMs must be ≥ 0, got ${options.ttlMs}`);
    this.clock = options.clock ?? { now: () => Date.now() };
    this.store = options.store;
  }

  /** The cached token (memory, then store), or a fresh one from `fetchToken` (which is not cached if it throws). */
  async get(key: string, fetchToken: () => Promise<string>): Promise<string> {
    const hit = this.peek(key);
    if (hit !== undefined) return hit;
    const inflight = this.pending.get(key);
    if (inflight) return inflight;
    const p = (async () => {
      try {
        const shared = await this.fromStore(key);
        if (shared !== undefined) {
          this.entries.set(key, shared);
          return shared.token;
        }
        const token = await fetchToken();
        const entry = { token, expiresAt: this.clock.now() + this.ttlMs };
        this.entries.set(key, entry);
        await this.toStore(key, entry);
        return token;
      } finally {
        this.pending.delete(key);
      }
    })();
    this.pending.set(key, p);
    return p;
  }

  /** The cached token if still valid (memory only). */
  peek(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.clock.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.token;
  }

  /** Forget a key's token (only `token` if given), here and in the store. */
  invalidate(key: string, token?: string): void {
    const entry = this.entries.get(key);
    if (entry && (token === undefined || entry.token === token)) this.entries.delete(key);
    if (token !== undefined) this.refused.set(key, token);
    else {
      if (entry) this.refused.set(key, entry.token);
      if (this.store) this.bypass.add(key);
    }
    const store = this.store;
    if (!store) return;
    const previous = this.deleting.get(key);
    const deletion: Promise<void> = (async () => {
      await previous;
      if (token !== undefined) {
        const current = await store.get(key);
        if (current?.token !== token) return; // a newer token: keep it
      }
      await store.del(key);
    })()
      .catch(() => undefined)
      .finally(() => {
        if (this.deleting.get(key) === deletion) this.deleting.delete(key);
      });
    this.deleting.set(key, deletion);
  }

  /** Empties the memory (the store keeps its entries). */
  clear(): void {
    this.entries.clear();
  }

  private async fromStore(key: string): Promise<TokenCacheEntry | undefined> {
    if (!this.store) return undefined;
    await this.deleting.get(key);
    if (this.bypass.delete(key)) return undefined;
    let shared: TokenCacheEntry | undefined;
    try {
      shared = await this.store.get(key);
    } catch {
      return undefined;
    }
    if (!shared || typeof shared.token !== 'string' || shared.token === '' || typeof shared.expiresAt !== 'number') return undefined;
    if (shared.token === this.refused.get(key)) return undefined;
    const now = this.clock.now();
    // Never reused longer than this cache's own TTL, whatever the store says.
    const expiresAt = Math.min(shared.expiresAt, now + this.ttlMs);
    return now < expiresAt ? { token: shared.token, expiresAt } : undefined;
  }

  private async toStore(key: string, entry: TokenCacheEntry): Promise<void> {
    if (!this.store || this.ttlMs <= 0) return;
    await this.deleting.get(key);
    try {
      await this.store.set(key, entry, this.ttlMs);
    } catch {
      // An accelerator: the token is good, only not shared.
    }
  }
}
