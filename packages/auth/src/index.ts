/**
 * @timbre/auth — JWT (HS256, via jose) and API-key authentication with per-company,
 * per-permission and per-document-type scopes. Framework-agnostic: services call
 * `authenticate(headers, cfg)` and then `authorize(principal, need)`; both throw `AuthError`
 * carrying the HTTP status (401/403) and a stable error code.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';

export const PERMISSIONS = ['dte:generate', 'dte:read', 'dte:respond', 'caf:manage', 'cert:manage', 'ai:use', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface Principal {
  sub: string;
  /** Canonical RUTs (`76086428-5`), or `'*'` for every company. */
  companies: string[];
  permissions: Permission[];
  /** Allowed DTE types (33, 61, …). Absent = every type; `[]` = none. */
  dteTypes?: number[];
  kind: 'jwt' | 'api-key';
}

export type AuthErrorCode = 'ERR_AUTH_MISSING' | 'ERR_AUTH_INVALID' | 'ERR_AUTH_EXPIRED' | 'ERR_AUTH_FORBIDDEN';

export class AuthError extends Error {
  readonly status: 401 | 403;
  readonly code: AuthErrorCode;

  /** The status is derived from the code: ERR_AUTH_FORBIDDEN → 403, everything else → 401. */
  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthError';
    this.code = code;
    this.status = code === 'ERR_AUTH_FORBIDDEN' ? 403 : 401;
  }
}

export interface TokenClaims {
  sub: string;
  companies: string[];
  permissions: Permission[];
  dteTypes?: number[];
}

const ALG = 'HS256';
const MIN_KEY_BYTES = 32;
const DEFAULT_ISSUER = 'timbre';
const DEFAULT_AUDIENCE = 'timbre';
const WILDCARD = '*';

// ---------------------------------------------------------------------------------------------
// Claim validation / RUT canonicalisation
// ---------------------------------------------------------------------------------------------

function computeDv(body: string): string {
  let sum = 0;
  let factor = 2;
  for (let i = body.length - 1; i >= 0; i--) {
    sum += (body.charCodeAt(i) - 48) * factor;
    factor = factor === 7 ? 2 : factor + 1;
  }
  const r = 11 - (sum % 11);
  return r === 11 ? '0' : r === 10 ? 'K' : String(r);
}

/**
 * Canonical RUT (`76086428-5`, uppercase K, no dots, no leading zeros) or undefined when malformed
 * or the check digit is wrong. Same rules as `Rut.parse` in @timbre/dte (kept local so this package
 * has no dependency on the domain core).
 */
function canonicalRut(input: string): string | undefined {
  const cleaned = input.trim().replace(/[.\s]/g, '').toUpperCase();
  const dash = cleaned.lastIndexOf('-');
  let body = dash >= 0 ? cleaned.slice(0, dash) : cleaned.slice(0, -1);
  const dv = dash >= 0 ? cleaned.slice(dash + 1) : cleaned.slice(-1);
  body = body.replace(/^0+(?=\d)/, '');
  if (!/^[0-9]{1,8}$/.test(body) || !/^[0-9K]$/.test(dv) || computeDv(body) !== dv) return undefined;
  return `${body}-${dv}`;
}

function canonicalCompany(c: unknown): string | undefined {
  if (typeof c !== 'string') return undefined;
  return c === WILDCARD ? WILDCARD : canonicalRut(c);
}

function isPermission(p: unknown): p is Permission {
  return typeof p === 'string' && (PERMISSIONS as readonly string[]).includes(p);
}

/** Validates and canonicalises claim shapes; returns a description of the first problem or the clean claims. */
function checkClaims(raw: {
  sub: unknown;
  companies: unknown;
  permissions: unknown;
  dteTypes: unknown;
}): TokenClaims | string {
  if (typeof raw.sub !== 'string' || raw.sub.trim() === '') return 'sub must be a non-empty string';
  if (!Array.isArray(raw.companies)) return 'companies must be an array';
  const companies: string[] = [];
  for (const c of raw.companies) {
    const canon = canonicalCompany(c);
    if (canon === undefined) return `companies contains an invalid RUT: ${JSON.stringify(c)}`;
    if (!companies.includes(canon)) companies.push(canon);
  }
  if (!Array.isArray(raw.permissions)) return 'permissions must be an array';
  const permissions: Permission[] = [];
  for (const p of raw.permissions) {
    if (!isPermission(p)) return `permissions contains an unknown permission: ${JSON.stringify(p)}`;
    if (!permissions.includes(p)) permissions.push(p);
  }
  const claims: TokenClaims = { sub: raw.sub, companies, permissions };
  if (raw.dteTypes !== undefined) {
    if (!Array.isArray(raw.dteTypes) || !raw.dteTypes.every((t) => Number.isSafeInteger(t) && (t as number) > 0)) {
      return 'dte_types must be an array of positive integers';
    }
    claims.dteTypes = [...new Set(raw.dteTypes as number[])];
  }
  return claims;
}

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.byteLength < MIN_KEY_BYTES) {
    // A configuration error, not an authentication failure: deliberately not an AuthError.
    throw new TypeError(`JWT key must be a Uint8Array of at least ${MIN_KEY_BYTES} bytes`);
  }
}

// ---------------------------------------------------------------------------------------------
// JWT
// ---------------------------------------------------------------------------------------------

/**
 * Signs an HS256 JWT. Wire claims: `sub`, `companies`, `permissions`, optional `dte_types`
 * (snake_case per the API contract), plus `iat`, `exp`, `iss`, `aud`.
 * Throws TypeError for a short key or invalid claims (unknown permission, bad RUT, …).
 */
export async function signToken(
  claims: TokenClaims,
  key: Uint8Array,
  opts: { expiresIn?: string; issuer?: string; audience?: string } = {},
): Promise<string> {
  assertKey(key);
  const checked = checkClaims({
    sub: claims.sub,
    companies: claims.companies,
    permissions: claims.permissions,
    dteTypes: claims.dteTypes,
  });
  if (typeof checked === 'string') throw new TypeError(`Invalid token claims: ${checked}`);
  const payload: Record<string, unknown> = { companies: checked.companies, permissions: checked.permissions };
  if (checked.dteTypes !== undefined) payload['dte_types'] = checked.dteTypes;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: ALG, typ: 'JWT' })
    .setSubject(checked.sub)
    .setIssuedAt()
    .setIssuer(opts.issuer ?? DEFAULT_ISSUER)
    .setAudience(opts.audience ?? DEFAULT_AUDIENCE)
    .setExpirationTime(opts.expiresIn ?? '12h')
    .sign(key);
}

/**
 * Verifies signature (HS256 only — `none` and every other alg are refused), `exp` (required),
 * `nbf`, `iss` and `aud`, then the claim shapes. Failures → AuthError 401 ERR_AUTH_EXPIRED
 * (expired) or ERR_AUTH_INVALID (anything else). A short key throws TypeError (misconfiguration).
 */
export async function verifyToken(
  token: string,
  key: Uint8Array,
  opts: { issuer?: string; audience?: string; clockToleranceSec?: number } = {},
): Promise<Principal> {
  assertKey(key);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [ALG],
      issuer: opts.issuer ?? DEFAULT_ISSUER,
      audience: opts.audience ?? DEFAULT_AUDIENCE,
      clockTolerance: opts.clockToleranceSec ?? 0,
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new AuthError('ERR_AUTH_EXPIRED', 'Token has expired', { cause: err });
    throw new AuthError('ERR_AUTH_INVALID', 'Invalid token', { cause: err });
  }
  const checked = checkClaims({
    sub: payload['sub'],
    companies: payload['companies'],
    permissions: payload['permissions'],
    dteTypes: payload['dte_types'],
  });
  if (typeof checked === 'string') throw new AuthError('ERR_AUTH_INVALID', `Invalid token claims: ${checked}`);
  return { ...checked, kind: 'jwt' };
}

// ---------------------------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------------------------

/**
 * Throws AuthError 403 ERR_AUTH_FORBIDDEN unless the principal holds `need.permission` ('admin'
 * implies every permission), covers `need.company` (any RUT spelling; '*' in the principal matches
 * all; an unparseable RUT is refused) and allows `need.dteType` (absent dteTypes = all types).
 * Omitted `company` / `dteType` are not checked.
 */
export function authorize(p: Principal, need: { permission: Permission; company?: string; dteType?: number }): void {
  if (!p.permissions.includes(need.permission) && !p.permissions.includes('admin')) {
    throw new AuthError('ERR_AUTH_FORBIDDEN', `Missing permission ${need.permission}`);
  }
  if (need.company !== undefined && !p.companies.includes(WILDCARD)) {
    const rut = canonicalRut(need.company);
    if (rut === undefined || !p.companies.includes(rut)) {
      throw new AuthError('ERR_AUTH_FORBIDDEN', `Not authorized for company ${need.company}`);
    }
  }
  if (need.dteType !== undefined && p.dteTypes !== undefined && !p.dteTypes.includes(need.dteType)) {
    throw new AuthError('ERR_AUTH_FORBIDDEN', `Not authorized for DTE type ${need.dteType}`);
  }
}

// ---------------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------------

export interface ApiKeyRecord {
  id: string;
  /** hashApiKey(key): lowercase sha256 hex. Only the hash is stored, never the key. */
  hash: string;
  companies: string[];
  permissions: Permission[];
  dteTypes?: number[];
}

const API_KEY_PREFIX = 'tmb_';
const MAX_API_KEY_LENGTH = 256;

/** New key: `tmb_` + 32 random bytes base64url (43 chars). Show `key` once; persist only `hash`. */
export function createApiKey(): { key: string; hash: string } {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key) };
}

/**
 * sha256 hex of the key. A fast, unsalted hash is right here (unlike passwords): keys carry 256
 * bits of randomness, so brute-forcing or precomputing a leaked hash is infeasible regardless of
 * hash speed, and a slow KDF would only add latency to every request. Unsalted also lets a key be
 * looked up by its hash.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Principal (`kind: 'api-key'`, `sub` = record id) for the record whose hash matches, else
 * undefined. Hashes are compared with crypto.timingSafeEqual and every record is checked.
 * Throws TypeError if the matching record itself is malformed (bad RUT / unknown permission).
 */
export function verifyApiKey(key: string, records: readonly ApiKeyRecord[]): Principal | undefined {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_API_KEY_LENGTH) return undefined;
  const presented = Buffer.from(hashApiKey(key), 'hex');
  let match: ApiKeyRecord | undefined;
  for (const record of records) {
    const stored = /^[0-9a-f]{64}$/i.test(record.hash) ? Buffer.from(record.hash, 'hex') : undefined;
    if (stored !== undefined && timingSafeEqual(presented, stored) && match === undefined) match = record;
  }
  if (match === undefined) return undefined;
  const checked = checkClaims({
    sub: match.id,
    companies: match.companies,
    permissions: match.permissions,
    dteTypes: match.dteTypes,
  });
  if (typeof checked === 'string') throw new TypeError(`API key record ${match.id} is invalid: ${checked}`);
  return { ...checked, kind: 'api-key' };
}

// ---------------------------------------------------------------------------------------------
// Request authentication
// ---------------------------------------------------------------------------------------------

/**
 * Accepts `Authorization: Bearer <jwt>`, `Authorization: ApiKey <key>` or `X-Api-Key: <key>`
 * (schemes case-insensitive; Authorization wins when both headers are sent).
 * No credentials → 401 ERR_AUTH_MISSING; unknown scheme, unknown key or bad JWT → 401
 * ERR_AUTH_INVALID; expired JWT → 401 ERR_AUTH_EXPIRED.
 */
export async function authenticate(
  headers: { authorization?: string; 'x-api-key'?: string },
  cfg: { jwtKey: Uint8Array; apiKeys?: readonly ApiKeyRecord[]; issuer?: string; audience?: string },
): Promise<Principal> {
  const authorization = headers.authorization?.trim();
  const xApiKey = headers['x-api-key']?.trim();

  const byApiKey = (key: string): Principal => {
    const principal = verifyApiKey(key, cfg.apiKeys ?? []);
    if (principal === undefined) throw new AuthError('ERR_AUTH_INVALID', 'Invalid API key');
    return principal;
  };

  if (authorization) {
    const m = /^(\S+)\s+(\S+)$/.exec(authorization);
    if (m === null) throw new AuthError('ERR_AUTH_INVALID', 'Malformed Authorization header');
    const scheme = (m[1] ?? '').toLowerCase();
    const credential = m[2] ?? '';
    if (scheme === 'bearer') {
      const opts: { issuer?: string; audience?: string } = {};
      if (cfg.issuer !== undefined) opts.issuer = cfg.issuer;
      if (cfg.audience !== undefined) opts.audience = cfg.audience;
      return verifyToken(credential, cfg.jwtKey, opts);
    }
    if (scheme === 'apikey') return byApiKey(credential);
    throw new AuthError('ERR_AUTH_INVALID', 'Unsupported Authorization scheme');
  }
  if (xApiKey) return byApiKey(xApiKey);
  throw new AuthError('ERR_AUTH_MISSING', 'Missing credentials: send Authorization: Bearer <token> or X-Api-Key');
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/**
 * Decodes TIMBRE_JWT_SECRET. Tried in this order, first decoding that yields ≥ 32 bytes wins:
 * hex (only [0-9a-f], even length), base64 / base64url, then the raw UTF-8 bytes.
 * Throws Error when unset or shorter than 32 bytes under every interpretation (the message never
 * contains the secret). Generate one with `openssl rand -base64 32`.
 */
export function jwtKeyFrom(value: string | undefined): Uint8Array {
  const v = value?.trim() ?? '';
  if (v === '') throw new Error('TIMBRE_JWT_SECRET is not set');
  const candidates: Buffer[] = [];
  if (/^(?:[0-9a-fA-F]{2})+$/.test(v)) candidates.push(Buffer.from(v, 'hex'));
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(v) || /^[A-Za-z0-9_-]+$/.test(v)) {
    candidates.push(Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
  }
  candidates.push(Buffer.from(v, 'utf8'));
  const key = candidates.find((c) => c.byteLength >= MIN_KEY_BYTES);
  if (key === undefined) throw new Error(`TIMBRE_JWT_SECRET must decode to at least ${MIN_KEY_BYTES} bytes`);
  return new Uint8Array(key);
}
